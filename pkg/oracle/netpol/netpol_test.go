package netpol_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/constants"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/funoffshore/homelab/pkg/oracle/netpol"
)

// TestEngineIsTheOneTalosRuns: the module this package runs, as go.mod
// requires it, is the kube-network-policies release the pinned Talos
// machinery enables.
func TestEngineIsTheOneTalosRuns(t *testing.T) {
	require.Equal(t, constants.KubeNetworkPoliciesVersion, netpol.EngineVersion)
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "go.mod"))
	require.NoError(t, err)
	mod, err := modfile.ParseLax("go.mod", data, nil)
	require.NoError(t, err)
	for _, r := range mod.Require {
		if r.Mod.Path == "sigs.k8s.io/kube-network-policies" {
			require.Equal(t, constants.KubeNetworkPoliciesVersion, r.Mod.Version, "go.mod requires another kube-network-policies than Talos runs")
			return
		}
	}
	t.Fatal("go.mod does not require sigs.k8s.io/kube-network-policies")
}

func ns(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/metadata.name": name}}}
}

func pod(namespace, name, node, ip string, hostNetwork bool, ports ...int32) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app": name}},
		Spec:   corev1.PodSpec{NodeName: node, HostNetwork: hostNetwork, Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
	for _, port := range ports {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: port, Protocol: corev1.ProtocolTCP})
	}
	return p
}

func tcp(port int) []networkingv1.NetworkPolicyPort {
	p, proto := intstr.FromInt(port), corev1.ProtocolTCP
	return []networkingv1.NetworkPolicyPort{{Port: &p, Protocol: &proto}}
}

// cluster: one control plane, one worker; monitoring with a
// namespace-wide ingress policy and node-exporter on the host network
// of each node; a webhook pod on the worker admitting the node subnet.
func cluster(selectNodeExporter bool) netpol.Cluster {
	cp := netpol.Node{Name: "cp", IP: netip.MustParseAddr("192.168.1.10"), PodSubnet: netip.MustParsePrefix("10.244.0.0/24")}
	w := netpol.Node{Name: "w", IP: netip.MustParseAddr("192.168.1.11"), PodSubnet: netip.MustParsePrefix("10.244.1.0/24")}
	sel := metav1.LabelSelector{}
	if !selectNodeExporter {
		sel = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"node-exporter"}}}}
	}
	return netpol.Cluster{
		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
		Nodes:       []netpol.Node{cp, w},
		Namespaces:  []*corev1.Namespace{ns("monitoring"), ns("apps")},
		Pods: []*corev1.Pod{
			pod("monitoring", "node-exporter", "cp", "192.168.1.10", true, 9100),
			pod("monitoring", "node-exporter-w", "w", "192.168.1.11", true, 9100),
			pod("monitoring", "operator", "w", "10.244.1.5", false, 10250),
			pod("monitoring", "operator-cp", "cp", "10.244.0.5", false, 10250),
			pod("apps", "web", "w", "10.244.1.6", false, 80),
		},
		Policies: []*networkingv1.NetworkPolicy{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "allow"},
			Spec: networkingv1.NetworkPolicySpec{PodSelector: sel, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "192.168.1.0/24"}}}, Ports: tcp(10250)}}},
		}},
	}
}

// TestDatapath runs connections through the engine and the encoded
// datapath: what Talos' kube-network-policies enrolls, and where the
// API server's calls to a webhook arrive from.
func TestDatapath(t *testing.T) {
	for _, selectNE := range []bool{true, false} {
		c := cluster(selectNE)
		e, err := netpol.New(c)
		require.NoError(t, err)
		byName := map[string]*corev1.Pod{}
		for _, p := range c.Pods {
			byName[p.Name] = p
		}
		// v1.1.0 enrolls a selected host-network pod's IP: the node's.
		require.Equal(t, selectNE, e.Managed("cp", netip.MustParseAddr("192.168.1.10")), "select node-exporter=%v", selectNE)
		require.True(t, e.Managed("w", netip.MustParseAddr("10.244.1.5")))
		require.False(t, e.Managed("cp", netip.MustParseAddr("10.244.1.5")), "a pod is managed on its own node only")

		apiserver := netpol.HostEndpoint("cp", constants.KubernetesAPIServerRunUser)
		for _, tc := range []struct {
			conn    netpol.Conn
			allowed bool
			dropped string
		}{
			// A managed pod's call to the API server: the input hook
			// labels the connection, so the reply passes.
			{conn: netpol.Conn{From: netpol.PodEndpoint(byName["operator"]), To: apiserver, Port: 6443}, allowed: true},
			{conn: netpol.Conn{From: netpol.PodEndpoint(byName["operator-cp"]), To: apiserver, Port: 6443}, allowed: true},
			{conn: netpol.Conn{From: netpol.PodEndpoint(byName["web"]), To: apiserver, Port: 6443}, allowed: true},
			// The API server's webhook call to a pod on another node
			// arrives from the control plane's flannel.1 address, which the
			// node-subnet rule does not admit.
			{conn: netpol.Conn{From: apiserver, To: netpol.PodEndpoint(byName["operator"]), Port: 10250, ViaService: true},
				dropped: "request 10.244.0.0:40000 -> 10.244.1.5:10250 dropped at w postrouting"},
			// On its own node it is judged before source NAT, from the
			// node's address.
			{conn: netpol.Conn{From: apiserver, To: netpol.PodEndpoint(byName["operator-cp"]), Port: 10250, ViaService: true}, allowed: true},
			// Scrapes of a host-network pod on the same and another node.
			{conn: netpol.Conn{From: netpol.PodEndpoint(byName["operator"]), To: netpol.PodEndpoint(byName["node-exporter-w"]), Port: 9100}, allowed: true},
			{conn: netpol.Conn{From: netpol.PodEndpoint(byName["operator"]), To: netpol.PodEndpoint(byName["node-exporter"]), Port: 9100}, allowed: true},
			// A pod without policies, from a non-root host process.
			{conn: netpol.Conn{From: netpol.HostEndpoint("cp", 65534), To: netpol.PodEndpoint(byName["web"]), Port: 80}, allowed: true},
			// A port the policy does not admit, from another pod.
			{conn: netpol.Conn{From: netpol.PodEndpoint(byName["web"]), To: netpol.PodEndpoint(byName["operator"]), Port: 8080},
				dropped: "request 10.244.1.6:40000 -> 10.244.1.5:8080 dropped at w postrouting"},
		} {
			r, err := e.Connect(tc.conn)
			require.NoError(t, err)
			require.Equal(t, tc.allowed, r.Allowed, "%s (select node-exporter=%v): %s", tc.conn, selectNE, r.Dropped)
			if tc.dropped != "" {
				require.Contains(t, r.Dropped, tc.dropped)
			}
		}
	}
}
