package talos

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/funoffshore/homelab/constructs/core"
)

// Memory Talos keeps from pods on each node (kubelet and system reserved).
var (
	ControlPlaneReservedMemory = resource.MustParse("512Mi")
	WorkerReservedMemory       = resource.MustParse("384Mi")
	// ReservedCPU is the CPU Talos keeps on every node.
	ReservedCPU = resource.MustParse("100m")
)

// CapacityLine is one workload's share of the worker pool.
type CapacityLine struct {
	Source, Name string
	Pods         int
	CPU, Memory  resource.Quantity
}

// Capacity is what the workloads request of the worker pool (control
// planes are tainted NoSchedule by Talos) against what it has.
type Capacity struct {
	Workers                           int
	AllocatableCPU, AllocatableMemory resource.Quantity
	RequestedCPU, RequestedMemory     resource.Quantity
	// SmallestWorkerMemory is the allocatable memory of the smallest worker;
	// PerNodeMemory what every worker must hold for DaemonSets.
	SmallestWorkerMemory, PerNodeMemory resource.Quantity
	Lines                               []CapacityLine
}

// Capacity sums the tree's workloads on the worker pool.
func (c *Cluster) Capacity() Capacity {
	var cp Capacity
	first := true
	for _, n := range c.Workers() {
		if n.VM == nil {
			continue
		}
		cp.Workers++
		mem := *resource.NewQuantity(n.VM.MemoryMiB*1024*1024, resource.BinarySI)
		mem.Sub(WorkerReservedMemory)
		cpu := *resource.NewMilliQuantity(int64(n.VM.Cores)*1000, resource.DecimalSI)
		cpu.Sub(ReservedCPU)
		cp.AllocatableMemory.Add(mem)
		cp.AllocatableCPU.Add(cpu)
		if first || mem.Cmp(cp.SmallestWorkerMemory) < 0 {
			cp.SmallestWorkerMemory = mem
			first = false
		}
	}
	for _, w := range c.info.Tree().Workloads() {
		if w.Roles == core.ControlPlanes {
			continue
		}
		pods := w.Replicas
		if w.PerNode {
			pods = cp.Workers
			cp.PerNodeMemory.Add(w.Memory)
		}
		line := CapacityLine{Source: w.Source, Name: w.Name, Pods: pods}
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
	fmt.Fprintf(&b, "%-64s %5s %8s %9s\n", "workload (worker pool)", "pods", "cpu", "memory")
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
	if cp.Workers == 0 {
		return nil
	}
	var errs []error
	p := c.info.Path()
	if cp.RequestedMemory.Cmp(cp.AllocatableMemory) > 0 {
		errs = append(errs, core.Errorf(p, "add a worker, give the worker VMs more RAM or lower the requests (see `homelab validate`)",
			"workloads request %s of memory but the %d workers have %s allocatable (VM RAM - %s Talos reserve each)",
			mib(cp.RequestedMemory), cp.Workers, mib(cp.AllocatableMemory), mib(WorkerReservedMemory)))
	}
	if cp.RequestedCPU.Cmp(cp.AllocatableCPU) > 0 {
		errs = append(errs, core.Errorf(p, "add a worker, give the worker VMs more cores or lower the requests",
			"workloads request %s of CPU but the %d workers have %s allocatable", millis(cp.RequestedCPU), cp.Workers, millis(cp.AllocatableCPU)))
	}
	if cp.PerNodeMemory.Cmp(cp.SmallestWorkerMemory) > 0 {
		errs = append(errs, core.Errorf(p, "give the smallest worker more RAM",
			"DaemonSets request %s on every worker but the smallest has %s allocatable", mib(cp.PerNodeMemory), mib(cp.SmallestWorkerMemory)))
	}
	return errs
}
