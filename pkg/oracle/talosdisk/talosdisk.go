// Package talosdisk says what Talos' block controller reports for the
// disks of a Proxmox VM, so the disk selectors the tree renders can be
// evaluated with Talos' own CEL environment against the disks a real VM
// shows, not against the serial the tree thinks it gave them.
//
// Each rule names the source it encodes. The Talos sources are those of
// github.com/siderolabs/talos v1.13.9 (the version the homelab pins) and
// its github.com/siderolabs/go-blockdevice/v2 v2.0.30 (talos go.mod line
// 141); the guest side is Linux and QEMU as Proxmox VE 9 runs them.
package talosdisk

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	blockpb "github.com/siderolabs/talos/pkg/machinery/api/resource/definitions/block"
	"github.com/siderolabs/talos/pkg/machinery/cel"
	"github.com/siderolabs/talos/pkg/machinery/cel/celenv"

	"github.com/funoffshore/homelab/constructs/proxmox"
)

// TalosVersion is the Talos release whose block controller this package
// encodes.
const TalosVersion = "v1.13.9"

// Disk is one disk of a Proxmox VM as its config holds it.
type Disk struct {
	// Key is the Proxmox config key: "scsi0", "virtio1", "ide2", ...
	Key string
	// SizeGiB is the disk's size.
	SizeGiB int
	// Serial is the disk's serial= option ("" when unset).
	Serial string
	// WWN is the disk's wwn= option ("0x" and 16 hex digits; SCSI only).
	WWN string
	// CDROM marks a CD-ROM drive holding an ISO of SizeGiB (media=cdrom).
	CDROM bool
}

// Reported is what Talos reports for one Disk.
type Reported struct {
	Disk Disk
	// Spec is the Disk resource Talos' DisksController writes: the
	// value of `disk` in a disk selector.
	Spec *blockpb.DiskSpec
	// StableName is false when the kernel may give the disk another
	// /dev name on the next boot (several disks of one kind probed in
	// parallel): a selector or install disk naming DevPath then is not
	// bound to this disk.
	StableName bool
}

// VM returns what Talos reports for each disk of a VM with SCSI
// controller scsihw, in the order given. Buses and controllers whose
// reporting is not encoded here are refused, never guessed.
func VM(scsihw string, disks []Disk) ([]Reported, error) {
	var out []Reported
	var scsi int
	for _, d := range disks {
		m := proxmox.DiskKey.FindStringSubmatch(d.Key)
		if m == nil {
			return nil, fmt.Errorf("disk key %q is not a Proxmox disk", d.Key)
		}
		if m[1] == "scsi" && !d.CDROM {
			scsi++
		}
	}
	var nextSD, nextVD, nextSR int
	for _, d := range disks {
		m := proxmox.DiskKey.FindStringSubmatch(d.Key)
		// 512-byte logical sectors: QEMU's default logical_block_size
		// for scsi-hd and virtio-blk (Proxmox sets none).
		spec := &blockpb.DiskSpec{Size: uint64(d.SizeGiB) << 30, SectorSize: 512}
		r := Reported{Disk: d, Spec: spec, StableName: true}
		switch {
		case d.CDROM && m[1] == "ide":
			// The ISO drive: sr0 on the i440fx IDE controller
			// (ata_piix, whose proc_name contains "ata": transport
			// "ata", go-blockdevice block/device_linux.go:435-436). A CD-ROM
			// is read-only, and Talos skips read-only disks before any
			// selector is evaluated (talos internal/app/machined/pkg/
			// controllers/block/internal/volumes/locate.go:257).
			spec.DevPath = "/dev/sr" + strconv.Itoa(nextSR)
			nextSR++
			spec.Cdrom, spec.Readonly, spec.Transport = true, true, "ata"
			spec.SectorSize = 2048
			spec.Model = "QEMU DVD-ROM"
		case m[1] == "virtio":
			if d.WWN != "" {
				return nil, fmt.Errorf("disk %s: Proxmox has no wwn for virtio disks", d.Key)
			}
			// virtio-blk: the kernel names it vdX in probe order, one PCI
			// slot per disk in key order (qemu-server PCI.pm), and the
			// name decides the transport: "vd" -> "virtio" (go-blockdevice
			// block/device_linux.go:391-392).
			spec.DevPath = "/dev/vd" + string(rune('a'+nextVD))
			nextVD++
			spec.Transport = "virtio"
			// The serial: go-blockdevice reads /sys/block/<dev>/serial
			// first (block/device_linux.go:344), which virtio-blk
			// publishes from the device's ID (Linux drivers/block/
			// virtio_blk.c serial_show, at most VIRTIO_BLK_ID_BYTES = 20
			// bytes); Proxmox passes serial= to QEMU's virtio-blk-pci
			// serial property. virtio-blk has no device/model or wwid.
			spec.Serial = truncate(d.Serial, 20)
			spec.SubSystem = "/sys/class/block"
		case m[1] == "scsi":
			if scsihw != "virtio-scsi-single" && scsihw != "virtio-scsi-pci" {
				return nil, fmt.Errorf("disk %s: SCSI controller %q is not encoded (only virtio-scsi)", d.Key, scsihw)
			}
			// sdX: with more than one SCSI disk the kernel probes the
			// hosts in parallel and the names may swap between boots.
			spec.DevPath = "/dev/sd" + string(rune('a'+nextSD))
			nextSD++
			r.StableName = scsi == 1
			// Transport: the SCSI host's proc_name is "virtio_scsi" ->
			// "virtio" (go-blockdevice block/device_linux.go:437-438).
			spec.Transport = "virtio"
			// Model: /sys/block/<dev>/device/model (device_linux.go:343),
			// QEMU scsi-hd's default product "QEMU HARDDISK".
			spec.Model = "QEMU HARDDISK"
			// Serial: a SCSI disk has neither /sys/block/<dev>/serial nor
			// device/serial (device_linux.go:344,358-360), and Talos asks
			// udev's helpers only for the transports "ata" and "scsi"
			// (talos internal/app/machined/pkg/controllers/block/
			// disks.go:225-232 and 265-284), not "virtio": the serial=
			// option never reaches Talos (siderolabs/talos#12073).
			spec.Serial = ""
			// WWID: device/wwid (device_linux.go:350-352), which the
			// kernel builds from the VPD page 0x83 designators it knows
			// (drivers/scsi/scsi_lib.c scsi_vpd_lun_id): QEMU adds an NAA
			// designator only for wwn= ("naa." and 16 hex digits); its
			// vendor-specific designator holding the serial is not one.
			if d.WWN != "" {
				spec.Wwid = "naa." + strings.ToLower(strings.TrimPrefix(d.WWN, "0x"))
			}
			spec.SubSystem = "/sys/class/block"
		default:
			return nil, fmt.Errorf("disk %s: bus %q is not encoded (only scsi on virtio-scsi, virtio, and the ide CD-ROM)", d.Key, m[1])
		}
		out = append(out, r)
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Match evaluates a disk selector the way Talos' volume manager does for
// a user volume: read-only disks are skipped (locate.go:257), and the
// expression is evaluated with celenv.DiskLocator over the disk and
// whether it is the system disk (locate.go:261, volumes.go:73-83). It
// returns the keys of the disks that match. systemDisk is the DevPath of
// the disk Talos was installed to.
func Match(expr cel.Expression, disks []Reported, systemDisk string) ([]string, error) {
	var out []string
	for _, d := range disks {
		if d.Spec.Readonly {
			continue
		}
		ok, err := expr.EvalBool(celenv.DiskLocator(), map[string]any{"disk": d.Spec, "system_disk": d.Spec.DevPath == systemDisk})
		if err != nil {
			return nil, fmt.Errorf("evaluating %q on %s: %w", expr.String(), d.Disk.Key, err)
		}
		if ok {
			out = append(out, d.Disk.Key)
		}
	}
	return out, nil
}

// CanProvision reports whether Talos' volume manager provisions a
// partition of at least minSize on the disk while it is empty (as a VM's
// data disk is on first boot): the disk must hold minSize plus 67 sectors
// of GPT and protective MBR (talos internal/app/machined/pkg/controllers/
// block/internal/volumes/disk.go:57-60). A volume without a minimum gets
// 100 MiB (volumeconfig/user_volumes.go:23,106).
func CanProvision(d Reported, minSize uint64) bool {
	if minSize == 0 {
		minSize = 100 << 20
	}
	return !d.Spec.Readonly && d.Spec.Size >= minSize+uint64(d.Spec.SectorSize)*67
}

// InstallDisk returns the disk a machine.install.disk path names, and an
// error when no disk or a disk without a stable name has that path.
func InstallDisk(path string, disks []Reported) (Reported, error) {
	for _, d := range disks {
		if d.Spec.DevPath != path {
			continue
		}
		if !d.StableName {
			return d, fmt.Errorf("install disk %s names %s only on some boots: the VM has several SCSI disks", path, d.Disk.Key)
		}
		if d.Spec.Readonly {
			return d, fmt.Errorf("install disk %s is the read-only %s", path, d.Disk.Key)
		}
		return d, nil
	}
	return Reported{}, fmt.Errorf("install disk %s: the VM has no disk of that name", path)
}

// FromConfig reads the disks of a Proxmox VM config (the parameters of a
// create call or what GET .../config returns): "local-lvm:50,serial=x",
// "local-lvm:vm-101-disk-1,serial=x,size=50G", "local:iso/a.iso,media=cdrom".
// A CD-ROM's size is taken as 1 GiB. Keys are returned in Proxmox order
// (bus, then index).
func FromConfig(cfg map[string]string) (scsihw string, disks []Disk, err error) {
	for _, bus := range []string{"ide", "sata", "scsi", "virtio"} {
		for i := range 31 {
			key := bus + strconv.Itoa(i)
			val, ok := cfg[key]
			if !ok || val == "" {
				continue
			}
			d := Disk{Key: key}
			parts := strings.Split(val, ",")
			for _, opt := range parts[1:] {
				k, v, _ := strings.Cut(opt, "=")
				switch k {
				case "serial":
					d.Serial = v
				case "wwn":
					d.WWN = v
				case "media":
					d.CDROM = v == "cdrom"
				case "size":
					g, perr := strconv.Atoi(strings.TrimSuffix(v, "G"))
					if perr != nil {
						return "", nil, fmt.Errorf("%s: size %q is not in GiB", key, v)
					}
					d.SizeGiB = g
				}
			}
			if _, size, ok := strings.Cut(parts[0], ":"); ok && d.SizeGiB == 0 {
				if g, perr := strconv.Atoi(size); perr == nil {
					d.SizeGiB = g
				}
			}
			if d.CDROM {
				d.SizeGiB = 1
			}
			if d.SizeGiB == 0 {
				return "", nil, fmt.Errorf("%s: %q has no size", key, val)
			}
			disks = append(disks, d)
		}
	}
	return cmp.Or(cfg["scsihw"], "lsi"), disks, nil
}
