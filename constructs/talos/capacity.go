package talos

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/funoffshore/homelab/constructs/core"
)

// ControlPlaneReservedMemory is the memory Talos keeps from pods on a
// control plane (kubelet and system reserved).
func ControlPlaneReservedMemory() resource.Quantity { return resource.MustParse("512Mi") }

// WorkerReservedMemory is the memory Talos keeps from pods on a worker.
func WorkerReservedMemory() resource.Quantity { return resource.MustParse("384Mi") }

// ReservedCPU is the CPU Talos keeps on every node.
func ReservedCPU() resource.Quantity { return resource.MustParse("100m") }

// CapacityLine is one workload's share of the node pool.
type CapacityLine struct {
	Source, Name string
	Pods         int
	CPU, Memory  resource.Quantity
	// PodCPU and PodMemory are what one pod requests.
	PodCPU, PodMemory resource.Quantity
	PerNode           bool
	// System marks Talos' own pods (SystemPods), which tolerate the
	// control planes' taint.
	System bool
}

// NodeCapacity is what one node of the pool offers pods.
type NodeCapacity struct {
	Hostname    string
	CPU, Memory resource.Quantity
}

// Capacity is what the workloads request of the node pool that runs them
// (the workers; the control planes too when a patch lets pods schedule
// there, otherwise Talos taints them NoSchedule) against what it has.
type Capacity struct {
	// Workers is the number of nodes in the pool with a known size (a VM);
	// Unsized the number without.
	Workers, Unsized                  int
	AllocatableCPU, AllocatableMemory resource.Quantity
	RequestedCPU, RequestedMemory     resource.Quantity
	// SmallestWorkerMemory is the allocatable memory of the smallest node;
	// PerNodeCPU and PerNodeMemory what every node must hold for
	// DaemonSets.
	SmallestWorkerMemory, PerNodeCPU, PerNodeMemory resource.Quantity
	Nodes                                           []NodeCapacity
	Lines                                           []CapacityLine
}

// Allocatable is what the kubelet of n offers pods: its VM's vCPUs and
// memory less what Talos reserves for the system on its role. ok is false
// for a node without a VM (its size is unknown).
func (n *Node) Allocatable() (cpu, memory resource.Quantity, ok bool) {
	if n.Machine == nil {
		return cpu, memory, false
	}
	size := n.Machine.Size()
	reserved := WorkerReservedMemory()
	if n.Role == ControlPlane {
		reserved = ControlPlaneReservedMemory()
	}
	memory = *resource.NewQuantity(size.MemoryMiB*1024*1024, resource.BinarySI)
	memory.Sub(reserved)
	cpu = *resource.NewMilliQuantity(int64(size.Cores)*1000, resource.DecimalSI)
	cpu.Sub(ReservedCPU())
	return cpu, memory, true
}

// pool returns the nodes that run workloads.
func (c *Cluster) pool() []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if c.runsWorkloads(n.Role) {
			out = append(out, n)
		}
	}
	return out
}

// Capacity sums the tree's workloads, and Talos' own pods (SystemPods),
// on the node pool.
func (c *Cluster) Capacity() Capacity {
	var cp Capacity
	first := true
	for _, n := range c.pool() {
		if n.Machine == nil {
			cp.Unsized++
			continue
		}
		cp.Workers++
		cpu, mem, _ := n.Allocatable()
		cp.AllocatableMemory.Add(mem)
		cp.AllocatableCPU.Add(cpu)
		cp.Nodes = append(cp.Nodes, NodeCapacity{Hostname: n.Hostname, CPU: cpu, Memory: mem})
		if first || mem.Cmp(cp.SmallestWorkerMemory) < 0 {
			cp.SmallestWorkerMemory = mem
			first = false
		}
	}
	// Talos' own pods come first: they run before any workload.
	var workloads []core.Workload
	system := map[int]bool{}
	for i, sp := range c.SystemPods() {
		system[i] = true
		workloads = append(workloads, core.Workload{Source: c.info.Path(), Name: sp.Name + " (Talos)", Role: core.AllNodes,
			Replicas: sp.Replicas, PerNode: sp.PerNode, CPU: sp.CPU, Memory: sp.Memory, MemoryLimit: sp.MemoryLimit})
	}
	for i, w := range append(workloads, core.Workloads.Of(c.info.Tree()).All()...) {
		if w.Role == core.ControlPlane && !c.SchedulesOnControlPlanes() {
			continue
		}
		pods := w.Replicas
		if w.PerNode {
			pods = cp.Workers
			cp.PerNodeMemory.Add(w.Memory)
			cp.PerNodeCPU.Add(w.CPU)
		}
		line := CapacityLine{Source: w.Source, Name: w.Name, Pods: pods, PodCPU: w.CPU, PodMemory: w.Memory, PerNode: w.PerNode, System: system[i]}
		for i := 0; i < pods; i++ {
			line.CPU.Add(w.CPU)
			line.Memory.Add(w.Memory)
		}
		cp.RequestedCPU.Add(line.CPU)
		cp.RequestedMemory.Add(line.Memory)
		cp.Lines = append(cp.Lines, line)
	}
	return cp
}

// String renders the capacity table `homelab validate` prints.
func (cp Capacity) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-64s %5s %8s %9s\n", "workload (node pool)", "pods", "cpu", "memory")
	for _, l := range cp.Lines {
		fmt.Fprintf(&b, "%-64s %5d %8s %9s\n", l.Source+" "+l.Name, l.Pods, millis(l.CPU), mib(l.Memory))
	}
	fmt.Fprintf(&b, "%-64s %5s %8s %9s\n", "requested", "", millis(cp.RequestedCPU), mib(cp.RequestedMemory))
	fmt.Fprintf(&b, "%-64s %5s %8s %9s\n", fmt.Sprintf("allocatable (%d workers)", cp.Workers), "", millis(cp.AllocatableCPU), mib(cp.AllocatableMemory))
	return b.String()
}

func millis(q resource.Quantity) string { return fmt.Sprintf("%dm", q.MilliValue()) }
func mib(q resource.Quantity) string    { return fmt.Sprintf("%dMi", q.Value()/(1024*1024)) }

func (c *Cluster) validateCapacity() []error {
	cp := c.Capacity()
	p := c.info.Path()
	var own []CapacityLine // Talos' pods tolerate the control planes' taint
	for _, l := range cp.Lines {
		if !l.System {
			own = append(own, l)
		}
	}
	if cp.Workers == 0 && cp.Unsized == 0 && len(own) > 0 && len(c.ControlPlanes()) > 0 {
		l := own[0]
		return []error{core.Errorf(p, "add a worker, or let pods run on the control planes with a patch setting cluster.allowSchedulingOnControlPlanes",
			"%d workloads (first: %s at %s) need a node to run on but the cluster has no worker and Talos taints control planes NoSchedule", len(own), l.Name, l.Source)}
	}
	if cp.Workers == 0 {
		return nil
	}
	var errs []error
	if cp.RequestedMemory.Cmp(cp.AllocatableMemory) > 0 {
		errs = append(errs, core.Errorf(p, "add a worker, give the worker VMs more RAM or lower the requests (see `go run . validate`)",
			"workloads request %s of memory but the %d workers have %s allocatable (VM RAM - %s Talos reserve each)",
			mib(cp.RequestedMemory), cp.Workers, mib(cp.AllocatableMemory), mib(WorkerReservedMemory())))
	}
	if cp.RequestedCPU.Cmp(cp.AllocatableCPU) > 0 {
		errs = append(errs, core.Errorf(p, "add a worker, give the worker VMs more cores or lower the requests",
			"workloads request %s of CPU but the %d workers have %s allocatable", millis(cp.RequestedCPU), cp.Workers, millis(cp.AllocatableCPU)))
	}
	if cp.PerNodeMemory.Cmp(cp.SmallestWorkerMemory) > 0 {
		errs = append(errs, core.Errorf(p, "give the smallest worker more RAM",
			"DaemonSets request %s on every worker but the smallest has %s allocatable", mib(cp.PerNodeMemory), mib(cp.SmallestWorkerMemory)))
	}
	// A pod lands on one node: it must fit what the largest node has left
	// once every DaemonSet took its share there, whatever the pool's sum.
	var roomCPU, roomMem resource.Quantity
	var largest string
	for _, n := range cp.Nodes {
		mem, cpu := n.Memory.DeepCopy(), n.CPU.DeepCopy()
		mem.Sub(cp.PerNodeMemory)
		cpu.Sub(cp.PerNodeCPU)
		if largest == "" || mem.Cmp(roomMem) > 0 {
			roomMem, largest = mem, n.Hostname
		}
		if cpu.Cmp(roomCPU) > 0 {
			roomCPU = cpu
		}
	}
	for _, l := range cp.Lines {
		if l.PerNode || l.Pods == 0 {
			continue
		}
		if l.PodMemory.Cmp(roomMem) > 0 {
			errs = append(errs, core.Errorf(l.Source, "lower the pod's memory request or give a worker VM more RAM",
				"one %s pod requests %s of memory but the largest node (%s) has %s left after DaemonSets (%s): the pod would stay Pending",
				l.Name, mib(l.PodMemory), largest, mib(roomMem), mib(cp.PerNodeMemory)))
		}
		if l.PodCPU.Cmp(roomCPU) > 0 {
			errs = append(errs, core.Errorf(l.Source, "lower the pod's CPU request or give a worker VM more cores",
				"one %s pod requests %s of CPU but no node has more than %s left after DaemonSets (%s): the pod would stay Pending",
				l.Name, millis(l.PodCPU), millis(roomCPU), millis(cp.PerNodeCPU)))
		}
	}
	return errs
}
