package talos

import (
	"net/netip"

	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/constants"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/funoffshore/homelab/constructs/core"
)

// SystemPod is a workload Talos' bootstrap manifests run on every
// cluster, besides the control plane's static pods: it takes its share of
// the nodes before any workload of the tree.
type SystemPod struct {
	// Name of the Deployment or DaemonSet (in kube-system).
	Name string
	// Replicas of a Deployment; PerNode marks a DaemonSet on every node.
	Replicas int
	PerNode  bool
	// Image from the machine config.
	Image string
	// CPU and Memory are the pod's requests, MemoryLimit its limit (the
	// upstream manifests' values, which Talos keeps).
	CPU, Memory, MemoryLimit resource.Quantity
	// Labels of its pods, and the Ports they serve on the pod network
	// (none for a host-network pod).
	Labels map[string]string
	Ports  []corev1.ContainerPort
}

// SystemPods returns the pods Talos runs for cfg (a control plane's
// config): CoreDNS (two replicas) unless disabled, and the flannel
// DaemonSet when flannel is the CNI (Talos' default). kube-proxy requests
// nothing.
func SystemPods(cfg config.Provider) []SystemPod {
	var out []SystemPod
	cl := cfg.Cluster()
	if cl == nil {
		return nil
	}
	if cl.CoreDNS().Enabled() {
		// Labels and ports: talos v1.13.9 internal/app/machined/pkg/
		// controllers/k8s/internal/k8stemplates/coredns.go:246-247 and
		// :317-333 (DNS on 53, the prometheus plugin on 9153).
		out = append(out, SystemPod{Name: "coredns", Replicas: 2, Image: cl.CoreDNS().Image(),
			CPU: resource.MustParse("100m"), Memory: resource.MustParse("70Mi"), MemoryLimit: resource.MustParse("170Mi"),
			Labels: map[string]string{"k8s-app": "kube-dns"},
			Ports: []corev1.ContainerPort{
				{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
				{Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP},
			}})
	}
	if cl.Network().CNI().Name() == constants.FlannelCNI {
		out = append(out, SystemPod{Name: "kube-flannel", PerNode: true, Image: "ghcr.io/siderolabs/flannel:v" + constants.FlannelVersion,
			CPU: resource.MustParse("100m"), Memory: resource.MustParse("50Mi")})
	}
	return out
}

// HostNetworkPods are the pods of Talos' components on the host network,
// all in kube-system: the control plane's static pods
// (controllers/k8s/control_plane_static_pod.go:470-471, 655-656,
// 850-851; hostNetwork at :532, :728, :906), kube-proxy
// (k8stemplates/kube-proxy.go:38-39, :104) and flannel
// (k8stemplates/flannel.go:345-346, :394). They cannot carry
// core.HostNetworkLabel, so declaring them is what keeps a namespace-wide
// NetworkPolicy out of kube-system (validation rule
// kube/host-network-policies). Declared whether or not a patch turns
// kube-proxy or flannel off: a policy selecting them is refused either
// way.
func HostNetworkPods() []core.HostNetworkPods {
	pod := func(app, tier string) core.HostNetworkPods {
		return core.HostNetworkPods{Name: app, Namespace: "kube-system", Labels: map[string]string{"k8s-app": app, "tier": tier}}
	}
	return []core.HostNetworkPods{
		pod("kube-apiserver", "control-plane"), pod("kube-controller-manager", "control-plane"), pod("kube-scheduler", "control-plane"),
		pod("kube-proxy", "node"), pod("flannel", "node"),
	}
}

// DNSUpstreams are the servers the cluster DNS forwards names outside the
// cluster to, for cfg (a control plane's config). CoreDNS forwards to its
// pod's resolv.conf (coredns.go:180, dnsPolicy Default at :366), which
// Talos writes for pods: the host DNS address on every node
// (constants.HostDNSAddress) when hostDNS.forwardKubeDNSToHost is on and
// the pod network is IPv4 (network/hostdns_config.go:105-117,
// network/etcfile.go:166-173), else the node's resolvers: the machine
// config's resolvers, or Talos' defaults (network/resolver_config.go:
// 180). Resolvers a DHCP server hands out are not known here.
func DNSUpstreams(cfg config.Provider) []netip.Addr {
	m, cl := cfg.Machine(), cfg.Cluster()
	if m == nil || cl == nil {
		return nil
	}
	if m.Features().HostDNS().ForwardKubeDNSToHost() {
		for _, cidr := range cl.Network().PodCIDRs() {
			if p, err := netip.ParsePrefix(cidr); err == nil && p.Addr().Is4() {
				return []netip.Addr{netip.MustParseAddr(constants.HostDNSAddress)}
			}
		}
	}
	var out []netip.Addr
	if rc := cfg.NetworkResolverConfig(); rc != nil {
		out = rc.Resolvers()
	}
	if len(out) == 0 {
		out = []netip.Addr{netip.MustParseAddr(constants.DefaultPrimaryResolver), netip.MustParseAddr(constants.DefaultSecondaryResolver)}
	}
	return out
}

// DNSUpstreams returns where the cluster DNS forwards outside names (see
// the function DNSUpstreams); nil when the config does not render.
func (c *Cluster) DNSUpstreams() []netip.Addr {
	cfg, err := c.controlPlaneConfig()
	if err != nil {
		return nil
	}
	return DNSUpstreams(cfg)
}

// controlPlaneConfig is a control plane's config, rendered with the
// placeholder bundle.
func (c *Cluster) controlPlaneConfig() (config.Provider, error) {
	return c.MachineConfig(machine.TypeControlPlane, PlaceholderBundle())
}

// SystemPods returns the cluster's system pods (see the function
// SystemPods), from its control-plane config rendered with the
// placeholder bundle; nil when that does not render, which validation
// reports.
func (c *Cluster) SystemPods() []SystemPod {
	if len(c.ControlPlanes()) == 0 {
		return nil
	}
	cfg, err := c.controlPlaneConfig()
	if err != nil {
		return nil
	}
	return SystemPods(cfg)
}
