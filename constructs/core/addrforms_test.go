package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/funoffshore/homelab/constructs/core"
)

// The address grammar every construct parses its addresses, networks and
// host names with: one unambiguous form, the canonical one as the fix.
func TestAddressForms(t *testing.T) {
	cases := []struct {
		kind, in string
		want     string // "" when accepted; else "problem; fix"
	}{
		{"addr", "192.168.1.20", ""},
		{"addr", "192.168.001.020", `IP "192.168.001.020" has a group with a leading zero, which C resolvers read as octal (192.168.1.16); write it as 192.168.1.20 (decimal, no leading zeros)`},
		{"addr", "10.0.0.09", `IP "10.0.0.09" has a group with a leading zero, which C resolvers read as octal; write it as 10.0.0.9 (decimal, no leading zeros)`},
		{"addr", "192.168.1.300", `IP "192.168.1.300" is not an IPv4 address: 300 is above 255; write an IPv4 address such as "192.168.1.20"`},
		{"addr", "::ffff:192.168.1.20", `IP "::ffff:192.168.1.20" is an IPv4-mapped IPv6 address; write it as 192.168.1.20`},
		{"addr", "fe80::1%eth0", `IP "fe80::1%eth0" has an IPv6 zone; write it without the zone: fe80::1`},
		{"addr", "nas", `IP "nas" is not an IP address; write an IPv4 address such as "192.168.1.20"`},
		{"prefix", "192.168.1.0/24", ""},
		{"prefix", "192.168.1.5/24", `IP "192.168.1.5/24" has host bits set; write the network as 192.168.1.0/24`},
		{"prefix", "192.168.010.0/24", `IP "192.168.010.0/24" has a group with a leading zero, which C resolvers read as octal (192.168.8.0); write it as 192.168.10.0/24 (decimal, no leading zeros)`},
		{"prefix", "::ffff:10.0.0.0/104", `IP "::ffff:10.0.0.0/104" is an IPv4-mapped IPv6 address; write it as 10.0.0.0/8`},
		// The fix is the network in one step (found by FuzzAddressForms:
		// the fix used to keep the host bits, refused in turn).
		{"prefix", "192.168.001.007/24", `IP "192.168.001.007/24" has a group with a leading zero, which C resolvers read as octal; write it as 192.168.1.0/24 (decimal, no leading zeros)`},
		{"prefix", "::ffff:192.168.1.7/120", `IP "::ffff:192.168.1.7/120" is an IPv4-mapped IPv6 address; write it as 192.168.1.0/24`},
		{"prefix", "10.0.0.0", `IP "10.0.0.0" is not a CIDR; write a network such as "192.168.1.0/24"`},
		{"host", "nas.lan", ""},
		{"host", "192.168.1.20", ""},
		{"host", "192.168.001.020", `IP "192.168.001.020" has a group with a leading zero, which C resolvers read as octal (192.168.1.16); write it as 192.168.1.20 (decimal, no leading zeros)`},
		{"host", "192.168.1.300", `IP "192.168.1.300" is not an IPv4 address: 300 is above 255; write an IPv4 address such as "192.168.1.20"`},
		{"host", "192.168.1", `IP "192.168.1" is neither an IP address nor a DNS name; write an IPv4 address such as "192.168.1.20" or a DNS name such as "nas.lan"`},
		{"host", "nas_01", `IP "nas_01" is neither an IP address nor a DNS name; write an IPv4 address such as "192.168.1.20" or a DNS name such as "nas.lan"`},
		{"host", "bücher.lan", `IP "bücher.lan" is not ASCII; write the name in its punycode (xn--) form`},
		{"host", "xn--bcher-kva.lan", ""},
		{"host", "a234567890123456789012345678901234567890123456789012345678901234.lan", `IP "a234567890123456789012345678901234567890123456789012345678901234.lan" has a label of 64 characters; DNS allows 63; shorten that label`},
	}
	for _, c := range cases {
		t.Run(c.kind+" "+c.in, func(t *testing.T) {
			var p *core.AddrProblem
			switch c.kind {
			case "addr":
				_, p = core.ParseAddr(c.in, "IP")
			case "prefix":
				_, p = core.ParsePrefix(c.in, "IP")
			case "host":
				_, p = core.ParseHost(c.in, "IP")
			}
			got := ""
			if p != nil {
				got = p.Problem + "; " + p.Fix
			}
			assert.Equal(t, c.want, got)
		})
	}
}
