package security_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
	"github.com/funoffshore/homelab/synth/synthtest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A CIDR peer is a network written one way (core.ParsePrefix): one with
// host bits set would be copied as written into the NetworkPolicy, which
// reads it as another range than it says.
func TestCIDRPeerForms(t *testing.T) {
	cases := []struct{ cidr, want string }{
		{"192.168.1.0/24", ""},
		{"192.168.1.7/24", `apps/lan: egress peer CIDR 192.168.1.7/24: CIDR "192.168.1.7/24" has host bits set; write the network as 192.168.1.0/24`},
		{"192.168.010.0/24", `apps/lan: egress peer CIDR 192.168.010.0/24: CIDR "192.168.010.0/24" has a group with a leading zero, which C resolvers read as octal (192.168.8.0); write it as 192.168.10.0/24`},
		{"ns:Monitoring", `apps/lan: egress peer namespace Monitoring: namespace "Monitoring" is not a namespace name`},
		{"::ffff:192.168.1.0/120", `apps/lan: egress peer CIDR ::ffff:192.168.1.0/120: CIDR "::ffff:192.168.1.0/120" is an IPv4-mapped IPv6 address; write it as 192.168.1.0/24`},
	}
	for _, tc := range cases {
		t.Run(tc.cidr, func(t *testing.T) {
			app := core.NewApp(nil)
			c := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "apps"})
			kube.NewNamespace(c, "ns", &kube.NamespaceProps{Name: "apps", PodSecurity: "restricted"})
			peer := security.CIDR(tc.cidr)
			if ns, ok := strings.CutPrefix(tc.cidr, "ns:"); ok {
				peer = security.Namespace(ns)
			}
			security.NewIsolation(c, "lan", &security.IsolationProps{Namespace: "apps", Egress: []security.Peer{peer}})
			err := app.Tree().Validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// AllNamespacesExcept reaches every namespace but the ones named, as
// kube-network-policies' engine reads its selector; a bad name is refused.
func TestAllNamespacesExcept(t *testing.T) {
	app := core.NewApp(nil)
	c := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "platform"})
	kube.NewNamespace(c, "ns", &kube.NamespaceProps{Name: "edge", PodSecurity: "restricted"})
	security.NewIsolation(c, "edge", &security.IsolationProps{Namespace: "edge",
		Egress: []security.Peer{security.AllNamespacesExcept("longhorn-system", "flux-system")}})
	require.NoError(t, app.Tree().Validate())
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	policies := synthtest.NetworkPolicies(t, files)
	edge := synthtest.Pod{Namespace: "edge", Labels: map[string]string{"app": "edge"}}
	for ns, want := range map[string]bool{"apps": true, "monitoring": true, "longhorn-system": false, "flux-system": false} {
		got := policies.Allows(edge, synthtest.Pod{Namespace: ns, Labels: map[string]string{"app": "x"}}, 80, corev1.ProtocolTCP)
		assert.Equal(t, want, got, "edge -> %s", ns)
	}
	assert.Equal(t, "every namespace but flux-system, longhorn-system on TCP/80",
		security.AllNamespacesExcept("longhorn-system", "flux-system").On(security.TCP(80)).String())

	bad := core.NewApp(nil)
	bc := kube.NewChart(bad, "platform", &kube.ChartProps{Dir: "platform"})
	security.NewIsolation(bc, "edge", &security.IsolationProps{Namespace: "edge",
		Egress: []security.Peer{security.AllNamespacesExcept("Longhorn")}})
	err = bad.Tree().Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `platform/edge: egress peer every namespace but Longhorn: namespace "Longhorn" is not a namespace name`)
}

// A Prefix peer carries a network parsed where it was set: it renders as
// that network, and an invalid one (a value refused there) makes no rule
// and no second error.
func TestPrefixPeer(t *testing.T) {
	app := core.NewApp(nil)
	c := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "platform"})
	kube.NewNamespace(c, "ns", &kube.NamespaceProps{Name: "edge", PodSecurity: "restricted"})
	security.NewIsolation(c, "edge", &security.IsolationProps{Namespace: "edge", Egress: []security.Peer{
		security.Prefix(netip.MustParsePrefix("192.168.1.7/24")).On(security.TCP(6443)),
		security.Prefix(netip.Prefix{}).On(security.TCP(50000)),
	}})
	require.NoError(t, app.Tree().Validate())
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	policies := synthtest.NetworkPolicies(t, files)
	var egress []string
	for _, np := range policies {
		for _, r := range np.Spec.Egress {
			for _, to := range r.To {
				egress = append(egress, fmt.Sprintf("%s:%d", to.IPBlock.CIDR, r.Ports[0].Port.IntValue()))
			}
		}
	}
	assert.Equal(t, []string{"192.168.1.0/24:6443"}, egress)
	assert.Equal(t, "CIDR 192.168.1.0/24 on TCP/6443", security.Prefix(netip.MustParsePrefix("192.168.1.0/24")).On(security.TCP(6443)).String())
}

// Internet leaves the pod network out of 0.0.0.0/0: with it, a rule for
// the internet does not reach a pod on the same port, which a plain
// CIDR("0.0.0.0/0") does (kube-network-policies matches ipBlocks against
// pods' addresses too).
func TestInternetLeavesThePodsOut(t *testing.T) {
	allows := func(internet security.Peer) bool {
		app := core.NewApp(nil)
		c := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "platform"})
		kube.NewNamespace(c, "ns", &kube.NamespaceProps{Name: "edge", PodSecurity: "restricted"})
		security.NewIsolation(c, "edge", &security.IsolationProps{Namespace: "edge", Egress: []security.Peer{internet.On(security.TCP(443))}})
		require.NoError(t, app.Tree().Validate())
		files, err := synth.Render(app.Tree())
		require.NoError(t, err)
		return synthtest.NetworkPolicies(t, files).Allows(synthtest.Pod{Namespace: "edge", Labels: map[string]string{"app": "edge"}},
			synthtest.Pod{Namespace: "users", Labels: map[string]string{"app": "web"}}, 443, corev1.ProtocolTCP)
	}
	assert.True(t, allows(security.CIDR("0.0.0.0/0")), "a plain 0.0.0.0/0 reaches a pod (the engine's reading, which Internet exists for)")
	assert.False(t, allows(security.Internet(netip.MustParsePrefix("10.244.0.0/16"))), "Internet reaches no pod")
	assert.Equal(t, "CIDR 0.0.0.0/0 except 10.244.0.0/16 on TCP/443", security.Internet(netip.MustParsePrefix("10.244.0.0/16")).On(security.TCP(443)).String())
}
