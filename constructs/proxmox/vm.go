package proxmox

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/core"
)

// VMProps configures a VM.
type VMProps struct {
	// Name of the VM; also its hostname. Default: the construct id.
	Name string
	// VMID is the Proxmox VM id (100-999999999). Required.
	VMID int
	// Cores is the number of vCPUs. Default: 2.
	Cores int
	// MemoryGiB is the RAM. Default: 4.
	MemoryGiB int
	// DiskGiB is the size of the boot disk. Default: 32.
	DiskGiB int
	// Host pins the VM to a host. Default: automatic placement.
	Host *Host
	// Storage is the pool for the disk. Default: the host's VMStorage.
	Storage string
	// Bridge the NIC attaches to. Default: the host's bridge.
	Bridge string
	// VLAN tag of the NIC; 0 for untagged.
	VLAN int
	// MAC overrides the derived MAC address. Default: derived from the
	// VM name, locally administered, stable across rebuilds.
	MAC string
	// OnBoot starts the VM with the host. Default: true.
	OnBoot *bool
}

// VM is a Proxmox QEMU VM: CPU type host, a boot disk on virtio-scsi-single
// (data disks on virtio-blk), a virtio
// NIC with a fixed MAC, QEMU guest agent on, booting an ISO until installed.
type VM struct {
	constructs.Construct
	info *core.Info

	// Props after defaults.
	Name            string
	VMID, Cores     int
	MemoryMiB       int64
	DiskGiB         int
	VLAN            int
	MAC             string
	OnBoot          bool
	storage, bridge string
	props           VMProps
	dc              *Datacenter
	address         netip.Addr
	bootISO         func() (url, file string)
	bootISOSum      string
	dataDisks       func() []core.DataDisk
	spreadGroup     string
}

// AddVM adds a VM to the datacenter. It declares the QEMU guest agent
// extension as a need of the nodes it will run.
func (d *Datacenter) AddVM(id string, props *VMProps) *VM {
	props = cmp.Or(props, &VMProps{})
	p := *props
	v := &VM{Name: p.Name, VMID: p.VMID, Cores: p.Cores, MemoryMiB: int64(p.MemoryGiB) * 1024, DiskGiB: p.DiskGiB, VLAN: p.VLAN, MAC: p.MAC, props: p, dc: d, OnBoot: true}
	v.Name = cmp.Or(v.Name, id)
	v.Cores = cmp.Or(v.Cores, 2)
	if p.MemoryGiB == 0 {
		v.MemoryMiB = 4 * 1024
	}
	v.DiskGiB = cmp.Or(v.DiskGiB, 32)
	if p.OnBoot != nil {
		v.OnBoot = *p.OnBoot
	}
	v.MAC = cmp.Or(v.MAC, DeriveMAC(v.Name))
	v.info = core.Init(v, d, id)
	d.vms = append(d.vms, v)
	t := v.info.Tree()
	t.AddValidation(v.validate)
	core.NodeNeeds.Of(t).Add(core.NodeNeed{Source: v.info.Path(), Extensions: []string{"siderolabs/qemu-guest-agent"}})
	return v
}

// Info returns the construct's place in the tree.
func (v *VM) Info() *core.Info { return v.info }

// ToString overrides the jsii method; it returns the construct path.
func (v *VM) ToString() *string { return core.PathString(v.info) }

// DeriveSystemUUID returns the SMBIOS system UUID the VM gets (a version 4
// form derived from the VM name, stable across rebuilds). The guest reports
// it, so the deployer can tell the VM it made from any other machine
// answering on the node's address.
func DeriveSystemUUID(name string) string {
	sum := sha256.Sum256([]byte("homelab/vm-uuid/" + name))
	sum[6] = sum[6]&0x0f | 0x40
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// SystemUUID returns the SMBIOS system UUID of the VM.
func (v *VM) SystemUUID() string { return DeriveSystemUUID(v.Name) }

// DeriveMAC returns a locally administered unicast MAC address derived from
// a VM name: the same name always gets the same address.
func DeriveMAC(name string) string {
	sum := sha256.Sum256([]byte("homelab/vm/" + name))
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", sum[0], sum[1], sum[2], sum[3], sum[4])
}

// Host returns the host the VM is placed on, or nil when it fits nowhere.
func (v *VM) Host() *Host { return v.dc.Placement()[v] }

// Storage returns the storage pool of the disk.
func (v *VM) Storage() string {
	if v.props.Storage != "" {
		return v.props.Storage
	}
	if h := v.Host(); h != nil {
		return h.VMStorage
	}
	return ""
}

// Bridge returns the bridge the NIC attaches to.
func (v *VM) Bridge() string {
	if v.props.Bridge != "" {
		return v.props.Bridge
	}
	if h := v.Host(); h != nil {
		return h.Bridge
	}
	return "vmbr0"
}

// DiskKey matches the Proxmox config keys of disks ("scsi0", "virtio1",
// "ide2"): the bus, then the index.
var DiskKey = regexp.MustCompile(`^(scsi|virtio|sata|ide)(\d+)$`)

// SCSIController is the VM's SCSI controller (Proxmox's scsihw): one
// virtio-scsi controller per disk.
const SCSIController = "virtio-scsi-single"

// BootDiskKey is the Proxmox config key of the boot disk: the VM's only
// SCSI disk, so the guest names it /dev/sda on every boot.
const BootDiskKey = "scsi0"

// ConfigISOKey is the Proxmox config key of the CD-ROM that carries a
// node's first machine config (see the deployer's Delivery), beside the
// boot ISO on ide2.
const ConfigISOKey = "ide3"

// DataDisk is a virtual disk beside the boot disk, for a user volume. The
// guest finds it by its serial, the disk's name.
//
// Data disks are virtio-blk devices (Proxmox "virtioN"), not SCSI disks:
// Talos reads a disk's serial only from sysfs, where virtio-blk publishes
// it (/sys/block/vdX/serial) and a disk behind virtio-scsi does not, so a
// SCSI data disk would reach Talos with an empty serial and no selector
// could find it (pkg/oracle/talosdisk cites the sources). Keeping them
// off the SCSI bus also leaves the boot disk the only /dev/sdX.
type DataDisk struct {
	Name    string `json:"name"`
	SizeGiB int    `json:"sizeGiB"`
	// Key is the Proxmox config key of the disk ("virtio0", ...), set by
	// VM.DataDisks.
	Key string `json:"key,omitempty"`
}

// MaxSerialLen is how long a data disk's name may be: Proxmox passes at
// most 20 bytes of a serial to the guest, and virtio-blk carries 20
// (VIRTIO_BLK_ID_BYTES).
const MaxSerialLen = 20

// Config returns the value of the disk's Proxmox config key that creates
// it on storage.
func (d DataDisk) Config(storage string) string {
	return fmt.Sprintf("%s:%d,iothread=1,serial=%s", storage, d.SizeGiB, d.Name)
}

// Provision records what the OS layer decided for the VM (the
// talos.Machine the VM is): its address (its static DHCP lease), its
// spread group (automatic placement puts the VMs of one group on
// different hosts as far as they fit, so that one host's loss takes as
// few of them as it can; a VM pinned with VMProps.Host stays where it
// is), the ISO it boots and its data disks.
func (v *VM) Provision(p core.Provisioning) {
	v.address, v.spreadGroup = p.Address, p.SpreadGroup
	v.bootISO, v.bootISOSum = p.BootISO, p.BootISOSHA256
	v.dataDisks = p.DataDisks
}

// MachineName is the VM's name.
func (v *VM) MachineName() string { return v.Name }

// Size is the VM's vCPUs, memory and boot disk.
func (v *VM) Size() core.MachineSize {
	return core.MachineSize{Cores: v.Cores, MemoryMiB: v.MemoryMiB, DiskGiB: v.DiskGiB}
}

// FailureDomain is the host the VM is placed on; "" when it fits
// nowhere.
func (v *VM) FailureDomain() string {
	if h := v.Host(); h != nil {
		return h.Name
	}
	return ""
}

// InstallDiskProblem refuses an install disk off the SCSI bus: the boot
// disk is the VM's only SCSI disk (virtio-scsi-single), /dev/sdX.
func (v *VM) InstallDiskProblem(disk string) (problem, fix string) {
	if strings.HasPrefix(disk, "/dev/sd") {
		return "", ""
	}
	return fmt.Sprintf("install disk %q does not match the VM's disk bus (scsi)", disk), `use "/dev/sda": the VM's disk is on virtio-scsi`
}

// Identity is what the guest reports: the SMBIOS UUID and the MAC the VM
// is created with.
func (v *VM) Identity() (systemUUID, mac string) { return v.SystemUUID(), v.MAC }

// DataDisks returns the VM's data disks (virtio0, virtio1, ...), by name.
func (v *VM) DataDisks() []DataDisk {
	if v.dataDisks == nil {
		return nil
	}
	var out []DataDisk
	for _, d := range v.dataDisks() {
		out = append(out, DataDisk{Name: d.Name, SizeGiB: d.SizeGiB})
	}
	slices.SortFunc(out, func(a, b DataDisk) int { return cmp.Compare(a.Name, b.Name) })
	for i := range out {
		out[i].Key = fmt.Sprintf("virtio%d", i)
	}
	return out
}

// SpreadGroup returns the VM's spread group ("" for none).
func (v *VM) SpreadGroup() string { return v.spreadGroup }

// Address returns the VM's leased IP address (invalid when unset).
func (v *VM) Address() netip.Addr { return v.address }

// BootISOChecksum returns the ISO's SHA-256, "" when unknown.
func (v *VM) BootISOChecksum() string { return v.bootISOSum }

// BootISO returns the ISO's download URL and file name, empty when unset.
func (v *VM) BootISO() (url, file string) {
	if v.bootISO == nil {
		return "", ""
	}
	return v.bootISO()
}

var macPattern = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

func (v *VM) validate() []error {
	var errs []error
	p := v.info.Path()
	if v.VMID < 100 || v.VMID > 999999999 {
		errs = append(errs, core.Errorf(p, "set VMProps.VMID between 100 and 999999999", "vmid %d is outside Proxmox's range", v.VMID))
	}
	if !dnsLabel(v.Name) {
		errs = append(errs, core.Errorf(p, "use lowercase letters, digits and '-', at most 63", "VM name %q is not a valid DNS label", v.Name))
	}
	if !macPattern.MatchString(v.MAC) {
		errs = append(errs, core.Errorf(p, `use six lowercase hex pairs such as "02:ab:cd:ef:01:23"`, "MAC %q is malformed", v.MAC))
	} else if hw, err := net.ParseMAC(v.MAC); err == nil {
		switch {
		case hw[0]&1 == 1:
			errs = append(errs, core.Errorf(p, `use a unicast address (even first octet), such as "02:ab:cd:ef:01:23", or leave MAC empty to derive one`, "MAC %s is a multicast address, which no NIC can own", v.MAC))
		case bytes.Equal(hw, make(net.HardwareAddr, 6)):
			errs = append(errs, core.Errorf(p, "leave MAC empty to derive one from the VM name", "MAC %s is the all-zero address", v.MAC))
		}
	}
	if v.VLAN < 0 || v.VLAN > 4094 {
		errs = append(errs, core.Errorf(p, "use a VLAN tag from 1 to 4094, or 0 for none", "VLAN %d is out of range", v.VLAN))
	}
	if v.Cores < 1 || v.MemoryMiB < 1024 || v.DiskGiB < 1 {
		errs = append(errs, core.Errorf(p, "give the VM at least 1 core, 1 GiB RAM and a 1 GiB disk (the OS on it needs more)",
			"VM has %d cores, %s RAM, %d GiB disk", v.Cores, gib(v.MemoryMiB), v.DiskGiB))
	}
	disks := v.DataDisks()
	if len(disks) > 16 {
		errs = append(errs, core.Errorf(p, "give the volumes fewer disks of their own (Proxmox has virtio0 to virtio15)", "VM needs %d data disks", len(disks)))
	}
	for _, dd := range disks {
		if len(dd.Name) > MaxSerialLen || !dnsLabel(dd.Name) {
			errs = append(errs, core.Errorf(p, fmt.Sprintf("name the volume with at most %d lowercase letters, digits and '-'", MaxSerialLen),
				"data disk %q cannot be the disk's serial, which the guest finds it by", dd.Name))
		}
	}
	if v.props.Host != nil && v.props.Host.info.Tree() != v.info.Tree() {
		errs = append(errs, core.Errorf(p, "pin the VM to a host of this homelab", "host %q is not in this homelab", v.props.Host.Name))
	}
	return errs
}

var dnsLabelPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func dnsLabel(s string) bool { return dnsLabelPattern.MatchString(s) }
