package core_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/funoffshore/homelab/constructs/core"
)

// canonicalFix returns the value a fix tells the user to write, if it
// names one: "write it as X (...)", "write the network as X", "write it
// without the zone: X".
func canonicalFix(fix string) (string, bool) {
	for _, prefix := range []string{"write it as ", "write the network as ", "write it without the zone: "} {
		if rest, ok := strings.CutPrefix(fix, prefix); ok {
			value, _, _ := strings.Cut(rest, " ")
			return value, true
		}
	}
	return "", false
}

// FuzzAddressForms fuzzes the one grammar every address, network and host
// name of the props goes through (no tree, no node: millions of inputs a
// minute). Properties: nothing panics; a refusal quotes the value and has
// a fix; a fix that names the value to write names one the same parser
// accepts, so following it ends the conversation in one step; an accepted
// value is what netip reads, written back the same way, and a name obeys
// DNS' limits.
func FuzzAddressForms(f *testing.F) {
	for _, s := range []string{
		"192.168.1.20", "192.168.001.020", "010.0.0.1", "10.0.0.08", "256.1.1.1", "::ffff:10.0.0.1", "fe80::1%eth0",
		"192.168.1.0/24", "192.168.1.7/24", "192.168.001.007/24", "::ffff:10.96.0.0/108", "::ffff:10.0.0.1/100", "10.0.0.0/33",
		"nas.lan", "NAS.lan", "1.2.3", "1.2.3.4.5", "bücher.example", strings.Repeat("a", 64) + ".lan", "-bad.lan", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		type parser struct {
			name  string
			parse func(string) (string, *core.AddrProblem)
		}
		parsers := []parser{
			{"ParseAddr", func(s string) (string, *core.AddrProblem) {
				a, p := core.ParseAddr(s, "IP")
				if p == nil {
					if b, err := netip.ParseAddr(s); err != nil || a != b {
						t.Fatalf("ParseAddr(%q) = %v, netip reads %v, %v", s, a, b, err)
					}
				}
				return a.String(), p
			}},
			{"ParsePrefix", func(s string) (string, *core.AddrProblem) {
				pf, p := core.ParsePrefix(s, "CIDR")
				if p == nil {
					if pf != pf.Masked() || pf.Addr().Is4In6() {
						t.Fatalf("ParsePrefix(%q) accepted %v, with host bits or IPv4-mapped", s, pf)
					}
				}
				return pf.String(), p
			}},
			{"ParseHost", func(s string) (string, *core.AddrProblem) {
				a, p := core.ParseHost(s, "host")
				if p == nil && !a.IsValid() {
					if len(s) > 253 || !utf8.ValidString(s) {
						t.Fatalf("ParseHost accepted the name %q (%d bytes)", s, len(s))
					}
					for _, l := range strings.Split(s, ".") {
						if len(l) == 0 || len(l) > 63 {
							t.Fatalf("ParseHost accepted %q with a label of %d characters", s, len(l))
						}
					}
					return s, nil
				}
				return a.String(), p
			}},
		}
		for _, ps := range parsers {
			canonical, problem := ps.parse(s)
			if problem == nil {
				// Written back, an accepted value reads the same.
				if again, p := ps.parse(canonical); p != nil || again != canonical {
					t.Fatalf("%s(%q) accepted as %q, which it then reads as %q, %v", ps.name, s, canonical, again, p)
				}
				continue
			}
			if problem.Fix == "" || !strings.Contains(problem.Problem, strconv.Quote(s)) {
				t.Fatalf("%s(%q): problem %q does not quote the value, or no fix (%q)", ps.name, s, problem.Problem, problem.Fix)
			}
			if value, ok := canonicalFix(problem.Fix); ok {
				if _, p := ps.parse(value); p != nil {
					t.Fatalf("%s(%q): the fix %q names %q, which is refused in turn: %s; %s", ps.name, s, problem.Fix, value, p.Problem, p.Fix)
				}
			}
		}
	})
}
