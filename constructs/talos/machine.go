package talos

import "github.com/funoffshore/homelab/constructs/core"

// Machine is what a node runs on: a Proxmox VM (proxmox.VM implements it)
// or any other machine, bare metal included. The OS layer knows a machine
// only through this interface.
type Machine interface {
	// Info is the machine's place in the tree.
	Info() *core.Info
	// MachineName names the machine; the node's hostname by default.
	MachineName() string
	// Size is what the OS sees: vCPUs, memory and the system disk.
	Size() core.MachineSize
	// FailureDomain names what fails with the machine (its hypervisor
	// host); "" when unknown.
	FailureDomain() string
	// InstallDiskProblem says what is wrong with installing the OS to
	// disk on this machine (a device of another bus than its boot disk's)
	// and the fix; "" when nothing is.
	InstallDiskProblem(disk string) (problem, fix string)
	// Identity is what the machine reports about itself: its SMBIOS
	// system UUID and its NIC's MAC address.
	Identity() (systemUUID, mac string)
	// Provision gives the machine what the OS layer decided for it.
	Provision(p core.Provisioning)
}
