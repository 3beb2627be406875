package talosdisk_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/siderolabs/talos/pkg/machinery/cel"
	"github.com/siderolabs/talos/pkg/machinery/cel/celenv"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/pkg/oracle/talosdisk"
)

func TestVM(t *testing.T) {
	type seen struct {
		Dev, Transport, Serial, Wwid, Model string
		Stable                              bool
	}
	for _, tc := range []struct {
		name   string
		scsihw string
		disks  []talosdisk.Disk
		want   []seen
	}{{
		name:   "a serial on a virtio-scsi disk does not reach Talos",
		scsihw: "virtio-scsi-single",
		disks:  []talosdisk.Disk{{Key: "scsi0", SizeGiB: 32}, {Key: "scsi1", SizeGiB: 50, Serial: "longhorn"}},
		want: []seen{
			{Dev: "/dev/sda", Transport: "virtio", Model: "QEMU HARDDISK"},
			{Dev: "/dev/sdb", Transport: "virtio", Model: "QEMU HARDDISK"},
		},
	}, {
		name:   "a virtio-blk disk reports its serial and leaves sda to the boot disk",
		scsihw: "virtio-scsi-single",
		disks:  []talosdisk.Disk{{Key: "ide2", CDROM: true}, {Key: "scsi0", SizeGiB: 32}, {Key: "virtio0", SizeGiB: 50, Serial: "longhorn"}},
		want: []seen{
			{Dev: "/dev/sr0", Transport: "ata", Model: "QEMU DVD-ROM", Stable: true},
			{Dev: "/dev/sda", Transport: "virtio", Model: "QEMU HARDDISK", Stable: true},
			{Dev: "/dev/vda", Transport: "virtio", Serial: "longhorn", Stable: true},
		},
	}, {
		name:   "a wwn becomes an NAA wwid",
		scsihw: "virtio-scsi-pci",
		disks:  []talosdisk.Disk{{Key: "scsi0", SizeGiB: 32, WWN: "0x5000C50015EA71AC"}},
		want:   []seen{{Dev: "/dev/sda", Transport: "virtio", Model: "QEMU HARDDISK", Wwid: "naa.5000c50015ea71ac", Stable: true}},
	}, {
		name:  "virtio-blk keeps 20 bytes of a serial",
		disks: []talosdisk.Disk{{Key: "virtio3", SizeGiB: 1, Serial: "abcdefghijklmnopqrstuvwxyz"}},
		want:  []seen{{Dev: "/dev/vda", Transport: "virtio", Serial: "abcdefghijklmnopqrst", Stable: true}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := talosdisk.VM(tc.scsihw, tc.disks)
			require.NoError(t, err)
			var have []seen
			for _, r := range got {
				// The first case's two SCSI disks may swap names.
				stable := r.StableName
				if len(tc.disks) == 2 && tc.disks[1].Key == "scsi1" {
					require.False(t, stable)
					stable = false
				}
				have = append(have, seen{Dev: r.Spec.DevPath, Transport: r.Spec.Transport, Serial: r.Spec.Serial, Wwid: r.Spec.Wwid, Model: r.Spec.Model, Stable: stable})
			}
			if diff := cmp.Diff(tc.want, have); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestVMRefusesWhatItDoesNotEncode(t *testing.T) {
	for _, tc := range []struct {
		scsihw string
		disk   talosdisk.Disk
	}{
		{"lsi", talosdisk.Disk{Key: "scsi0", SizeGiB: 1}},
		{"virtio-scsi-single", talosdisk.Disk{Key: "sata0", SizeGiB: 1}},
		{"virtio-scsi-single", talosdisk.Disk{Key: "virtio0", SizeGiB: 1, WWN: "0x5000c50015ea71ac"}},
		{"virtio-scsi-single", talosdisk.Disk{Key: "efidisk0", SizeGiB: 1}},
	} {
		_, err := talosdisk.VM(tc.scsihw, []talosdisk.Disk{tc.disk})
		require.Error(t, err, "%s %+v", tc.scsihw, tc.disk)
	}
}

func TestMatchSkipsReadOnlyAndSeesTheSystemDisk(t *testing.T) {
	disks, err := talosdisk.VM("virtio-scsi-single", []talosdisk.Disk{{Key: "ide2", CDROM: true}, {Key: "scsi0", SizeGiB: 32}, {Key: "virtio0", SizeGiB: 50, Serial: "data"}})
	require.NoError(t, err)
	for expr, want := range map[string][]string{
		"system_disk":                  {"scsi0"},
		"!system_disk":                 {"virtio0"},
		`disk.serial == "data"`:        {"virtio0"},
		`disk.transport == "virtio"`:   {"scsi0", "virtio0"},
		"disk.size > 0u":               {"scsi0", "virtio0"},
		`disk.model == "QEMU DVD-ROM"`: nil,
	} {
		e, err := cel.ParseBooleanExpression(expr, celenv.DiskLocator())
		require.NoError(t, err)
		got, err := talosdisk.Match(e, disks, "/dev/sda")
		require.NoError(t, err)
		require.Equal(t, want, got, expr)
	}
}

func TestFromConfig(t *testing.T) {
	scsihw, disks, err := talosdisk.FromConfig(map[string]string{
		"scsihw":  "virtio-scsi-single",
		"scsi0":   "local-lvm:vm-111-disk-0,iothread=1,size=32G",
		"virtio0": "local-lvm:50,iothread=1,serial=longhorn",
		"ide2":    "local:iso/talos.iso,media=cdrom",
		"net0":    "virtio=02:00:00:00:00:01,bridge=vmbr0",
	})
	require.NoError(t, err)
	require.Equal(t, "virtio-scsi-single", scsihw)
	require.Equal(t, []talosdisk.Disk{
		{Key: "ide2", SizeGiB: 1, CDROM: true},
		{Key: "scsi0", SizeGiB: 32},
		{Key: "virtio0", SizeGiB: 50, Serial: "longhorn"},
	}, disks)
	scsihw, _, err = talosdisk.FromConfig(map[string]string{"scsi0": "local-lvm:8"})
	require.NoError(t, err)
	require.Equal(t, "lsi", scsihw, "Proxmox's default controller")
}

// A data disk on the SCSI bus reaches Talos without the serial Proxmox
// gave it; on virtio-blk the serial selects it.
func Example() {
	for _, key := range []string{"scsi1", "virtio0"} {
		disks, _ := talosdisk.VM("virtio-scsi-single", []talosdisk.Disk{{Key: "scsi0", SizeGiB: 32}, {Key: key, SizeGiB: 50, Serial: "longhorn"}})
		sel, _ := cel.ParseBooleanExpression(`disk.serial == "longhorn"`, celenv.DiskLocator())
		picked, _ := talosdisk.Match(sel, disks, "/dev/sda")
		fmt.Printf("%s: %v\n", key, picked)
	}
	// Output:
	// scsi1: []
	// virtio0: [virtio0]
}
