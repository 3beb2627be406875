package core

import "net/netip"

// DataDisk is a disk beside a machine's boot disk that the OS layer asks
// the machine for, for a user volume: the guest finds it by its serial,
// the disk's name.
type DataDisk struct {
	Name    string
	SizeGiB int
}

// Provisioning is what the OS layer decides for the machine a node runs
// on, and gives it (talos.Machine.Provision): a neutral value, so that
// neither the OS layer nor the hypervisor imports the other.
type Provisioning struct {
	// Address is the node's IP: the machine's static DHCP lease.
	Address netip.Addr
	// SpreadGroup groups machines that should fail apart (the nodes of
	// one role): placement puts them on different hosts as far as they
	// fit.
	SpreadGroup string
	// BootISO returns the download URL and file name of the ISO the
	// machine boots until the OS is installed, and BootISOSHA256 its
	// checksum ("" when unknown). Called at render time.
	BootISO       func() (url, file string)
	BootISOSHA256 string
	// DataDisks returns the data disks the machine needs, called at
	// render time so it follows the needs of the whole tree.
	DataDisks func() []DataDisk
}

// MachineSize is a machine's size as the OS sees it: vCPUs, memory and
// its system disk.
type MachineSize struct {
	Cores     int
	MemoryMiB int64
	DiskGiB   int
}
