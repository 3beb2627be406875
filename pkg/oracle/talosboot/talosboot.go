// Package talosboot is what Talos v1.13.9's metal platform reads at boot
// from a volume attached to the machine, for tests of the deployer's
// out-of-band config delivery: the volume is found by the filesystem label
// go-blockdevice's own prober reports (the same probe Talos' block
// controller runs), matched as Talos' VolumeMatch does, and config.yaml is
// read from its root.
package talosboot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/siderolabs/go-blockdevice/v2/blkid"
	"github.com/siderolabs/talos/pkg/machinery/constants"
)

// ErrNoConfigVolume is a volume Talos would not take the config from.
var ErrNoConfigVolume = errors.New("not a volume Talos reads a machine config from")

// ReadConfigISO returns the machine config Talos would read from the ISO
// image iso when it boots with talos.config=metal-iso.
//
// Talos matches the volume by `volume.label in ["metal-iso"] ||
// volume.partition_label in ["metal-iso"]` (v1.13.9
// platform/internal/blockutils/blockutils.go:31-94, VolumeMatch), with the
// label go-blockdevice v2.0.30 probes (blkid/internal/filesystems/iso9660:
// the Joliet label when present, else the primary volume descriptor's,
// trailing spaces trimmed), then reads constants.ConfigFilename from the
// volume's root (platform/metal/metal.go:124-144).
func ReadConfigISO(iso []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "talosboot-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "volume")
	if err := os.WriteFile(path, iso, 0o600); err != nil {
		return nil, err
	}
	info, err := blkid.ProbePath(path)
	if err != nil {
		return nil, fmt.Errorf("%w: probing it: %v", ErrNoConfigVolume, err)
	}
	label := ""
	if info.Label != nil {
		label = *info.Label
	}
	if info.Name != "iso9660" || label != constants.MetalConfigISOLabel {
		return nil, fmt.Errorf("%w: filesystem %q labelled %q, want iso9660 labelled %q", ErrNoConfigVolume, info.Name, label, constants.MetalConfigISOLabel)
	}
	b, err := file.OpenFromPath(path, true)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	fs, err := iso9660.Read(b, int64(len(iso)), 0, 2048)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoConfigVolume, err)
	}
	f, err := fs.OpenFile("/"+constants.ConfigFilename, os.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("%w: no %s at its root: %v", ErrNoConfigVolume, constants.ConfigFilename, err)
	}
	defer f.Close()
	return io.ReadAll(f)
}
