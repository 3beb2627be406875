package proxmox

import (
	"cmp"
	"fmt"
	"slices"

	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/core"
)

// Inventory is the hypervisor layer's desired state, written to
// cluster/proxmox/inventory.yaml: the hosts, the VMs with their placement,
// resources, MACs, IPs and exact Proxmox configuration, and the static
// DHCP leases the router needs. The deployer plans from this value, read
// back from the rendered file (ParseInventory), so what Git reviews is
// what deploy applies.
type Inventory struct {
	Hosts  []InventoryHost `json:"hosts"`
	VMs    []InventoryVM   `json:"vms"`
	Leases []Lease         `json:"dhcpLeases"`
}

// InventoryHost is a host in the inventory.
type InventoryHost struct {
	Name       string `json:"name"`
	Endpoint   string `json:"endpoint"`
	Cores      int    `json:"cores"`
	MemoryMiB  int64  `json:"memoryMiB"`
	ReserveMiB int64  `json:"reserveMiB"`
	Bridge     string `json:"bridge"`
	VMStorage  string `json:"vmStorage"`
	ISOStorage string `json:"isoStorage"`
	// TLSFingerprint pins the host's API certificate; empty when unpinned.
	TLSFingerprint string `json:"tlsFingerprint,omitempty"`
	// AllocatedMiB and VCPUs are what the VMs placed on the host use.
	AllocatedMiB int64 `json:"allocatedMiB"`
	VCPUs        int   `json:"vcpus"`
}

// InventoryVM is a VM in the inventory.
type InventoryVM struct {
	Name      string `json:"name"`
	VMID      int    `json:"vmid"`
	Host      string `json:"host"`
	Cores     int    `json:"cores"`
	MemoryMiB int64  `json:"memoryMiB"`
	DiskGiB   int    `json:"diskGiB"`
	Storage   string `json:"storage"`
	Bridge    string `json:"bridge"`
	VLAN      int    `json:"vlan,omitempty"`
	MAC       string `json:"mac"`
	IP        string `json:"ip,omitempty"`
	OnBoot    bool   `json:"onboot"`
	// BootISO is the ISO's download URL, BootISOFile its file name in the
	// host's ISO storage and BootISOSHA256 its checksum, which Proxmox
	// verifies the download with (empty: unverified).
	BootISO       string `json:"bootISO,omitempty"`
	BootISOFile   string `json:"bootISOFile,omitempty"`
	BootISOSHA256 string `json:"bootISOSHA256,omitempty"`
	// DataDisks are the disks beside the boot disk (virtio0, ...).
	DataDisks []DataDisk `json:"dataDisks,omitempty"`
	// Config is the VM's exact Proxmox configuration without disks
	// (VM.Config); Disks the config of its disks as created (VM.Disks).
	Config map[string]string `json:"config"`
	Disks  map[string]string `json:"disks"`
}

// Lease is a static DHCP lease.
type Lease struct {
	Hostname string `json:"hostname"`
	MAC      string `json:"mac"`
	IP       string `json:"ip"`
	VLAN     int    `json:"vlan,omitempty"`
}

// Inventory returns the datacenter's inventory.
func (d *Datacenter) Inventory() Inventory {
	placement := d.Placement()
	inv := Inventory{Hosts: []InventoryHost{}, VMs: []InventoryVM{}, Leases: []Lease{}}
	for _, h := range d.hosts {
		ih := InventoryHost{Name: h.Name, Endpoint: h.Endpoint, Cores: h.Cores, MemoryMiB: h.MemoryMiB, ReserveMiB: h.ReserveMiB,
			Bridge: h.Bridge, VMStorage: h.VMStorage, ISOStorage: h.ISOStorage, TLSFingerprint: h.TLSFingerprint}
		for _, v := range d.vms {
			if placement[v] == h {
				ih.AllocatedMiB += v.MemoryMiB
				ih.VCPUs += v.Cores
			}
		}
		inv.Hosts = append(inv.Hosts, ih)
	}
	for _, v := range d.vms {
		iv := InventoryVM{Name: v.Name, VMID: v.VMID, Cores: v.Cores, MemoryMiB: v.MemoryMiB, DiskGiB: v.DiskGiB,
			Storage: v.Storage(), Bridge: v.Bridge(), VLAN: v.VLAN, MAC: v.MAC, OnBoot: v.OnBoot,
			Config: v.Config(), Disks: v.Disks(), BootISOSHA256: v.BootISOChecksum()}
		if h := placement[v]; h != nil {
			iv.Host = h.Name
		}
		if v.address.IsValid() {
			iv.IP = v.address.String()
			inv.Leases = append(inv.Leases, Lease{Hostname: v.Name, MAC: v.MAC, IP: iv.IP, VLAN: v.VLAN})
		}
		iv.BootISO, iv.BootISOFile = v.BootISO()
		iv.DataDisks = v.DataDisks()
		inv.VMs = append(inv.VMs, iv)
	}
	// The order of hosts and VMs in the model has no meaning: sort, so a
	// model filled from a Go map renders the same file every time.
	slices.SortFunc(inv.Hosts, func(a, b InventoryHost) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(inv.VMs, func(a, b InventoryVM) int { return cmp.Compare(a.VMID, b.VMID) })
	slices.SortFunc(inv.Leases, func(a, b Lease) int { return cmp.Compare(a.Hostname, b.Hostname) })
	return inv
}

// ParseInventory reads an inventory as RenderFiles writes it.
func ParseInventory(data []byte) (Inventory, error) {
	var inv Inventory
	if err := yaml.UnmarshalStrict(data, &inv); err != nil {
		return Inventory{}, fmt.Errorf("inventory: %w", err)
	}
	return inv, nil
}

// InventoryPath is where the inventory is written, relative to the
// output directory.
func (d *Datacenter) InventoryPath() string { return d.props.InventoryPath }

// RenderFiles writes the inventory.
func (d *Datacenter) RenderFiles() ([]core.File, error) {
	data, err := yaml.Marshal(d.Inventory())
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return []core.File{{Path: d.props.InventoryPath, Data: data}}, nil
}
