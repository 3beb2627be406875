package proxmox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	gp "github.com/luthermonson/go-proxmox"

	model "github.com/funoffshore/homelab/constructs/proxmox"
	talosmodel "github.com/funoffshore/homelab/constructs/talos"
)

// Delivery hands a VM its first machine config out of band: as an ISO
// uploaded through the Proxmox API (authenticated, over the host's pinned
// certificate) and attached to the VM as a CD-ROM that Talos reads at boot
// (see ConfigISO). The config, which holds the cluster's CA keys, never
// crosses the LAN to whatever answers at the node's address: a machine
// that impersonates the node learns nothing from it.
type Delivery struct {
	opts Options
	d    *deployer
	vms  map[string]placed
}

// placed is a VM of the inventory and its host.
type placed struct {
	vm   model.InventoryVM
	host model.InventoryHost
}

// NewDelivery returns the delivery to the VMs of the inventory, through
// their hosts, with opts.
func NewDelivery(inv model.Inventory, opts Options) *Delivery {
	opts = opts.withDefaults()
	byName := map[string]model.InventoryHost{}
	for _, h := range inv.Hosts {
		byName[h.Name] = h
	}
	vms := map[string]placed{}
	for _, v := range inv.VMs {
		if h, ok := byName[v.Host]; ok {
			vms[v.Name] = placed{v, h}
		}
	}
	return &Delivery{opts: opts, d: &deployer{opts: opts}, vms: vms}
}

// configVolume is the file name and volume ID of the config ISO of the
// VM vmid on h.
func configVolume(h model.InventoryHost, vmid int) (file, volid string) {
	file = fmt.Sprintf("homelab-config-%d.iso", vmid)
	return file, h.ISOStorage + ":iso/" + file
}

// Deliver uploads config as the config ISO of m's VM (the inventory's VM
// of its name), attaches it, and (re)starts the VM so it boots with it. A
// VM that already runs is stopped first: a machine waiting in maintenance
// mode takes the config only at boot.
func (dl *Delivery) Deliver(ctx context.Context, m talosmodel.Machine, config []byte) error {
	p, ok := dl.vms[m.MachineName()]
	if !ok {
		return fmt.Errorf("no VM %s is placed on a host of the inventory", m.MachineName())
	}
	v, h := p.vm, p.host
	iso, err := ConfigISO(config)
	if err != nil {
		return err
	}
	c := dl.opts.client(h)
	file, volid := configVolume(h, v.VMID)
	sum := sha256.Sum256(iso)
	var upid gp.UPID
	// Proxmox checks the upload against its checksum and fails the task
	// on a mismatch.
	fields := map[string]string{"content": "iso", "checksum-algorithm": "sha256", "checksum": hex.EncodeToString(sum[:])}
	if err := dl.d.retry(ctx, func() error {
		return c.UploadReader(fmt.Sprintf("/nodes/%s/storage/%s/upload", h.Name, h.ISOStorage), fields, file, bytes.NewReader(iso), int64(len(iso)), &upid)
	}); err != nil {
		return fmt.Errorf("uploading the config ISO: %w", err)
	}
	if err := dl.d.wait(ctx, gp.NewTask(upid, c)); err != nil {
		return fmt.Errorf("uploading the config ISO: %w", err)
	}
	vm := fmt.Sprintf("/nodes/%s/qemu/%d", h.Name, v.VMID)
	if err := dl.task(ctx, c, vm+"/config", map[string]string{model.ConfigISOKey: volid + ",media=cdrom"}); err != nil {
		return fmt.Errorf("attaching the config ISO: %w", err)
	}
	var status map[string]any
	if err := dl.d.retry(ctx, func() error { return c.Get(ctx, vm+"/status/current", &status) }); err != nil {
		return err
	}
	if status["status"] == "running" {
		if err := dl.task(ctx, c, vm+"/status/stop", nil); err != nil {
			return fmt.Errorf("stopping the VM to boot it with its config: %w", err)
		}
	}
	if err := dl.task(ctx, c, vm+"/status/start", nil); err != nil {
		return fmt.Errorf("starting the VM with its config: %w", err)
	}
	return nil
}

// Cleanup detaches the config ISO of m's VM and deletes it from the host's storage
// once the node runs its config. It writes nothing when there is none.
func (dl *Delivery) Cleanup(ctx context.Context, m talosmodel.Machine) error {
	p, ok := dl.vms[m.MachineName()]
	if !ok {
		return nil
	}
	v, h := p.vm, p.host
	c := dl.opts.client(h)
	_, volid := configVolume(h, v.VMID)
	vm := fmt.Sprintf("/nodes/%s/qemu/%d", h.Name, v.VMID)
	var cfg map[string]any
	if err := dl.d.retry(ctx, func() error { return c.Get(ctx, vm+"/config", &cfg) }); err != nil {
		return err
	}
	if have, _ := cfg[model.ConfigISOKey].(string); have != "" {
		if err := dl.task(ctx, c, vm+"/config", map[string]string{"delete": model.ConfigISOKey}); err != nil {
			return fmt.Errorf("detaching the config ISO: %w", err)
		}
	}
	var content []map[string]any
	if err := dl.d.retry(ctx, func() error {
		return c.Get(ctx, fmt.Sprintf("/nodes/%s/storage/%s/content", h.Name, h.ISOStorage), &content)
	}); err != nil {
		return err
	}
	for _, item := range content {
		if item["volid"] != volid {
			continue
		}
		var upid string
		if err := dl.d.retry(ctx, func() error {
			return c.Delete(ctx, fmt.Sprintf("/nodes/%s/storage/%s/content/%s", h.Name, h.ISOStorage, url.PathEscape(volid)), &upid)
		}); err != nil {
			return fmt.Errorf("deleting the config ISO (it holds the cluster's keys; delete %s by hand): %w", volid, err)
		}
		if strings.HasPrefix(upid, "UPID:") {
			return dl.d.wait(ctx, gp.NewTask(gp.UPID(upid), c))
		}
	}
	return nil
}

// task posts params to path and waits for the task it starts.
func (dl *Delivery) task(ctx context.Context, c *gp.Client, path string, params map[string]string) error {
	var upid gp.UPID
	if err := dl.d.retry(ctx, func() error { return c.Post(ctx, path, params, &upid) }); err != nil {
		return err
	}
	return dl.d.wait(ctx, gp.NewTask(upid, c))
}
