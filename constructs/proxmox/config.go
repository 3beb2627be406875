package proxmox

import (
	"fmt"
	"strconv"
	"strings"
)

// Config is the VM's exact Proxmox configuration without its disks: the
// parameters deploy creates the VM with and keeps it at (POST
// /nodes/{node}/qemu, then /config). It is rendered into the inventory,
// so what Git reviews is what deploy applies.
func (v *VM) Config() map[string]string {
	cfg := map[string]string{
		"name":   v.Name,
		"cores":  strconv.Itoa(v.Cores),
		"memory": strconv.FormatInt(v.MemoryMiB, 10),
		"cpu":    "host",
		"scsihw": SCSIController,
		"agent":  "1",
		"onboot": boolString(v.OnBoot),
		"ostype": "l26",
		"boot":   "order=" + BootDiskKey + ";ide2",
		"net0":   v.netConfig(),
		// The guest reports this UUID; the OS layer checks it before it
		// sends the machine any secret.
		"smbios1": "uuid=" + v.SystemUUID(),
		"sockets": "1",
		// No ballooning: the kubelet sizes pods by the memory it sees.
		"balloon": "0",
	}
	if _, file := v.BootISO(); file != "" && v.Host() != nil {
		cfg["ide2"] = v.Host().ISOStorage + ":iso/" + file + ",media=cdrom"
	}
	return cfg
}

// Disks is the config of the VM's disks as deploy creates them: the boot
// disk on the SCSI controller and each data disk on virtio-blk, carrying
// its name as serial, which the guest's volume config selects it by.
func (v *VM) Disks() map[string]string {
	cfg := map[string]string{BootDiskKey: fmt.Sprintf("%s:%d,iothread=1", v.Storage(), v.DiskGiB)}
	for _, dd := range v.DataDisks() {
		cfg[dd.Key] = dd.Config(v.Storage())
	}
	return cfg
}

func (v *VM) netConfig() string {
	s := "virtio=" + strings.ToUpper(v.MAC) + ",bridge=" + v.Bridge()
	if v.VLAN > 0 {
		s += ",tag=" + strconv.Itoa(v.VLAN)
	}
	return s
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
