package talos

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/funoffshore/homelab/constructs/core"
)

// HostLoss is what the loss of one Proxmox host (a power supply, a
// kernel panic, an upgrade gone wrong) does to the cluster: the nodes
// whose VMs run on it go with it.
type HostLoss struct {
	// Host is the lost host's name.
	Host string
	// ControlPlanes are the control planes on the host, of Total.
	ControlPlanes []string
	Total         int
	// QuorumLost is true when the control planes left are not a majority
	// of the etcd members: etcd, and so the Kubernetes API, stops.
	QuorumLost bool
	// PoolLost are the nodes on the host that run workloads; PoolLeft the
	// number that remain.
	PoolLost []string
	PoolLeft int
	// Unschedulable says why the workloads no longer fit on the nodes
	// left ("" when they do).
	Unschedulable string
}

// Problems returns what the loss breaks, as sentences ("" for none).
func (l HostLoss) Problems() []string {
	var out []string
	if l.QuorumLost {
		out = append(out, fmt.Sprintf("loses etcd quorum (%d of %d control planes run on it: %s), so the Kubernetes API stops",
			len(l.ControlPlanes), l.Total, strings.Join(l.ControlPlanes, ", ")))
	}
	if l.Unschedulable != "" {
		out = append(out, l.Unschedulable)
	}
	return out
}

// HostLosses returns, for each Proxmox host that runs a node of the
// cluster, what its loss does, in host name order; none when the nodes
// run on fewer than two hosts (there is no failure domain to choose) or
// on none (bare metal).
func (c *Cluster) HostLosses() []HostLoss {
	hostOf := map[*Node]string{}
	var hosts []string
	for _, n := range c.nodes {
		if n.Machine == nil {
			continue
		}
		if h := n.Machine.FailureDomain(); h != "" {
			hostOf[n] = h
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	if len(hosts) < 2 {
		return nil
	}
	slices.Sort(hosts)
	cps := c.ControlPlanes()
	capacity := c.Capacity()
	var out []HostLoss
	for _, h := range hosts {
		l := HostLoss{Host: h, Total: len(cps)}
		for _, n := range cps {
			if hostOf[n] == h {
				l.ControlPlanes = append(l.ControlPlanes, n.Hostname)
			}
		}
		l.QuorumLost = len(cps) > 0 && len(cps)-len(l.ControlPlanes) < len(cps)/2+1
		var left []*Node
		for _, n := range c.pool() {
			if hostOf[n] == h {
				l.PoolLost = append(l.PoolLost, n.Hostname)
			} else {
				left = append(left, n)
			}
		}
		l.PoolLeft = len(left)
		if len(l.PoolLost) > 0 {
			l.Unschedulable = unschedulable(capacity, left, l.PoolLost)
		}
		out = append(out, l)
	}
	return out
}

// unschedulable says why the workloads of capacity do not fit on the
// nodes left after those lost went, "" when they do (or when a node left
// has no known size).
func unschedulable(capacity Capacity, left []*Node, lost []string) string {
	if len(left) == 0 {
		return fmt.Sprintf("leaves no node to run workloads (%s ran them), so every app stops", strings.Join(lost, ", "))
	}
	var mem, cpu resource.Quantity
	for _, n := range left {
		c, m, ok := n.Allocatable()
		if !ok {
			return ""
		}
		mem.Add(m)
		cpu.Add(c)
	}
	var wantMem, wantCPU resource.Quantity
	for _, l := range capacity.Lines {
		if l.PerNode {
			for range left {
				wantMem.Add(l.PodMemory)
				wantCPU.Add(l.PodCPU)
			}
			continue
		}
		wantMem.Add(l.Memory)
		wantCPU.Add(l.CPU)
	}
	switch {
	case wantMem.Cmp(mem) > 0:
		return fmt.Sprintf("leaves %d node(s) with %s allocatable for workloads requesting %s of memory, so pods stay Pending", len(left), mib(mem), mib(wantMem))
	case wantCPU.Cmp(cpu) > 0:
		return fmt.Sprintf("leaves %d node(s) with %s of CPU allocatable for workloads requesting %s, so pods stay Pending", len(left), millis(cpu), millis(wantCPU))
	}
	return ""
}

// hostLossFindings reports each host whose loss breaks the cluster, with
// the fix that fits the finding.
func (c *Cluster) hostLossFindings() []error {
	losses := c.HostLosses()
	var errs []error
	for _, l := range losses {
		p := l.Problems()
		if len(p) == 0 {
			continue
		}
		var fixes []string
		switch {
		case l.QuorumLost && l.Total < 3:
			fixes = append(fixes, "run 3 control planes, one per host (etcd keeps quorum when one of 3 is lost, never when 1 of 1 or 2 is)")
		case l.QuorumLost && len(losses) < 3:
			fixes = append(fixes, "add a third host: with two, one of them always runs a majority of the control planes")
		case l.QuorumLost:
			fixes = append(fixes, "spread the control planes over the hosts (pin their VMs with VMProps.Host)")
		}
		if l.Unschedulable != "" {
			fixes = append(fixes, "add workers on the other hosts or give them more RAM, or pin the worker VMs apart with VMProps.Host")
		}
		if !c.props.SurviveHostLoss {
			fixes = append(fixes, "this is a warning until SurviveHostLoss makes it an error")
		}
		errs = append(errs, core.Errorf(c.info.Path(), strings.Join(fixes, "; "), "losing Proxmox host %s %s", l.Host, strings.Join(p, " and ")))
	}
	return errs
}
