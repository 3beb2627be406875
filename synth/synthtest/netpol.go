package synthtest

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/funoffshore/homelab/pkg/oracle/netpol"
	"github.com/funoffshore/homelab/synth"
)

// Pod is one end of a connection between pods: its namespace and labels.
type Pod struct {
	Namespace string
	Labels    map[string]string
}

// Policies are the NetworkPolicies of a synthesized tree, evaluated by
// kube-network-policies' own engine (see Allows).
type Policies []networkingv1.NetworkPolicy

// NetworkPolicies decodes every NetworkPolicy in files.
func NetworkPolicies(t testing.TB, files synth.Files) Policies {
	t.Helper()
	var out Policies
	for _, p := range files.Paths() {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(files[p]), 4096)
		for {
			var np networkingv1.NetworkPolicy
			err := dec.Decode(&np)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if np.Kind == "NetworkPolicy" {
				out = append(out, np)
			}
		}
	}
	return out
}

// Allows reports whether from may connect to port/proto of to, and get
// its reply, as kube-network-policies (the engine Talos runs for
// flannel) decides: the two pods on two nodes, judged by the engine of
// each (pkg/oracle/netpol).
func (ps Policies) Allows(from, to Pod, port int32, proto corev1.Protocol) bool {
	nodes := []netpol.Node{
		{Name: "a", IP: netip.MustParseAddr("192.0.2.1"), PodSubnet: netip.MustParsePrefix("10.244.0.0/24")},
		{Name: "b", IP: netip.MustParseAddr("192.0.2.2"), PodSubnet: netip.MustParsePrefix("10.244.1.0/24")},
	}
	pod := func(p Pod, name, node, ip string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: name, Labels: p.Labels},
			Spec:   corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
	}
	c := netpol.Cluster{ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"), Nodes: nodes,
		Pods: []*corev1.Pod{pod(from, "from", "a", "10.244.0.2"), pod(to, "to", "b", "10.244.1.2")}}
	seen := map[string]bool{}
	for _, ns := range append([]string{from.Namespace, to.Namespace}, namespacesOf(ps)...) {
		if !seen[ns] {
			seen[ns] = true
			c.Namespaces = append(c.Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"kubernetes.io/metadata.name": ns}}})
		}
	}
	for i := range ps {
		c.Policies = append(c.Policies, &ps[i])
	}
	e, err := netpol.New(c)
	if err != nil {
		panic(err)
	}
	r, err := e.Connect(netpol.Conn{From: netpol.PodEndpoint(c.Pods[0]), To: netpol.PodEndpoint(c.Pods[1]), Port: port, Protocol: proto})
	if err != nil {
		panic(err)
	}
	return r.Allowed
}

func namespacesOf(ps Policies) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Namespace)
	}
	return out
}
