package core

// HostNetworkLabel marks the pods that run on their node's network
// namespace. Their pod IP is the node's own address, so a NetworkPolicy
// must never select them: kube-network-policies v1.1.0 (what Talos
// v1.13.9 runs for flannel) then enrolls the node's address in the
// addresses whose packets it judges, and the node's own traffic is
// queued to its engine (fixed upstream in v1.1.1, PR #389). Namespace-wide
// policies select only pods without this label.
const HostNetworkLabel = "homelab.funoffshore.com/host-network"

// HostNetworkPods are pods that run on the host network, declared by the
// construct that renders them (often through a chart's values), so that
// policies can be checked against them without reading charts.
type HostNetworkPods struct {
	// Source is the construct path; Name names the workload.
	Source, Name string
	// Namespace of the pods.
	Namespace string
	// Labels the pods carry, HostNetworkLabel among them.
	Labels map[string]string
}
