package core

import "k8s.io/apimachinery/pkg/api/resource"

// Workload is what one workload asks of the nodes' capacity: its pods'
// requests, declared by the construct that sizes it (a Deployment it
// renders, or Helm values it sets), so that capacity can be checked
// against the nodes without reading charts.
type Workload struct {
	// Source is the construct path; Name names the workload.
	Source, Name string
	// Role of the nodes it runs on (AllNodes means "anywhere"; a
	// DaemonSet on all nodes sets PerNode).
	Role Role
	// Replicas of the pod; ignored with PerNode.
	Replicas int
	// PerNode marks a DaemonSet: one pod on every node of Role.
	PerNode bool
	// CPU and Memory are the summed requests of one pod's containers;
	// MemoryLimit their summed memory limits (zero when a container has none).
	CPU, Memory, MemoryLimit resource.Quantity
}
