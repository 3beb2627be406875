package proxmox

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/siderolabs/talos/pkg/machinery/constants"
)

// ConfigISO returns an ISO 9660 image that Talos' metal platform reads a
// machine config from at boot: volume label "metal-iso" and the config as
// "config.yaml" at its root (constants.MetalConfigISOLabel and
// constants.ConfigFilename, read by readConfigFromISO in Talos v1.13.9
// platform/metal/metal.go:124-144). Rock Ridge keeps the lower-case long
// name as Linux mounts it, as the image Talos' own QEMU provisioner makes
// with mkisofs -rock (pkg/provision/providers/qemu/node.go:396).
//
// go-diskfs stages the file in a private temporary directory (mode 0700),
// removed before ConfigISO returns: the config holds the cluster's keys.
func ConfigISO(config []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "homelab-config-iso-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config.iso")
	// Room for the config plus the system area and descriptors.
	size := int64(len(config)) + 1<<20
	b, err := file.CreateFromPath(path, size)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	workspace := filepath.Join(dir, "workspace")
	if err := os.Mkdir(workspace, 0o700); err != nil {
		return nil, err
	}
	fs, err := iso9660.Create(b, size, 0, 2048, workspace)
	if err != nil {
		return nil, fmt.Errorf("config ISO: %w", err)
	}
	f, err := fs.OpenFile(constants.ConfigFilename, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return nil, fmt.Errorf("config ISO: %w", err)
	}
	if _, err := f.Write(config); err != nil {
		return nil, fmt.Errorf("config ISO: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("config ISO: %w", err)
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: constants.MetalConfigISOLabel}); err != nil {
		return nil, fmt.Errorf("config ISO: %w", err)
	}
	return os.ReadFile(path)
}
