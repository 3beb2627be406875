package homelab_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/constants"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/oracle/netpol"
)

// controlPlaneTaint is the taint Talos puts on control planes unless
// cluster.allowSchedulingOnControlPlanes is set.
var controlPlaneTaint = corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}

// hostUIDs are the users of the host-network services on the nodes'
// ports (Talos machinery constants; the kubelet runs as root).
var hostUIDs = map[int32]int{
	6443:  constants.KubernetesAPIServerRunUser,
	10257: constants.KubernetesControllerManagerRunUser,
	10259: constants.KubernetesSchedulerRunUser,
	2381:  constants.EtcdUserID,
	10250: 0,
	// apid, the Talos API (every node; the Service talos.default points
	// at the control planes').
	constants.ApidPort: constants.ApidUserID,
}

// talosPod marks the oracle's pods of Talos' own host-network components.
const talosPod = "oracle.homelab.funoffshore.com/talos"

// oracleCluster places the pods the cluster runs on its nodes: a
// DaemonSet's pod on every node it tolerates, any other workload's on
// every node it may be scheduled to (so both same-node and cross-node
// paths are tried), and Talos' host-network pods (see below). Each node
// gets a /24 of the pod CIDR, as the controller manager allocates it.
func oracleCluster(t *testing.T, h *homelab.Homelab, c *cluster) (netpol.Cluster, map[string][]*corev1.Pod) {
	t.Helper()
	podCIDR := h.Cluster.PodNetwork()
	oc := netpol.Cluster{ClusterCIDR: podCIDR}
	schedulableCP := h.Cluster.SchedulesOnControlPlanes()
	var workers, all []string
	cp := map[string]bool{}
	for i, n := range h.Cluster.Nodes() {
		base := podCIDR.Addr().As4()
		base[2] = byte(i)
		oc.Nodes = append(oc.Nodes, netpol.Node{Name: n.Hostname, IP: n.IP, PodSubnet: netip.PrefixFrom(netip.AddrFrom4(base), 24)})
		all = append(all, n.Hostname)
		if n.Role == "controlplane" {
			cp[n.Hostname] = true
		} else {
			workers = append(workers, n.Hostname)
		}
	}
	next := map[string]netip.Addr{}
	for _, n := range oc.Nodes {
		next[n.Name] = n.PodSubnet.Addr().Next().Next()
	}
	byNS := map[string][]*corev1.Pod{}
	place := func(ns, name string, tmpl corev1.PodTemplateSpec, daemon bool) {
		tolerates := schedulableCP || slices.ContainsFunc(tmpl.Spec.Tolerations, func(tol corev1.Toleration) bool {
			return tol.ToleratesTaint(klog.Background(), &controlPlaneTaint, false)
		})
		nodes := workers
		if daemon || len(workers) == 0 {
			nodes = nil
			for _, n := range all {
				if !cp[n] || tolerates {
					nodes = append(nodes, n)
				}
			}
		} else if tolerates {
			nodes = all
		}
		for _, node := range nodes {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-" + node, Labels: tmpl.Labels}, Spec: *tmpl.Spec.DeepCopy()}
			p.Spec.NodeName = node
			ip := next[node]
			if p.Spec.HostNetwork {
				ip = oc.Nodes[slices.Index(all, node)].IP
			} else {
				next[node] = ip.Next()
			}
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip.String(), PodIPs: []corev1.PodIP{{IP: ip.String()}}}
			oc.Pods = append(oc.Pods, p)
			byNS[ns] = append(byNS[ns], p)
		}
	}
	namespaces := map[string]map[string]string{"kube-system": nil}
	for _, o := range c.objects {
		switch o.GetKind() {
		case "Namespace":
			namespaces[o.GetName()] = o.GetLabels()
		case "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob":
			tmpl, _ := podTemplate(t, o)
			place(o.GetNamespace(), strings.ToLower(o.GetKind())+"-"+o.GetName(), tmpl, o.GetKind() == "DaemonSet")
		case "Prometheus", "Alertmanager":
			// prometheus-operator makes these pods: the server and its
			// config reloader.
			web := int32(9090)
			if o.GetKind() == "Alertmanager" {
				web = 9093
			}
			place(o.GetNamespace(), strings.ToLower(o.GetKind()), corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": strings.ToLower(o.GetKind()),
					"app.kubernetes.io/managed-by": "prometheus-operator", "app.kubernetes.io/instance": o.GetName()}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: strings.ToLower(o.GetKind()), Ports: []corev1.ContainerPort{{Name: "http-web", ContainerPort: web, Protocol: corev1.ProtocolTCP}}},
					{Name: "config-reloader", Ports: []corev1.ContainerPort{{Name: "reloader-web", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}},
				}}}, false)
		}
	}
	// Talos' host-network pods, which no manifest of the tree shows
	// (talos.HostNetworkPods): the control plane's on the control
	// planes, the others on every node.
	for _, hp := range talos.HostNetworkPods() {
		for _, node := range all {
			if hp.Labels["tier"] == "control-plane" && !cp[node] {
				continue
			}
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: hp.Namespace, Name: hp.Name + "-" + node,
				Labels: hp.Labels, Annotations: map[string]string{talosPod: "true"}}}
			p.Spec.NodeName, p.Spec.HostNetwork = node, true
			ip := oc.Nodes[slices.Index(all, node)].IP.String()
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
			oc.Pods = append(oc.Pods, p)
			byNS[hp.Namespace] = append(byNS[hp.Namespace], p)
		}
	}
	for name, labels := range namespaces {
		l := map[string]string{"kubernetes.io/metadata.name": name}
		for k, v := range labels {
			l[k] = v
		}
		oc.Namespaces = append(oc.Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}})
	}
	for _, o := range c.objects {
		if o.GetKind() == "NetworkPolicy" {
			var np networkingv1.NetworkPolicy
			decodeInto(t, o, &np)
			oc.Policies = append(oc.Policies, &np)
		}
	}
	return oc, byNS
}

// connections turns a flow between namespaces and nodes into the
// connections between the placed pods and host services that it means.
func connections(t *testing.T, oc netpol.Cluster, byNS map[string][]*corev1.Pod, f flow) []netpol.Conn {
	t.Helper()
	nodeOf := func(ip netip.Addr) string {
		for _, n := range oc.Nodes {
			if n.IP == ip {
				return n.Name
			}
		}
		return ""
	}
	var from []netpol.Endpoint
	switch {
	case f.From.Namespace != "":
		for _, p := range byNS[f.From.Namespace] {
			if !p.Spec.HostNetwork && labelsMatch(f.From.Pods, p.Labels) {
				from = append(from, netpol.PodEndpoint(p))
			}
		}
	case nodeOf(f.From.IP) != "" && f.From.Root:
		from = append(from, netpol.HostEndpoint(nodeOf(f.From.IP), 0))
	case nodeOf(f.From.IP) != "" && f.From.Kernel:
		// A kernel socket: nftables' "meta skuid" matches no user for
		// it, so KNP's accept of root's packets does not apply.
		from = append(from, netpol.HostEndpoint(nodeOf(f.From.IP), -1))
	case nodeOf(f.From.IP) != "":
		// The API server on a control plane.
		from = append(from, netpol.HostEndpoint(nodeOf(f.From.IP), constants.KubernetesAPIServerRunUser))
	default:
		t.Fatalf("flow %s: connections from outside the cluster are not checked", f)
	}
	var to []netpol.Endpoint
	switch {
	case f.To.Namespace != "":
		for _, p := range byNS[f.To.Namespace] {
			if !labelsMatch(f.To.Pods, p.Labels) {
				continue
			}
			for _, ct := range p.Spec.Containers {
				if slices.ContainsFunc(ct.Ports, func(cp corev1.ContainerPort) bool {
					return cp.ContainerPort == f.Port && (cp.Protocol == f.Protocol || cp.Protocol == "" && f.Protocol == corev1.ProtocolTCP)
				}) {
					to = append(to, netpol.PodEndpoint(p))
					break
				}
			}
		}
	case nodeOf(f.To.IP) != "":
		node := nodeOf(f.To.IP)
		// A host-network pod listening there, else a Talos service.
		for _, pods := range byNS {
			for _, p := range pods {
				if p.Spec.HostNetwork && p.Spec.NodeName == node && slices.ContainsFunc(p.Spec.Containers, func(ct corev1.Container) bool {
					return slices.ContainsFunc(ct.Ports, func(cp corev1.ContainerPort) bool { return cp.ContainerPort == f.Port })
				}) {
					to = append(to, netpol.PodEndpoint(p))
				}
			}
		}
		if len(to) == 0 {
			uid, ok := hostUIDs[f.Port]
			if !ok {
				t.Fatalf("flow %s: nothing on the node listens on %d", f, f.Port)
			}
			to = append(to, netpol.HostEndpoint(node, uid))
		}
	case f.To.OwnNode:
		// Served on each client's node (by machined, as root), so the
		// pairs are made below.
	default:
		to = append(to, netpol.External(f.To.IP))
	}
	if f.To.OwnNode {
		var out []netpol.Conn
		for _, a := range from {
			b := netpol.HostAddressEndpoint(a.Pod.Spec.NodeName, f.To.IP, 0)
			out = append(out, netpol.Conn{From: a, To: b, Port: f.Port, Protocol: f.Protocol})
		}
		if len(out) == 0 {
			t.Errorf("flow %s: no client", f)
		}
		return out
	}
	if len(from) == 0 || len(to) == 0 {
		t.Errorf("flow %s: no pod on one side (%d clients, %d servers)", f, len(from), len(to))
	}
	var out []netpol.Conn
	for _, a := range from {
		for _, b := range to {
			if a.Pod != nil && a.Pod == b.Pod {
				continue
			}
			if f.To.SameNode && (b.Pod == nil || b.Pod.Spec.NodeName != a.Node) {
				continue
			}
			out = append(out, netpol.Conn{From: a, To: b, Port: f.Port, Protocol: f.Protocol, ViaService: a.Pod == nil})
		}
	}
	return out
}

// checkFlows sends every connection the flows mean through the policy
// engine Talos runs (pkg/oracle/netpol): each must pass, both ways. Then
// it takes each allow rule of the tree's own policies out in turn: a rule whose absence blocks no
// connection is not needed by the homelab.
func checkFlows(t *testing.T, h *homelab.Homelab, c *cluster, own map[string]bool, flows []flow) {
	oc, byNS := oracleCluster(t, h, c)
	type conn struct {
		flow flow
		c    netpol.Conn
	}
	var conns []conn
	for _, f := range flows {
		for _, cn := range connections(t, oc, byNS, f) {
			conns = append(conns, conn{f, cn})
		}
	}
	blocked := func(oc netpol.Cluster) []string {
		e, err := netpol.New(oc)
		require.NoError(t, err)
		var out []string
		for _, cn := range conns {
			r, err := e.Connect(cn.c)
			require.NoError(t, err)
			if !r.Allowed {
				out = append(out, fmt.Sprintf("%s (%s): %s", cn.c, cn.flow.Why, r.Dropped))
			}
		}
		return out
	}
	for _, b := range blocked(oc) {
		t.Errorf("blocked: %s", b)
	}
	// No node's address may be managed by its engine: a policy selecting
	// a host-network pod puts it there (kube-network-policies v1.1.0,
	// fixed in v1.1.1), and every packet of the node's own non-root
	// services is then judged by the policies of the pods it meets.
	e, err := netpol.New(oc)
	require.NoError(t, err)
	for _, n := range oc.Nodes {
		if e.Managed(n.Name, n.IP) {
			t.Errorf("node %s: its address %s is managed by its policy engine: a NetworkPolicy selects a host-network pod there", n.Name, n.IP)
		}
	}
	for _, p := range oc.Pods {
		// Talos' own host-network pods cannot carry the label: no policy
		// may select them, which the check of the nodes' addresses
		// above shows.
		if p.Spec.HostNetwork && p.Labels[core.HostNetworkLabel] != "true" && p.Annotations[talosPod] == "" {
			t.Errorf("host-network pod %s/%s lacks %s, so namespace-wide policies select it", p.Namespace, p.Name, core.HostNetworkLabel)
		}
	}
	for i, np := range oc.Policies {
		if !own[np.Namespace+"/"+np.Name] || np.Namespace == "flux-system" {
			continue // a chart's policy, or Flux's own (flux install's, compared with it in constructs/flux)
		}
		for dir, n := range map[string]int{"ingress": len(np.Spec.Ingress), "egress": len(np.Spec.Egress)} {
			for r := range n {
				less := oc
				less.Policies = slices.Clone(oc.Policies)
				cut := np.DeepCopy()
				// A policy left without rules has none at all (nil, as the
				// API server stores an empty list): the engine reads an
				// empty non-nil list as "allow all".
				if dir == "ingress" {
					cut.Spec.Ingress = slices.Delete(slices.Clone(cut.Spec.Ingress), r, r+1)
					if len(cut.Spec.Ingress) == 0 {
						cut.Spec.Ingress = nil
					}
				} else {
					cut.Spec.Egress = slices.Delete(slices.Clone(cut.Spec.Egress), r, r+1)
					if len(cut.Spec.Egress) == 0 {
						cut.Spec.Egress = nil
					}
				}
				less.Policies[i] = cut
				if len(blocked(less)) == 0 {
					t.Errorf("%s/%s %s rule %d is needed by no connection of the homelab", np.Namespace, np.Name, dir, r)
				}
			}
		}
	}
	if len(conns) < 100 {
		t.Errorf("only %d connections derived", len(conns))
	}
	t.Logf("%d flows, %d connections, %d pods on %d nodes", len(flows), len(conns), len(oc.Pods), len(oc.Nodes))
}
