package core

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// dottedQuad matches what reads as an IPv4 address: four groups of
// digits; digitsAndDots what reads as a (malformed) one.
var (
	dottedQuad    = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`)
	digitsAndDots = regexp.MustCompile(`^[0-9.]+$`)
)

// AddrProblem is why a value is not an address, network or name written
// the one way every consumer reads alike, and the fix (its canonical
// form where there is one).
type AddrProblem struct {
	Problem, Fix string

	// canonical is the address the value meant, where one is certain
	// (leading zeros dropped, IPv4-mapped unmapped, zone removed), and
	// mapped whether it was IPv4-mapped.
	canonical netip.Addr
	mapped    bool
}

func newProblem(problem, fix string) *AddrProblem { return &AddrProblem{Problem: problem, Fix: fix} }

// At returns the problem as a validation error of the construct at path.
func (p *AddrProblem) At(path string) error { return Errorf(path, p.Fix, "%s", p.Problem) }

// ParseAddr parses s as an IP address in its unambiguous form, or says
// why it is not one: IPv4 with a leading zero in a group (192.168.001.020,
// which C resolvers read as octal, 192.168.1.16) is refused with the
// decimal form as the fix, an IPv4-mapped IPv6 address (::ffff:10.0.0.1)
// with the IPv4 form, an IPv6 zone with the address without it. what
// names the value in the message ("IP", "VIP", "NFS server").
func ParseAddr(s, what string) (netip.Addr, *AddrProblem) {
	a, err := netip.ParseAddr(s)
	switch {
	case err == nil && a.Is4In6():
		return netip.Addr{}, &AddrProblem{Problem: fmt.Sprintf("%s %q is an IPv4-mapped IPv6 address", what, s), Fix: fmt.Sprintf("write it as %s", a.Unmap()),
			canonical: a.Unmap(), mapped: true}
	case err == nil && a.Zone() != "":
		return netip.Addr{}, &AddrProblem{Problem: fmt.Sprintf("%s %q has an IPv6 zone", what, s), Fix: fmt.Sprintf("write it without the zone: %s", a.WithZone("")),
			canonical: a.WithZone("")}
	case err == nil:
		return a, nil
	case dottedQuad.MatchString(s):
		return netip.Addr{}, dottedProblem(s, what)
	}
	return netip.Addr{}, newProblem(fmt.Sprintf("%s %q is not an IP address", what, s), `write an IPv4 address such as "192.168.1.20"`)
}

// dottedProblem explains a dotted quad that netip refuses: a group above
// 255, or leading zeros (with what octal-reading resolvers make of it).
func dottedProblem(s, what string) *AddrProblem {
	var dec, oct []string
	octalReads := true
	for _, g := range strings.Split(s, ".") {
		n, err := strconv.Atoi(g)
		if err != nil || n > 255 {
			return newProblem(fmt.Sprintf("%s %q is not an IPv4 address: %s is above 255", what, s, g), `write an IPv4 address such as "192.168.1.20"`)
		}
		dec = append(dec, strconv.Itoa(n))
		o, err := strconv.ParseUint(g, 8, 8)
		switch {
		case len(g) > 1 && g[0] == '0' && err == nil:
			oct = append(oct, strconv.FormatUint(o, 10))
		case len(g) > 1 && g[0] == '0':
			octalReads = false // 08 and 09 are no octal numbers either
		default:
			oct = append(oct, strconv.Itoa(n))
		}
	}
	reads := ""
	if octalReads && strings.Join(oct, ".") != strings.Join(dec, ".") {
		reads = " (" + strings.Join(oct, ".") + ")"
	}
	canonical, _ := netip.ParseAddr(strings.Join(dec, "."))
	return &AddrProblem{Problem: fmt.Sprintf("%s %q has a group with a leading zero, which C resolvers read as octal%s", what, s, reads),
		Fix: fmt.Sprintf("write it as %s (decimal, no leading zeros)", canonical), canonical: canonical}
}

// ParsePrefix parses s as a network in CIDR form written one way: its
// address as ParseAddr wants it and no host bits set. A prefix with host
// bits (10.0.0.5/24) would be copied as written into NetworkPolicies and
// machine configs, which read it as another range; the fix is the
// network (10.0.0.0/24).
func ParsePrefix(s, what string) (netip.Prefix, *AddrProblem) {
	addr, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, newProblem(fmt.Sprintf("%s %q is not a CIDR", what, s), `write a network such as "192.168.1.0/24"`)
	}
	if _, problem := ParseAddr(addr, what); problem != nil {
		problem.Problem = strings.Replace(problem.Problem, strconv.Quote(addr), strconv.Quote(s), 1)
		problem.Fix = `write a network such as "192.168.1.0/24"`
		// The fix is the network the value meant, in one step: its
		// address canonical, the bits of an IPv4-mapped prefix
		// converted, and host bits cleared.
		n, err := strconv.Atoi(bits)
		if problem.mapped {
			n -= 96
		}
		if p := netip.PrefixFrom(problem.canonical, n); err == nil && p.IsValid() {
			problem.Fix = fmt.Sprintf("write it as %s", p.Masked())
			if !problem.mapped && problem.canonical.Is4() { // leading zeros
				problem.Fix += " (decimal, no leading zeros)"
			}
		}
		return netip.Prefix{}, problem
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, newProblem(fmt.Sprintf("%s %q is not a CIDR", what, s), `write a network such as "192.168.1.0/24"`)
	}
	if p != p.Masked() {
		return netip.Prefix{}, newProblem(fmt.Sprintf("%s %q has host bits set", what, s), fmt.Sprintf("write the network as %s", p.Masked()))
	}
	return p, nil
}

// ParseHost parses s as an IP address or a DNS name (addr is invalid for
// a name), or says why it is neither: the address rules of ParseAddr, a
// name of digits and dots refused as the malformed address it is, and
// the name checked as apimachinery's IsDNS1123Subdomain checks it
// (lowercase ASCII letters, digits, '-' and '.', at most 253 characters)
// with each label at most 63 characters (RFC 1035). Non-ASCII names are
// refused, with their punycode (xn--) form as the fix.
func ParseHost(s, what string) (netip.Addr, *AddrProblem) {
	a, problem := ParseAddr(s, what)
	if problem == nil {
		return a, nil
	}
	if _, err := netip.ParseAddr(s); err == nil || dottedQuad.MatchString(s) {
		return netip.Addr{}, problem // an address, written ambiguously
	}
	neither := newProblem(fmt.Sprintf("%s %q is neither an IP address nor a DNS name", what, s), `write an IPv4 address such as "192.168.1.20" or a DNS name such as "nas.lan"`)
	if digitsAndDots.MatchString(s) {
		return netip.Addr{}, neither
	}
	for _, r := range s {
		if r > 0x7f {
			return netip.Addr{}, newProblem(fmt.Sprintf("%s %q is not ASCII", what, s), "write the name in its punycode (xn--) form")
		}
	}
	if len(validation.IsDNS1123Subdomain(s)) > 0 {
		return netip.Addr{}, neither
	}
	for _, l := range strings.Split(s, ".") {
		if len(l) > 63 {
			return netip.Addr{}, newProblem(fmt.Sprintf("%s %q has a label of %d characters; DNS allows 63", what, s, len(l)), "shorten that label")
		}
	}
	return netip.Addr{}, nil
}
