package core

import (
	"cmp"
	"net/netip"
	"slices"
)

// Role is a node's role in the cluster, and the nodes a need, a workload
// or a Talos patch applies to. It is the one role type of every layer
// (talos.Role is this type).
type Role string

// Node roles.
const (
	// ControlPlane nodes run etcd and the Kubernetes control plane.
	ControlPlane Role = "controlplane"
	// Worker nodes run the workloads.
	Worker Role = "worker"
	// AllNodes, the zero Role, makes a need, workload or patch apply to
	// control planes and workers; a node is never of this role (a node's
	// role defaults to Worker).
	AllNodes Role = ""
	// WorkloadNodes makes a need or patch apply to the nodes pods are
	// scheduled on: the workers, and the control planes too when the OS
	// layer leaves them untainted (a single-node cluster). A need that
	// follows the pods, such as a storage engine's disk for its replicas,
	// uses it; a node is never of this role.
	WorkloadNodes Role = "workloads"
)

// Selects reports whether something that applies to r applies to node:
// AllNodes selects every node, WorkloadNodes those that run workloads,
// ControlPlane and Worker the nodes of that role.
func (r Role) Selects(node NodeAddress) bool {
	switch r {
	case AllNodes:
		return true
	case WorkloadNodes:
		return node.Workloads
	}
	return r == node.Role
}

// Mount is a host path the kubelet must see (a kubelet extra mount).
type Mount struct {
	// Source on the host and Destination in the kubelet; usually equal.
	Source, Destination string
	// Options such as "bind", "rshared", "rw".
	Options []string
}

// UserVolume is a Talos user volume: a partition mounted at
// /var/mnt/<Name>.
type UserVolume struct {
	// Name of the volume.
	Name string
	// MinSize and MaxSize of the partition ("10GiB"); MaxSize empty grows
	// to fill the disk.
	MinSize, MaxSize string
	// DiskGiB, when set, gives the volume a virtual disk of its own of
	// that size on every node it applies to (the OS layer asks each VM
	// for it), instead of space on the system disk, which Talos'
	// EPHEMERAL volume grows to fill first.
	DiskGiB int
}

// TalosAPIAccess lets pods in some namespaces call the Talos API with some
// roles (machine.features.kubernetesTalosAPIAccess).
type TalosAPIAccess struct {
	// Roles such as "os:etcd:backup".
	Roles []string
	// Namespaces whose pods may use them.
	Namespaces []string
}

// NodeNeed is what a construct needs from the nodes it runs on, declared
// where the need arises (a storage or monitoring construct) and collected by
// whatever renders the node configuration (the Talos construct). It keeps
// the platform and the OS layer from importing each other.
type NodeNeed struct {
	// Source is the construct path that declared the need.
	Source string
	// Role of the nodes the need applies to. Default: AllNodes.
	Role Role
	// Extensions are Talos system extensions ("siderolabs/iscsi-tools").
	Extensions []string
	// KubeletMounts are host paths the kubelet must see.
	KubeletMounts []Mount
	// UserVolumes are partitions to create.
	UserVolumes []UserVolume
	// ControlPlaneMetrics asks the control plane components (controller
	// manager, scheduler, etcd) to serve metrics on the node address.
	ControlPlaneMetrics bool
	// TalosAPIAccess grants pods access to the Talos API.
	TalosAPIAccess *TalosAPIAccess
	// NetworkPolicies asks the nodes' CNI to enforce NetworkPolicy
	// objects (without it they are accepted and do nothing).
	NetworkPolicies bool
	// LogPort asks every node of Role to send its Talos service logs and
	// its kernel log, as JSON lines over TCP, to this port on the node's
	// own address (a receiver's hostPort on every node); 0 sends none.
	LogPort uint16
}

// NodeAddress is a node as the platform sees it. The OS layer (the Talos
// construct) publishes one per node; platform constructs read them when
// they render (control-plane scrape endpoints, say), so neither imports
// the other.
type NodeAddress struct {
	Hostname string
	IP       netip.Addr
	Role     Role
	// Workloads reports whether pods are scheduled on the node: a worker,
	// or a control plane the OS layer leaves without its NoSchedule
	// taint.
	Workloads bool
}

// Nodes are the nodes the OS layer publishes for the platform
// (core.Nodes.Of(tree).Publish(node), .All()).
var Nodes = NewFacet("core/nodes", func() *NodeList { return &NodeList{} })

// NodeList holds a tree's published nodes.
type NodeList struct{ nodes []NodeAddress }

// Publish records a node's address for the platform.
func (l *NodeList) Publish(n NodeAddress) { l.nodes = append(l.nodes, n) }

// All returns the published nodes, control planes first, each group by
// hostname.
func (l *NodeList) All() []NodeAddress {
	out := slices.Clone(l.nodes)
	slices.SortStableFunc(out, func(a, b NodeAddress) int {
		if a.Role != b.Role {
			if a.Role == ControlPlane {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Hostname, b.Hostname)
	})
	return out
}

// MetricsTarget is where a control-plane component serves metrics: the
// labels of its (static) pods and its port on the node address.
type MetricsTarget struct {
	Labels map[string]string
	Port   int
}

// ControlPlaneMetrics describes the control plane's metrics endpoints as
// the OS layer runs them, once a NodeNeed asked for ControlPlaneMetrics.
// Etcd runs outside Kubernetes, so it has a port but no pods.
type ControlPlaneMetrics struct {
	ControllerManager, Scheduler MetricsTarget
	EtcdPort                     int
}

// ControlPlaneMetricsOf is how the OS layer serves control-plane metrics
// (the Talos construct publishes it: core.ControlPlaneMetricsOf.Of(tree).
// Publish(m); the monitoring stack reads .Get()).
var ControlPlaneMetricsOf = NewFacet("core/control-plane-metrics", func() *Published[ControlPlaneMetrics] {
	return &Published[ControlPlaneMetrics]{}
})

// Published is one value a layer publishes for the others, once.
type Published[T any] struct {
	v  T
	ok bool
}

// Publish records the value.
func (p *Published[T]) Publish(v T) { p.v, p.ok = v, true }

// Get returns the value and whether it was published.
func (p *Published[T]) Get() (T, bool) { return p.v, p.ok }
