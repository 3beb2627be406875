package talos_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/talos"
)

// The cluster's addresses and networks in one written form each
// (core.ParseAddr, ParsePrefix): what C resolvers, NetworkPolicies and
// machine configs would read differently is refused with the canonical
// form as the fix.
func TestClusterAddressForms(t *testing.T) {
	cases := []struct {
		name  string
		props talos.ClusterProps
		ip    string
		want  string
	}{
		{"node IP with a leading zero", talos.ClusterProps{}, "10.0.0.010",
			`talos/n: IP "10.0.0.010" has a group with a leading zero, which C resolvers read as octal (10.0.0.8); write it as 10.0.0.10 (decimal, no leading zeros)`},
		{"node IP IPv4-mapped", talos.ClusterProps{}, "::ffff:10.0.0.10", `talos/n: IP "::ffff:10.0.0.10" is an IPv4-mapped IPv6 address; write it as 10.0.0.10`},
		{"VIP with a leading zero", talos.ClusterProps{VIP: "10.0.0.050"}, "10.0.0.10",
			`talos: VIP "10.0.0.050" has a group with a leading zero, which C resolvers read as octal (10.0.0.40); write it as 10.0.0.50 (decimal, no leading zeros)`},
		{"subnet with host bits", talos.ClusterProps{Subnet: "10.0.0.7/24"}, "10.0.0.10", `talos: subnet "10.0.0.7/24" has host bits set; write the network as 10.0.0.0/24`},
		{"pod CIDR with host bits", talos.ClusterProps{PodCIDR: "10.244.1.0/16"}, "10.0.0.10", `talos: pod CIDR "10.244.1.0/16" has host bits set; write the network as 10.244.0.0/16`},
		{"service CIDR IPv4-mapped", talos.ClusterProps{ServiceCIDR: "::ffff:10.96.0.0/108"}, "10.0.0.10", `talos: service CIDR "::ffff:10.96.0.0/108" is an IPv4-mapped IPv6 address; write it as 10.96.0.0/12`},
		{"the canonical forms", talos.ClusterProps{VIP: "10.0.0.50"}, "10.0.0.10", ""},
		// Talos gives CoreDNS the range's 10th address (machinery's
		// DNSServiceIPs): a /29 has 8.
		{"a service range without CoreDNS' address", talos.ClusterProps{ServiceCIDR: "10.96.0.0/29"}, "10.0.0.10",
			`talos: service CIDR 10.96.0.0/29 is too small: Talos gives CoreDNS the range's 10th address, which it does not have; use a service range of at least a /28`},
		{"the smallest service range with it", talos.ClusterProps{ServiceCIDR: "10.96.0.0/28"}, "10.0.0.10", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := core.NewApp(nil)
			p := tc.props
			p.Name = "lab"
			if p.Subnet == "" {
				p.Subnet = "10.0.0.0/24"
			}
			c := talos.NewCluster(app, "talos", &p)
			c.AddNode("n", &talos.NodeProps{IP: tc.ip, Role: talos.ControlPlane})
			err := app.Tree().Validate()
			if tc.want == "" {
				if err != nil {
					assert.NotContains(t, err.Error(), "leading zero")
					assert.NotContains(t, err.Error(), "host bits")
					assert.NotContains(t, err.Error(), "IPv4-mapped")
					assert.NotContains(t, err.Error(), "too small")
				}
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The cluster parses its addresses once, in NewCluster: the typed values
// are what the machine config, the endpoint and the composition's
// policies read; a value that does not parse leaves the zero value, and
// its one error names it.
func TestClusterAddressesParsedOnce(t *testing.T) {
	app := core.NewApp(nil)
	c := talos.NewCluster(app, "talos", &talos.ClusterProps{Name: "lab", Subnet: "10.0.0.0/24", VIP: "10.0.0.50"})
	c.AddNode("n", &talos.NodeProps{IP: "10.0.0.10", Role: talos.ControlPlane})
	assert.Equal(t, "10.0.0.0/24", c.Subnet().String())
	assert.Equal(t, "10.244.0.0/16", c.PodNetwork().String())
	assert.Equal(t, "10.0.0.50", c.VIP().String())
	assert.Equal(t, "https://10.0.0.50:6443", c.Endpoint())

	bad := core.NewApp(nil)
	b := talos.NewCluster(bad, "talos", &talos.ClusterProps{Name: "lab", Subnet: "10.0.0.0/33", VIP: "10.0.0.500"})
	b.AddNode("n", &talos.NodeProps{IP: "10.0.0.10", Role: talos.ControlPlane})
	assert.False(t, b.Subnet().IsValid())
	assert.False(t, b.VIP().IsValid())
	err := bad.Tree().Validate()
	require.Error(t, err)
	assert.Equal(t, 1, strings.Count(err.Error(), `VIP "10.0.0.500"`), "the VIP's error once: %v", err)
	assert.Equal(t, 1, strings.Count(err.Error(), `subnet "10.0.0.0/33"`), "the subnet's error once: %v", err)
}
