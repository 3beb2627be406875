package talos

import (
	"cmp"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"github.com/siderolabs/talos/pkg/machinery/constants"

	"github.com/funoffshore/homelab/constructs/core"
)

// DefaultTalosVersion is the Talos release the pinned machinery module
// belongs to.
const DefaultTalosVersion = "v1.13.9"

// Role is a node's role in the cluster: core's, the one role type of
// every layer.
type Role = core.Role

// Node roles.
const (
	ControlPlane = core.ControlPlane
	Worker       = core.Worker
	// AllNodes is the Role of a patch for every node.
	AllNodes = core.AllNodes
)

// Patch is a typed Talos config patch: a partial v1alpha1 config merged
// into the machine configs of the nodes of Role (strategic merge, as
// talosctl and talhelper do).
type Patch struct {
	// Role of the nodes the patch applies to. Default: AllNodes.
	Role Role
	// Config is the partial machine config.
	Config *v1alpha1.Config
}

// ClusterProps configures a Cluster.
type ClusterProps struct {
	// Name of the cluster. Required.
	Name string
	// TalosVersion to install. Default: DefaultTalosVersion.
	TalosVersion string
	// KubernetesVersion to run. Default: the latest the Talos version
	// supports (machinery's DefaultKubernetesVersion).
	KubernetesVersion string
	// Subnet of the node network, such as "192.168.1.0/24". Required.
	Subnet string
	// Endpoint of the Kubernetes API. Default: "https://<first control
	// plane IP>:6443"; set VIP for a shared address.
	Endpoint string
	// VIP is a shared control-plane address inside Subnet; empty for none.
	VIP string
	// PodCIDR and ServiceCIDR of the cluster. Default: "10.244.0.0/16"
	// and "10.96.0.0/12".
	PodCIDR, ServiceCIDR string
	// InstallDisk of every node. Default: "/dev/sda" (virtio-scsi).
	InstallDisk string
	// ImageFactory host. Default: "factory.talos.dev".
	ImageFactory string
	// ISOSHA256 is the SHA-256 of the boot ISO (the Image Factory shows
	// none; take it from a download you checked). Set, Proxmox verifies
	// every download of the ISO against it.
	ISOSHA256 string
	// Extensions always installed, besides those the tree needs.
	Extensions []string
	// Patches are typed config patches.
	Patches []Patch
	// Dir is the output directory. Default: "talos".
	Dir string
	// AllowEvenControlPlanes accepts 2, 4 or 6 control planes. An even
	// etcd membership tolerates no more failures than one member fewer
	// (two members stop on the loss of either), so it is refused unless
	// set, knowingly, for a migration.
	AllowEvenControlPlanes bool
	// SurviveHostLoss declares that the cluster must survive the loss of
	// any one Proxmox host: validation refuses a placement whose host loss
	// would lose etcd quorum or leave the workloads without room
	// (HostLosses). Unset, the same findings are warnings.
	SurviveHostLoss bool
}

// Cluster is a Talos cluster.
type Cluster struct {
	constructs.Construct
	info *core.Info

	// Props after defaults.
	Name, TalosVersion, KubernetesVersion, PodCIDR, ServiceCIDR, InstallDisk, ImageFactory, Dir string

	props ClusterProps
	nodes []*Node

	// The address values, parsed once (core.ParseAddr, core.ParsePrefix);
	// a problem is kept for validation, which reports it with the path.
	subnet, podNet, serviceNet                      netip.Prefix
	subnetProblem, podNetProblem, serviceNetProblem *core.AddrProblem
	vip                                             netip.Addr
	vipProblem                                      *core.AddrProblem
	// endpoint is ClusterProps.Endpoint parsed (nil when unset or no URL).
	endpoint *url.URL
}

// NewCluster adds a Talos cluster below scope.
func NewCluster(scope constructs.Construct, id string, props *ClusterProps) *Cluster {
	props = cmp.Or(props, &ClusterProps{})
	p := *props
	c := &Cluster{Name: p.Name, TalosVersion: p.TalosVersion, KubernetesVersion: p.KubernetesVersion,
		PodCIDR: p.PodCIDR, ServiceCIDR: p.ServiceCIDR, InstallDisk: p.InstallDisk, ImageFactory: p.ImageFactory, Dir: p.Dir, props: p}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.TalosVersion, DefaultTalosVersion)
	def(&c.KubernetesVersion, constants.DefaultKubernetesVersion)
	c.KubernetesVersion = strings.TrimPrefix(c.KubernetesVersion, "v")
	def(&c.PodCIDR, "10.244.0.0/16")
	def(&c.ServiceCIDR, "10.96.0.0/12")
	def(&c.InstallDisk, "/dev/sda")
	def(&c.ImageFactory, "factory.talos.dev")
	def(&c.Dir, "talos")
	c.info = core.Init(c, scope, id)
	c.subnet, c.subnetProblem = core.ParsePrefix(p.Subnet, "subnet")
	c.podNet, c.podNetProblem = core.ParsePrefix(c.PodCIDR, "pod CIDR")
	c.serviceNet, c.serviceNetProblem = core.ParsePrefix(c.ServiceCIDR, "service CIDR")
	if p.VIP != "" {
		c.vip, c.vipProblem = core.ParseAddr(p.VIP, "VIP")
	}
	if c.vip.IsValid() {
		core.Addresses.Of(c.info.Tree()).Claim(c.vip, c.info.Path(), "the cluster VIP")
	}
	if u, err := url.Parse(p.Endpoint); p.Endpoint != "" && err == nil {
		c.endpoint = u
	}
	core.ControlPlaneMetricsOf.Of(c.info.Tree()).Publish(controlPlaneMetrics())
	for _, hp := range HostNetworkPods() {
		hp.Source = c.info.Path()
		core.HostNetwork.Of(c.info.Tree()).Add(hp)
	}
	c.info.Tree().AddValidation(c.validate)
	if p.SurviveHostLoss {
		c.info.Tree().AddValidation(c.hostLossFindings)
	} else {
		core.Warnings.Of(c.info.Tree()).Add(c.hostLossFindings)
	}
	c.info.Tree().AddFileRenderer(c)
	return c
}

// Info returns the construct's place in the tree.
func (c *Cluster) Info() *core.Info { return c.info }

// ToString overrides the jsii method; it returns the construct path.
func (c *Cluster) ToString() *string { return core.PathString(c.info) }

// Subnet returns the node subnet (192.168.1.0/24); the zero Prefix when
// ClusterProps.Subnet does not parse, which validation reports.
func (c *Cluster) Subnet() netip.Prefix { return c.subnet }

// PodNetwork returns the pod CIDR after defaults (10.244.0.0/16); the
// zero Prefix when it does not parse, which validation reports.
func (c *Cluster) PodNetwork() netip.Prefix { return c.podNet }

// VIP returns the shared control-plane address; the zero Addr without one
// or when it does not parse, which validation reports.
func (c *Cluster) VIP() netip.Addr { return c.vip }

// Nodes returns the nodes in creation order.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// ControlPlanes returns the control-plane nodes.
func (c *Cluster) ControlPlanes() []*Node { return c.byRole(ControlPlane) }

// Workers returns the worker nodes.
func (c *Cluster) Workers() []*Node { return c.byRole(Worker) }

func (c *Cluster) byRole(r Role) []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if n.Role == r {
			out = append(out, n)
		}
	}
	return out
}

// SchedulesOnControlPlanes reports whether a patch lets workloads run on
// the control planes (cluster.allowSchedulingOnControlPlanes), as a
// single-node cluster needs.
func (c *Cluster) SchedulesOnControlPlanes() bool {
	on := false
	for _, p := range c.props.Patches {
		if p.Config != nil && p.Config.ClusterConfig != nil && p.Config.ClusterConfig.AllowSchedulingOnControlPlanes != nil {
			on = *p.Config.ClusterConfig.AllowSchedulingOnControlPlanes
		}
	}
	return on
}

// Endpoint returns the Kubernetes API endpoint.
func (c *Cluster) Endpoint() string {
	if c.props.Endpoint != "" {
		return c.props.Endpoint
	}
	if c.vip.IsValid() {
		return "https://" + netip.AddrPortFrom(c.vip, 6443).String()
	}
	if c.props.VIP != "" {
		return "https://" + c.props.VIP + ":6443"
	}
	if cps := c.ControlPlanes(); len(cps) > 0 {
		return "https://" + cps[0].IP.String() + ":6443"
	}
	return ""
}

// Schematic returns the Image Factory schematic: the cluster's own
// extensions plus every extension a construct in the tree needs.
func (c *Cluster) Schematic() Schematic {
	exts := append([]string(nil), c.props.Extensions...)
	for _, n := range core.NodeNeeds.Of(c.info.Tree()).All() {
		exts = append(exts, n.Extensions...)
	}
	return NewSchematic(exts...)
}

// InstallerImage returns the installer image for the schematic and version.
func (c *Cluster) InstallerImage() string {
	return c.InstallerImageAt(c.TalosVersion)
}

// InstallerImageAt returns the installer image of the cluster's
// schematic at another Talos release (a hop of an upgrade through
// intermediate releases): an Image Factory schematic is the same for
// every release.
func (c *Cluster) InstallerImageAt(talosVersion string) string {
	return fmt.Sprintf("%s/metal-installer/%s:%s", c.ImageFactory, c.Schematic().ID(), talosVersion)
}

// BootSchematic is the schematic of the boot ISO: the installer's, with
// the kernel argument talos.config=metal-iso, under which Talos' metal
// platform reads the machine config from a volume labelled metal-iso
// (Talos v1.13.9 internal/app/machined/pkg/runtime/v1alpha1/platform/metal/metal.go:74-76,
// readConfigFromISO at 124-144) instead of waiting in maintenance mode
// for one over the network. The deployer attaches that volume to the VM
// through the Proxmox API, so the config holding the cluster's CA keys
// never crosses the LAN. Only the boot media carry the argument: the
// installed system boots the installer's schematic, and a machine with a
// config on its STATE partition never asks the platform (acquire.go
// stateDisk, 253-299).
func (c *Cluster) BootSchematic() Schematic {
	return c.Schematic().WithKernelArgs("talos.config=" + constants.MetalConfigISOLabel)
}

// ISO returns the boot ISO's download URL and the file name it gets in
// the Proxmox ISO storage.
func (c *Cluster) ISO() (url, file string) {
	id := c.BootSchematic().ID()
	url = fmt.Sprintf("https://%s/image/%s/%s/metal-amd64.iso", c.ImageFactory, id, c.TalosVersion)
	if sum := strings.ToLower(c.props.ISOSHA256); len(sum) >= 16 {
		// The name commits to the content: a file already on the host
		// under this name was downloaded and verified against the sum,
		// and one put there under the unverified name is not reused.
		return url, fmt.Sprintf("talos-%s-%s-sha256-%s-metal-amd64.iso", c.TalosVersion, id[:12], sum[:16])
	}
	return url, fmt.Sprintf("talos-%s-%s-metal-amd64.iso", c.TalosVersion, id[:12])
}

// NodeProps configures a Node.
type NodeProps struct {
	// Hostname of the node. Default: the machine's name, else the
	// construct id.
	Hostname string
	// IP of the node inside the cluster subnet, handed out by a static
	// DHCP lease on the machine's MAC. Required.
	IP string
	// Role of the node. Default: Worker.
	Role Role
	// InstallDisk overrides the cluster's install disk.
	InstallDisk string
	// Machine the node runs on (a *proxmox.VM, say); it gets the node's
	// IP as its lease, boots the cluster's ISO and gets the data disks the
	// node's volumes need. Nil: a machine the tree does not model (its
	// size is unknown to the capacity check).
	Machine Machine
}

// Node is a Talos node.
type Node struct {
	constructs.Construct
	info *core.Info

	// Props after defaults; IP is invalid when the prop did not parse.
	Hostname, InstallDisk string
	IP                    netip.Addr
	Role                  Role
	Machine               Machine

	rawIP     string
	ipProblem *core.AddrProblem
	cluster   *Cluster
}

// AddNode adds a node to the cluster.
func (c *Cluster) AddNode(id string, props *NodeProps) *Node {
	props = cmp.Or(props, &NodeProps{})
	n := &Node{Hostname: props.Hostname, InstallDisk: props.InstallDisk, Role: props.Role, Machine: props.Machine, rawIP: props.IP, cluster: c}
	if n.Hostname == "" && n.Machine != nil {
		n.Hostname = n.Machine.MachineName()
	}
	n.Hostname = cmp.Or(n.Hostname, id)
	n.Role = cmp.Or(n.Role, Worker)
	n.InstallDisk = cmp.Or(n.InstallDisk, c.InstallDisk)
	n.IP, n.ipProblem = core.ParseAddr(props.IP, "IP")
	n.info = core.Init(n, c, id)
	c.nodes = append(c.nodes, n)
	core.Addresses.Of(n.info.Tree()).Claim(n.IP, n.info.Path(), "node "+n.Hostname)
	core.Nodes.Of(n.info.Tree()).Publish(core.NodeAddress{Hostname: n.Hostname, IP: n.IP, Role: n.Role,
		Workloads: c.runsWorkloads(n.Role)})
	if n.Machine != nil {
		role := n.machineType()
		n.Machine.Provision(core.Provisioning{
			Address: n.IP,
			// One host's loss should take as few nodes of a role as it can.
			SpreadGroup: c.info.Path() + "/" + string(n.Role),
			BootISO:     c.ISO, BootISOSHA256: strings.ToLower(c.props.ISOSHA256),
			DataDisks: func() []core.DataDisk { return c.dataDisks(role) },
		})
	}
	return n
}

// Info returns the construct's place in the tree.
func (n *Node) Info() *core.Info { return n.info }

// ToString overrides the jsii method; it returns the construct path.
func (n *Node) ToString() *string { return core.PathString(n.info) }
