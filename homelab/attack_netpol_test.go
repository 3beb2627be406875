package homelab_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/constants"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/oracle/netpol"
)

// TestCompromisedPodGetsNothing is the attacker test of docs/security.md's
// "compromised pod" line. The attacker runs code in a pod: the ingress
// controller, which parses every request from the internet (its
// admission webhook's remote code execution, CVE-2025-1974, is the
// precedent), Grafana, which renders dashboards and runs plugins, an
// app, or a system pod such as the cluster DNS. The first two may reach
// every namespace (they proxy to apps, scrape and query). The attacker
// tries what it would need to take storage or the cluster: each attempt
// is sent through kube-network-policies' engine over every
// NetworkPolicy the cluster runs (the tree's, the charts', Flux's), from
// every pod of the attacker's kind to every pod of the target's, and
// each must be dropped: on Funoffshore's nodes and on a single node,
// where attacker and target share it.
func TestCompromisedPodGetsNothing(t *testing.T) {
	for name, props := range map[string]*homelab.Props{"funoffshore": nil, "single node": singleNode()} {
		t.Run(name, func(t *testing.T) { attackFromPods(t, props) })
	}
}

func attackFromPods(t *testing.T, props *homelab.Props) {
	h, c, _ := renderCluster(t, props)
	oc, byNS := oracleCluster(t, h, c)
	// A pod of a namespace the tree does not isolate (a user's own
	// manifests), serving HTTPS: an egress rule meant for the internet
	// must not reach it.
	last := oc.Nodes[len(oc.Nodes)-1]
	ip := last.PodSubnet.Addr().As4()
	ip[3] = 200
	users := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "users", Name: "web", Labels: map[string]string{"app": "web"}},
		Spec:   corev1.PodSpec{NodeName: last.Name, Containers: []corev1.Container{{Name: "web", Ports: []corev1.ContainerPort{{ContainerPort: 443}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: netip.AddrFrom4(ip).String(), PodIPs: []corev1.PodIP{{IP: netip.AddrFrom4(ip).String()}}}}
	oc.Pods = append(oc.Pods, users)
	oc.Namespaces = append(oc.Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "users", Labels: map[string]string{"kubernetes.io/metadata.name": "users"}}})
	byNS["users"] = append(byNS["users"], users)
	e, err := netpol.New(oc)
	require.NoError(t, err)
	pods := func(ns string, labels map[string]string) []netpol.Endpoint {
		var out []netpol.Endpoint
		for _, p := range byNS[ns] {
			if !p.Spec.HostNetwork && labelsMatch(labels, p.Labels) {
				out = append(out, netpol.PodEndpoint(p))
			}
		}
		require.NotEmpty(t, out, "no pod %v in %s", labels, ns)
		return out
	}
	lh := h.Longhorn.Namespace
	app := pods("apps", map[string]string{"app.kubernetes.io/name": "homepage"})
	nginx := pods(h.Nginx.Namespace, map[string]string{"app.kubernetes.io/component": "controller"})
	grafana := pods(h.Monitoring.Namespace, map[string]string{"app.kubernetes.io/name": "grafana"})
	dns := pods("kube-system", map[string]string{"k8s-app": "kube-dns"})
	ui := pods(lh, map[string]string{"app": "longhorn-ui"})
	shareManager := pods(lh, map[string]string{"longhorn.io/component": "share-manager"})
	attackers := slices.Concat(app, nginx, grafana)
	var controlPlanes []netpol.Endpoint
	for _, n := range h.Cluster.ControlPlanes() {
		controlPlanes = append(controlPlanes, netpol.HostEndpoint(n.Hostname, constants.ApidUserID))
	}
	internet := []netpol.Endpoint{netpol.External(netip.MustParseAddr("198.51.100.7"))}
	for _, a := range []struct {
		attempt  string
		from, to []netpol.Endpoint
		port     int32
		proto    corev1.Protocol
	}{
		// From the ingress controller, Grafana or an app: Longhorn's UI
		// is its API without authentication (delete any volume); a share
		// manager serves a ReadWriteMany volume's files over NFS to
		// whoever connects, and takes orders on its control port; a
		// support bundle holds the cluster's logs and objects; the
		// instance managers run the replicas.
		{"drive Longhorn through its UI", attackers, ui, 8000, corev1.ProtocolTCP},
		{"mount a ReadWriteMany volume's NFS export", attackers, shareManager, storage.NFSPort, corev1.ProtocolTCP},
		{"drive a share manager", attackers, shareManager, storage.ShareManagerPort, corev1.ProtocolTCP},
		{"download a support bundle", attackers, pods(lh, map[string]string{"app": "support-bundle-manager"}), storage.SupportBundlePort, corev1.ProtocolTCP},
		{"drive an instance manager", attackers, pods(lh, map[string]string{"longhorn.io/component": "instance-manager"}), storage.InstanceManagerPort, corev1.ProtocolTCP},
		{"call Longhorn's API", attackers, pods(lh, map[string]string{"app": "longhorn-manager"}), storage.ManagerAPIPort, corev1.ProtocolTCP},
		{"fetch Flux's artifacts (the repository's tree)", attackers, pods("flux-system", map[string]string{"app": "source-controller"}), 9090, corev1.ProtocolTCP},
		{"read the cluster DNS' metrics", slices.Concat(app, nginx), dns, 9153, corev1.ProtocolTCP},
		{"reach the ingress controller's admission webhook (CVE-2025-1974)", slices.Concat(app, grafana), nginx, h.Nginx.WebhookPort, corev1.ProtocolTCP},
		{"reach a pod of a namespace the tree does not isolate, through the internet rule", slices.Concat(app, pods(h.Tunnel.Namespace, nil)), pods("users", nil), 443, corev1.ProtocolTCP},
		{"post forged events to Flux's notification controller", attackers, pods("flux-system", map[string]string{"app": "notification-controller"}), 9090, corev1.ProtocolTCP},
		// The logs hold what every pod printed (tokens in a stack trace,
		// say): only Grafana queries Loki, only the collectors push to
		// it; the collector's host port takes the nodes' own logs, not a
		// pod's forgeries of them; its HTTP server (the pipelines' UI and
		// debugging) is Prometheus' alone.
		{"read every pod's logs from Loki", slices.Concat(app, nginx), pods(h.Loki.Namespace, nil), h.Loki.Port, corev1.ProtocolTCP},
		{"read the traces from Tempo", slices.Concat(app, nginx), pods(h.Tempo.Namespace, nil), h.Tempo.HTTPPort, corev1.ProtocolTCP},
		{"push forged traces straight into Tempo", attackers, pods(h.Tempo.Namespace, nil), h.Tempo.OTLPPort, corev1.ProtocolTCP},
		{"forge a node's Talos logs on the collector's host port", attackers, pods(h.Collector.Namespace, nil), int32(h.Collector.NodeLogPort), corev1.ProtocolTCP},
		{"drive the collector's HTTP server", attackers, pods(h.Collector.Namespace, nil), h.Collector.HTTPPort, corev1.ProtocolTCP},
		// From the cluster DNS, which answers every pod: it reaches the
		// API server and its upstream, not the Talos API (whose
		// os:etcd:backup role the snapshot job holds), the apps or the
		// internet.
		{"the cluster DNS calls the Talos API", dns, controlPlanes, constants.ApidPort, corev1.ProtocolTCP},
		{"the cluster DNS reaches an app", dns, app, 3000, corev1.ProtocolTCP},
		{"the cluster DNS sends data out", dns, internet, 443, corev1.ProtocolTCP},
		// From Longhorn's UI, which takes no connections now but runs a
		// web server: no way out of the cluster.
		{"Longhorn's UI sends data out", ui, internet, 443, corev1.ProtocolTCP},
		{"Longhorn's UI calls the Talos API", ui, controlPlanes, constants.ApidPort, corev1.ProtocolTCP},
	} {
		for _, from := range a.from {
			for _, to := range a.to {
				conn := netpol.Conn{From: from, To: to, Port: a.port, Protocol: a.proto}
				r, err := e.Connect(conn)
				require.NoError(t, err)
				if r.Allowed {
					t.Errorf("%s: %s passes", a.attempt, conn)
				}
			}
		}
	}
}
