package proxmox

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/core"
)

// DatacenterProps configures a Datacenter.
type DatacenterProps struct {
	// InventoryPath is where the inventory is written, relative to the
	// output root. Default: "proxmox/inventory.yaml".
	InventoryPath string
}

// Datacenter is a set of Proxmox hosts and the VMs placed on them. VMs
// without a host are placed automatically: largest first, each on a host
// that fits it, preferring the host with the fewest VMs of its spread
// group (core.Provisioning.SpreadGroup: the control planes, the workers), then the one
// with the most free memory. A VM pinned to a host stays there and counts
// for its group.
type Datacenter struct {
	constructs.Construct
	info *core.Info

	hosts []*Host
	vms   []*VM
	props DatacenterProps
}

// NewDatacenter adds an empty datacenter below scope.
func NewDatacenter(scope constructs.Construct, id string, props *DatacenterProps) *Datacenter {
	props = cmp.Or(props, &DatacenterProps{})
	d := &Datacenter{props: *props}
	d.props.InventoryPath = cmp.Or(d.props.InventoryPath, "proxmox/inventory.yaml")
	d.info = core.Init(d, scope, id)
	d.info.Tree().AddValidation(d.validate)
	d.info.Tree().AddFileRenderer(d)
	return d
}

// Info returns the construct's place in the tree.
func (d *Datacenter) Info() *core.Info { return d.info }

// ToString overrides the jsii method; it returns the construct path.
func (d *Datacenter) ToString() *string { return core.PathString(d.info) }

// Hosts returns the hosts in creation order.
func (d *Datacenter) Hosts() []*Host { return d.hosts }

// VMs returns the VMs in creation order.
func (d *Datacenter) VMs() []*VM { return d.vms }

// Placement returns the host of every VM: its own Host, or the one
// automatic placement chooses. A VM that fits nowhere maps to nil.
func (d *Datacenter) Placement() map[*VM]*Host {
	out := map[*VM]*Host{}
	free := map[*Host]int64{}
	for _, h := range d.hosts {
		free[h] = h.UsableMemoryMiB()
	}
	// spread counts the VMs of each spread group on each host.
	type slot struct {
		host  *Host
		group string
	}
	spread := map[slot]int{}
	var auto []*VM
	for _, v := range d.vms {
		if v.props.Host != nil {
			out[v] = v.props.Host
			free[v.props.Host] -= v.MemoryMiB
			spread[slot{v.props.Host, v.spreadGroup}]++
			continue
		}
		auto = append(auto, v)
	}
	sort.SliceStable(auto, func(i, j int) bool {
		if auto[i].MemoryMiB != auto[j].MemoryMiB {
			return auto[i].MemoryMiB > auto[j].MemoryMiB
		}
		return auto[i].Name < auto[j].Name
	})
	// Ties go to the host whose name sorts first, whatever the order the
	// hosts were added in.
	hosts := slices.SortedFunc(slices.Values(d.hosts), func(a, b *Host) int { return cmp.Compare(a.Name, b.Name) })
	for _, v := range auto {
		var best *Host
		for _, h := range hosts {
			if free[h] < v.MemoryMiB {
				continue
			}
			if best == nil {
				best = h
				continue
			}
			mine, theirs := spread[slot{h, v.spreadGroup}], spread[slot{best, v.spreadGroup}]
			if v.spreadGroup != "" && mine != theirs {
				if mine < theirs {
					best = h
				}
				continue
			}
			if free[h] > free[best] {
				best = h
			}
		}
		out[v] = best
		if best != nil {
			free[best] -= v.MemoryMiB
			spread[slot{best, v.spreadGroup}]++
		}
	}
	return out
}

func (d *Datacenter) validate() []error {
	var errs []error
	p := d.info.Path()
	if len(d.hosts) == 0 {
		errs = append(errs, core.Errorf(p, "add a host with AddHost", "the datacenter has no host"))
		return errs
	}
	seen := func(kind string) func(key, path string) {
		m := map[string]string{}
		return func(key, path string) {
			if first, ok := m[key]; ok {
				errs = append(errs, core.Errorf(path, "give each "+kind+" its own value", "%s %q is already used by %q", kind, key, first))
				return
			}
			m[key] = path
		}
	}
	hostNames, vmNames, vmids, macs := seen("host name"), seen("VM name"), seen("vmid"), seen("MAC address")
	for _, h := range d.hosts {
		hostNames(h.Name, h.info.Path())
	}
	for _, v := range d.vms {
		vmNames(v.Name, v.info.Path())
		vmids(fmt.Sprint(v.VMID), v.info.Path())
		macs(v.MAC, v.info.Path())
	}
	placement := d.Placement()
	used := map[*Host]int64{}
	vcpus := map[*Host]int{}
	var unplaced []*VM
	for _, v := range d.vms {
		h := placement[v]
		if h == nil {
			unplaced = append(unplaced, v)
			continue
		}
		used[h] += v.MemoryMiB
		vcpus[h] += v.Cores
		if v.Cores > h.Cores {
			errs = append(errs, core.Errorf(v.info.Path(), fmt.Sprintf("give the VM at most %d cores, or place it on a larger host", h.Cores),
				"VM %q has %d vCPUs but its host %s has %d cores, and Proxmox refuses to start a VM with more vCPUs than its host", v.Name, v.Cores, h.Name, h.Cores))
		}
	}
	for _, v := range unplaced {
		errs = append(errs, core.Errorf(v.info.Path(), "add a host or shrink the VMs",
			"VM %q needs %s but no host has that much free (%s)", v.Name, gib(v.MemoryMiB), d.freeSummary(placement)))
	}
	for _, h := range d.hosts {
		if used[h] > h.UsableMemoryMiB() {
			errs = append(errs, core.Errorf(h.info.Path(), "add a host or shrink a VM",
				"VMs %s need %s but %s is free (%s - %s reserve)", d.vmNames(placement, h), gib(used[h]), gib(h.UsableMemoryMiB()), gib(h.MemoryMiB), gib(h.ReserveMiB)))
		}
		if limit := h.VCPULimit(); vcpus[h] > limit {
			errs = append(errs, core.Errorf(h.info.Path(), "add a host, give the VMs fewer cores or raise CPUOvercommit",
				"VMs %s have %d vCPUs but the host allows %d (%d cores x %.1f overcommit)", d.vmNames(placement, h), vcpus[h], limit, h.Cores, h.CPUOvercommit))
		}
	}
	return errs
}

func (d *Datacenter) vmNames(placement map[*VM]*Host, h *Host) string {
	var names []string
	for _, v := range d.vms {
		if placement[v] == h {
			names = append(names, v.Name)
		}
	}
	return strings.Join(names, "+")
}

func (d *Datacenter) freeSummary(placement map[*VM]*Host) string {
	var parts []string
	for _, h := range d.hosts {
		free := h.UsableMemoryMiB()
		for v, ph := range placement {
			if ph == h {
				free -= v.MemoryMiB
			}
		}
		parts = append(parts, fmt.Sprintf("%s: %s free", h.Name, gib(free)))
	}
	return strings.Join(parts, ", ")
}

func gib(mib int64) string {
	if mib%1024 == 0 {
		return fmt.Sprintf("%d GiB", mib/1024)
	}
	return fmt.Sprintf("%.1f GiB", float64(mib)/1024)
}
