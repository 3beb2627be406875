package proxmox

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	gp "github.com/luthermonson/go-proxmox"

	model "github.com/funoffshore/homelab/constructs/proxmox"
)

func tagsOf(v any) []string {
	s, _ := v.(string)
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
}

// Change is one planned action.
type Change struct {
	// Host, Target and Action say what changes: "pve-1", "vm 101 talos-cp-1", "create".
	Host, Target, Action string
	// Detail lists the differences for updates.
	Detail string

	run func(ctx context.Context) error
}

// String renders the change for `homelab plan`.
func (c Change) String() string {
	s := fmt.Sprintf("%s: %s %s", c.Host, c.Action, c.Target)
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}

// Plan is what Apply would change.
type Plan struct {
	// ISOs are downloaded first; VMs are created or updated, then started;
	// with Prune, VMs outside the model are removed last.
	ISOs, VMs, Starts, Removals []Change
	// Unmanaged lists VMs on the hosts that the model does not know.
	Unmanaged []string
	// Notes lists what the plan leaves to the operator: model VMs
	// that live on another host than the model places them on (they stay
	// where they are; move them with Proxmox' migrate, never a second
	// create), changes pending until a VM's next start, and disks larger
	// than the model (Proxmox cannot shrink them).
	Notes []string

	opts Options
}

// Changes returns every change in the order Apply makes them.
func (p *Plan) Changes() []Change {
	return append(append(append(append([]Change(nil), p.ISOs...), p.VMs...), p.Starts...), p.Removals...)
}

// Empty reports whether nothing would change.
func (p *Plan) Empty() bool { return len(p.Changes()) == 0 }

// driftKeys are compared between the live config and the model.
var driftKeys = []string{"name", "cores", "sockets", "memory", "balloon", "cpu", "scsihw", "agent", "onboot", "boot", "net0", "ide2", "tags", "smbios1"}

func mergeTags(have []string, tag string) []string {
	out := slices.Clone(have)
	if !slices.Contains(out, tag) {
		out = append(out, tag)
	}
	slices.Sort(out)
	return out
}

// NewPlan reads the live state of every host of the inventory (the
// hypervisor layer's desired state, as rendered into Git) and plans the
// changes. A VM is planned on the host it lives on (a VM the inventory
// places elsewhere is listed in Notes), and only when it carries this
// homelab's tag or is listed in Adopt: a VMID held by a foreign or
// untagged VM fails the plan.
func NewPlan(ctx context.Context, inv model.Inventory, opts Options) (*Plan, error) {
	opts = opts.withDefaults()
	d := &deployer{opts: opts, clients: map[string]*gp.Client{}, tag: OwnerTag(opts.Owner)}
	p := &Plan{opts: opts}
	hosts := map[string]model.InventoryHost{}
	managed := map[int]bool{}
	for _, v := range inv.VMs {
		managed[v.VMID] = true
	}
	type liveVM struct {
		host model.InventoryHost
		vm   *gp.VirtualMachine
	}
	lives := map[int]liveVM{}
	for _, h := range inv.Hosts {
		hosts[h.Name] = h
		c := opts.client(h)
		d.clients[h.Name] = c
		node := (&gp.Node{}).New(c, h.Name)
		var live gp.VirtualMachines
		if err := d.retry(ctx, func() (err error) { live, err = node.VirtualMachines(ctx); return err }); err != nil {
			return nil, fmt.Errorf("proxmox %s: listing VMs: %w", h.Name, err)
		}
		for _, lv := range live {
			lives[int(lv.VMID)] = liveVM{h, lv}
			if managed[int(lv.VMID)] {
				continue
			}
			ours := slices.Contains(tagsOf(lv.Tags), d.tag)
			switch {
			case opts.Prune && ours:
				p.Removals = append(p.Removals, d.removal(h, lv))
			case opts.Prune:
				p.Unmanaged = append(p.Unmanaged, fmt.Sprintf("%s: vm %d %s is not in the model and has no %s tag (not this homelab's: --prune leaves it alone)", h.Name, lv.VMID, lv.Name, d.tag))
			default:
				p.Unmanaged = append(p.Unmanaged, fmt.Sprintf("%s: vm %d %s is not in the model (left alone; deploy --prune removes it if it carries the %s tag)", h.Name, lv.VMID, lv.Name, d.tag))
			}
		}
	}
	isoDone := map[string]bool{}
	for _, v := range inv.VMs {
		h, placed := hosts[v.Host]
		live, exists := lives[v.VMID]
		if exists {
			if placed && live.host.Name != h.Name {
				p.Notes = append(p.Notes, fmt.Sprintf("vm %d %s runs on %s; the model would place it on %s: it stays (migrate it in Proxmox to move it)", v.VMID, v.Name, live.host.Name, h.Name))
			}
			h, placed = live.host, true
		}
		if !placed {
			continue // fits nowhere: validation says so
		}
		if !isoDone[h.Name] {
			isoDone[h.Name] = true
			if iso := d.planISO(ctx, h, v); iso != nil {
				p.ISOs = append(p.ISOs, *iso)
			}
		}
		node := (&gp.Node{}).New(d.clients[h.Name], h.Name)
		ch, start, err := d.planVM(ctx, h, node, v, live.vm)
		if err != nil {
			return nil, err
		}
		if ch != nil {
			p.VMs = append(p.VMs, *ch)
		}
		if start != nil {
			p.Starts = append(p.Starts, *start)
		}
	}
	sort.Strings(p.Unmanaged)
	p.Notes = append(p.Notes, d.notes...)
	sort.Strings(p.Notes)
	return p, nil
}

func (d *deployer) planISO(ctx context.Context, h model.InventoryHost, v model.InventoryVM) *Change {
	url, file := v.BootISO, v.BootISOFile
	if file == "" {
		return nil
	}
	c := d.clients[h.Name]
	var content []map[string]any
	err := d.retry(ctx, func() error {
		return c.Get(ctx, fmt.Sprintf("/nodes/%s/storage/%s/content", h.Name, h.ISOStorage), &content)
	})
	if err == nil {
		for _, item := range content {
			if item["volid"] == h.ISOStorage+":iso/"+file {
				if v.BootISOSHA256 == "" {
					d.notes = append(d.notes, fmt.Sprintf("%s: iso %s is reused as it is on the host, unverified: set the cluster's ISOSHA256 so deploy downloads it under a name that commits to its checksum, verified by Proxmox", h.Name, file))
				}
				return nil
			}
		}
	}
	return &Change{Host: h.Name, Target: "iso " + file, Action: "download", Detail: url, run: func(ctx context.Context) error {
		var upid gp.UPID
		err := d.retry(ctx, func() error {
			params := map[string]string{"content": "iso", "filename": file, "url": url}
			if sum := v.BootISOSHA256; sum != "" {
				// Proxmox verifies the download and fails the task on a mismatch.
				params["checksum"], params["checksum-algorithm"] = sum, "sha256"
			}
			return c.Post(ctx, fmt.Sprintf("/nodes/%s/storage/%s/download-url", h.Name, h.ISOStorage), params, &upid)
		})
		if err != nil {
			return err
		}
		return d.wait(ctx, gp.NewTask(upid, c))
	}}
}

func (d *deployer) planVM(ctx context.Context, h model.InventoryHost, node *gp.Node, v model.InventoryVM, live *gp.VirtualMachine) (change, start *Change, err error) {
	target := fmt.Sprintf("vm %d %s", v.VMID, v.Name)
	want := maps.Clone(v.Config)
	if want == nil {
		want = map[string]string{}
	}
	want["tags"] = d.tag
	c := d.clients[h.Name]
	if live == nil {
		create := map[string]any{"vmid": v.VMID}
		for k, val := range v.Disks {
			create[k] = val
		}
		for k, val := range want {
			create[k] = val
		}
		change = &Change{Host: h.Name, Target: target, Action: "create", run: func(ctx context.Context) error {
			var upid gp.UPID
			tries, made := 0, false
			err := d.retry(ctx, func() error {
				if tries++; tries > 1 {
					// The last try may have created the VM and lost the
					// answer: a second create would fail on the VMID.
					var have map[string]any
					if err := c.Get(ctx, fmt.Sprintf("/nodes/%s/qemu/%d/config", h.Name, v.VMID), &have); err == nil && slices.Contains(tagsOf(have["tags"]), d.tag) {
						made = true
						return nil
					}
				}
				return c.Post(ctx, fmt.Sprintf("/nodes/%s/qemu", h.Name), create, &upid)
			})
			if err != nil || made {
				return err
			}
			return d.wait(ctx, gp.NewTask(upid, c))
		}}
		return change, d.startChange(h, v, target), nil
	}
	var have map[string]any
	if err := d.retry(ctx, func() error {
		return c.Get(ctx, fmt.Sprintf("/nodes/%s/qemu/%d/config", h.Name, v.VMID), &have)
	}); err != nil {
		return nil, nil, fmt.Errorf("proxmox %s: reading %s: %w", h.Name, target, err)
	}
	tags := tagsOf(have["tags"])
	if !slices.Contains(tags, d.tag) {
		foreign := slices.IndexFunc(tags, func(t string) bool { return strings.HasPrefix(t, tagPrefix) })
		switch {
		case foreign >= 0:
			return nil, nil, fmt.Errorf("proxmox %s: vm %d (%v) belongs to another homelab (tag %s, want %s): refusing to touch it; give node %s another VMID",
				h.Name, v.VMID, have["name"], tags[foreign], d.tag, v.Name)
		case !slices.Contains(d.opts.Adopt, v.VMID):
			return nil, nil, fmt.Errorf("proxmox %s: vm %d (%v) exists but has no %s tag, so it is not known to be this homelab's: refusing to rename, reconfigure or start it; give node %s another VMID, or take it over with deploy --adopt %d",
				h.Name, v.VMID, have["name"], d.tag, v.Name, v.VMID)
		}
	}
	// Keep the VM's other tags beside ours.
	want["tags"] = strings.Join(mergeTags(tags, d.tag), ";")
	// Changes Proxmox holds until the VM's next start count as made.
	var pending []map[string]any
	if err := d.retry(ctx, func() error {
		return c.Get(ctx, fmt.Sprintf("/nodes/%s/qemu/%d/pending", h.Name, v.VMID), &pending)
	}); err != nil {
		return nil, nil, fmt.Errorf("proxmox %s: reading the pending changes of %s: %w", h.Name, target, err)
	}
	var waiting []string
	for _, e := range pending {
		if k, ok := e["key"].(string); ok && e["pending"] != nil {
			have[k] = e["pending"]
			waiting = append(waiting, k)
		}
	}
	if len(waiting) > 0 {
		slices.Sort(waiting)
		d.notes = append(d.notes, fmt.Sprintf("%s: %s has changes pending until its next start (%s): restart it to apply them", h.Name, target, strings.Join(waiting, ", ")))
	}
	update := map[string]any{}
	var diffs []string
	for _, k := range driftKeys {
		w, ok := want[k]
		if !ok {
			continue
		}
		h := fmt.Sprint(have[k])
		if have[k] == nil {
			h = ""
		}
		if k == "tags" {
			// A set: Proxmox keeps the order it was given.
			t := tagsOf(have[k])
			slices.Sort(t)
			h = strings.Join(t, ";")
		}
		if !strings.EqualFold(h, w) {
			update[k] = w
			diffs = append(diffs, fmt.Sprintf("%s %q -> %q", k, h, w))
		}
	}
	if len(update) > 0 {
		change = &Change{Host: h.Name, Target: target, Action: "update", Detail: strings.Join(diffs, ", "), run: func(ctx context.Context) error {
			var upid gp.UPID
			if err := d.retry(ctx, func() error {
				return c.Post(ctx, fmt.Sprintf("/nodes/%s/qemu/%d/config", h.Name, v.VMID), update, &upid)
			}); err != nil {
				return err
			}
			return d.wait(ctx, gp.NewTask(upid, c))
		}}
	}
	disks, err := d.diskChanges(h, v, target, have)
	if err != nil {
		return nil, nil, err
	}
	if change != nil && live.Status == "running" {
		change.Detail += "; settings a running VM cannot take apply at its next start"
	}
	change = mergeChanges(change, disks)
	if live.Status != "running" {
		start = d.startChange(h, v, target)
	}
	return change, start, nil
}

// diskSize reads "size=40G" from a disk's config value, in GiB.
func diskSize(spec string) (int, bool) {
	for _, opt := range strings.Split(spec, ",") {
		if v, ok := strings.CutPrefix(opt, "size="); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(v, "G"))
			return n, err == nil && strings.HasSuffix(v, "G")
		}
	}
	return 0, false
}

// diskChanges compares the boot disk's size and the data disks with the
// model: a smaller disk is grown, a missing data disk added; a larger one
// is left (Proxmox cannot shrink) and reported.
func (d *deployer) diskChanges(h model.InventoryHost, v model.InventoryVM, target string, have map[string]any) (*Change, error) {
	c := d.clients[h.Name]
	type want struct {
		key, serial string
		gib         int
	}
	wants := []want{{key: model.BootDiskKey, gib: v.DiskGiB}}
	for _, dd := range v.DataDisks {
		wants = append(wants, want{key: dd.Key, serial: dd.Name, gib: dd.SizeGiB})
	}
	var resize [][2]string
	add := map[string]any{}
	var diffs []string
	for _, w := range wants {
		cur, _ := have[w.key].(string)
		if cur == "" {
			if w.serial != "" {
				add[w.key] = model.DataDisk{Name: w.serial, SizeGiB: w.gib}.Config(v.Storage)
				diffs = append(diffs, fmt.Sprintf("add %s %d GiB (%s)", w.key, w.gib, w.serial))
			}
			continue
		}
		size, ok := diskSize(cur)
		switch {
		case !ok:
		case size < w.gib:
			resize = append(resize, [2]string{w.key, fmt.Sprintf("%dG", w.gib)})
			diffs = append(diffs, fmt.Sprintf("grow %s %d -> %d GiB", w.key, size, w.gib))
		case size > w.gib:
			d.notes = append(d.notes, fmt.Sprintf("%s: %s disk %s is %d GiB, more than the model's %d: Proxmox cannot shrink a disk, so it stays", h.Name, target, w.key, size, w.gib))
		}
	}
	// A disk the model does not have (such as a data disk on scsi1 from
	// before data disks moved to virtio-blk, whose serial Talos never
	// saw) is reported, never deleted: it may hold data.
	for _, key := range slices.Sorted(maps.Keys(have)) {
		val, _ := have[key].(string)
		if !model.DiskKey.MatchString(key) || strings.Contains(val, "media=cdrom") || slices.ContainsFunc(wants, func(w want) bool { return w.key == key }) {
			continue
		}
		d.notes = append(d.notes, fmt.Sprintf("%s: %s has disk %s (%s), which the model does not: copy what it holds elsewhere, then detach it (qm set %d --delete %s); while it is a second SCSI disk, /dev/sda may name either disk", h.Name, target, key, val, v.VMID, key))
	}
	if len(diffs) == 0 {
		return nil, nil
	}
	return &Change{Host: h.Name, Target: target, Action: "update", Detail: strings.Join(diffs, ", "), run: func(ctx context.Context) error {
		if len(add) > 0 {
			var upid gp.UPID
			if err := d.retry(ctx, func() error {
				return c.Post(ctx, fmt.Sprintf("/nodes/%s/qemu/%d/config", h.Name, v.VMID), add, &upid)
			}); err != nil {
				return err
			}
			if err := d.wait(ctx, gp.NewTask(upid, c)); err != nil {
				return err
			}
		}
		for _, r := range resize {
			var upid gp.UPID
			if err := d.retry(ctx, func() error {
				return c.Put(ctx, fmt.Sprintf("/nodes/%s/qemu/%d/resize", h.Name, v.VMID), map[string]string{"disk": r[0], "size": r[1]}, &upid)
			}); err != nil {
				return err
			}
			if err := d.wait(ctx, gp.NewTask(upid, c)); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// mergeChanges joins two changes of one VM into one, run in order.
func mergeChanges(a, b *Change) *Change {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	runA, runB := a.run, b.run
	merged := *a
	merged.Detail = a.Detail + "; " + b.Detail
	merged.run = func(ctx context.Context) error {
		if err := runA(ctx); err != nil {
			return err
		}
		return runB(ctx)
	}
	return &merged
}

func (d *deployer) removal(h model.InventoryHost, lv *gp.VirtualMachine) Change {
	c := d.clients[h.Name]
	id := int(lv.VMID)
	running := lv.Status == "running"
	return Change{Host: h.Name, Target: fmt.Sprintf("vm %d %s", id, lv.Name), Action: "remove", Detail: "not in the model", run: func(ctx context.Context) error {
		var upid gp.UPID
		if running {
			if err := d.retry(ctx, func() error {
				return c.Post(ctx, fmt.Sprintf("/nodes/%s/qemu/%d/status/stop", h.Name, id), nil, &upid)
			}); err != nil {
				return err
			}
			if err := d.wait(ctx, gp.NewTask(upid, c)); err != nil {
				return err
			}
		}
		if err := d.retry(ctx, func() error {
			return c.Delete(ctx, fmt.Sprintf("/nodes/%s/qemu/%d", h.Name, id), &upid)
		}); err != nil {
			return err
		}
		return d.wait(ctx, gp.NewTask(upid, c))
	}}
}

func (d *deployer) startChange(h model.InventoryHost, v model.InventoryVM, target string) *Change {
	c := d.clients[h.Name]
	return &Change{Host: h.Name, Target: target, Action: "start", run: func(ctx context.Context) error {
		var upid gp.UPID
		if err := d.retry(ctx, func() error {
			return c.Post(ctx, fmt.Sprintf("/nodes/%s/qemu/%d/status/start", h.Name, v.VMID), nil, &upid)
		}); err != nil {
			return err
		}
		return d.wait(ctx, gp.NewTask(upid, c))
	}}
}
