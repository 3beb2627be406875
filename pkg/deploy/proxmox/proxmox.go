// Package proxmox is the deployer's hypervisor layer: it reads the live
// state of the Proxmox hosts, plans what to change so the VMs match the
// model (the Talos ISO on each host, each VM created or updated with the
// exact config, then started), and carries the plan out, checking every
// task's exit status (go-proxmox's Task.Wait returns nil on a failed task).
// VMs the model does not know are reported, never deleted.
package proxmox

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	gp "github.com/luthermonson/go-proxmox"

	model "github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
)

// Privileges are what deploy needs of the Proxmox API token, granted on
// "/": a role with exactly these (see docs/security.md for the pveum
// commands). Each is required by the API schema's permission check, or
// qemu-server's per-option check, of a call deploy makes; a test runs the
// whole deploy with them, and without each one in turn.
var Privileges = []string{
	"Datastore.Allocate",         // delete a node's config ISO
	"Datastore.AllocateSpace",    // create VM disks; list storage content
	"Datastore.AllocateTemplate", // download the boot ISO, upload a config ISO
	"SDN.Use",                    // attach the VMs to their bridge
	"Sys.AccessNetwork",          // download-url fetches from the network
	"VM.Allocate",                // create, and with --prune destroy, VMs
	"VM.Audit",                   // read VMs, their config and status
	"VM.Config.CDROM",            // the boot ISO and config ISO drives
	"VM.Config.CPU",              // cores, cpu, sockets
	"VM.Config.Disk",             // disks, boot order
	"VM.Config.HWType",           // scsihw, smbios1 (the UUID)
	"VM.Config.Memory",           // memory, balloon
	"VM.Config.Network",          // net0
	"VM.Config.Options",          // name, onboot, agent, ostype, tags
	"VM.PowerMgmt",               // start, stop
}

// Token is a Proxmox API token.
type Token struct {
	// ID is "user@realm!name"; Secret the token's UUID secret.
	ID, Secret string
}

// Options configure Plan.
type Options struct {
	// Token authenticates every call.
	Token Token
	// HTTPClient is used for the API (tests pass the simulator's client).
	HTTPClient *http.Client
	// Concurrency bounds parallel VM changes. Default: 2.
	Concurrency int
	// Retries of a call that failed transiently (502, 503, 504, network).
	// Default: 3.
	Retries int
	// Backoff before the first retry; doubles each time. Default: 200ms.
	Backoff time.Duration
	// TaskTimeout bounds each task. Default: 10m.
	TaskTimeout time.Duration
	// Log records every action.
	Log *actionlog.Log
	// Endpoint returns a host's API URL. Default: the host's Endpoint.
	Endpoint func(h *model.Host) string
	// Prune plans the removal (stop, then destroy with its disks) of VMs
	// the model does not know that carry this homelab's tag. Default:
	// off: they are only reported. VMs without the tag are never removed.
	Prune bool
	// Owner names the homelab in the tag it puts on its VMs
	// ("homelab-<owner>"), such as the cluster name. Default: "homelab".
	Owner string
	// Fingerprints pins, by host name, the SHA-256 fingerprint of the
	// certificate a host without a TLSFingerprint in the model presents
	// (see Trust).
	Fingerprints map[string]string
	// Adopt lists VMIDs of existing VMs without this homelab's tag that
	// the deployer may take over (reconfigure, tag and start). Any other
	// untagged or foreign-tagged VM holding a model VMID is refused.
	Adopt []int
}

// OwnerTag is the Proxmox tag that marks the VMs of owner.
func OwnerTag(owner string) string {
	tag := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, cmp.Or(owner, "homelab"))
	return tagPrefix + tag
}

// tagPrefix starts the tag of every homelab's VMs; a VM tagged with
// another homelab's tag is foreign.
const tagPrefix = "homelab-"

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

	vm  *model.VM
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

// client is the API client of host h: its endpoint, the token, and its
// pinned certificate when the model has one.
func (o Options) client(h *model.Host) *gp.Client {
	endpoint := h.Endpoint
	if o.Endpoint != nil {
		endpoint = o.Endpoint(h)
	}
	httpClient := o.HTTPClient
	if fp := cmp.Or(h.TLSFingerprint, o.Fingerprints[h.Name]); fp != "" {
		httpClient = pinnedClient(o.HTTPClient, fp)
	}
	return gp.NewClient(strings.TrimSuffix(endpoint, "/")+"/api2/json",
		gp.WithAPIToken(o.Token.ID, o.Token.Secret), gp.WithHTTPClient(httpClient))
}

type deployer struct {
	opts    Options
	tag     string
	notes   []string
	clients map[string]*gp.Client
}

func (o Options) withDefaults() Options {
	if o.Concurrency == 0 {
		o.Concurrency = 2
	}
	if o.Retries == 0 {
		o.Retries = 3
	}
	if o.Backoff == 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.TaskTimeout == 0 {
		o.TaskTimeout = 10 * time.Minute
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	// go-proxmox decodes a 503's body as JSON and loses the status; see
	// gateway errors at the transport instead, where they can be retried.
	c := *o.HTTPClient
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = transientTransport{base: base}
	o.HTTPClient = &c
	return o
}

// errTransient is a gateway error worth retrying.
type errTransient struct{ status string }

func (e errTransient) Error() string { return "transient: " + e.status }

type transientTransport struct{ base http.RoundTripper }

func (t transientTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	switch res.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		res.Body.Close()
		return nil, errTransient{status: res.Status}
	}
	return res, nil
}

// DesiredConfig is the exact VM config the model asks for, as Proxmox
// parameters.
func DesiredConfig(v *model.VM) map[string]string {
	cfg := map[string]string{
		"name":   v.Name,
		"cores":  strconv.Itoa(v.Cores),
		"memory": strconv.FormatInt(v.MemoryMiB, 10),
		"cpu":    "host",
		"scsihw": model.SCSIController,
		"agent":  "1",
		"onboot": boolString(v.OnBoot),
		"ostype": "l26",
		"boot":   "order=" + model.BootDiskKey + ";ide2",
		"net0":   netConfig(v),
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

// DiskConfig is the config of the VM's disks as deploy creates them: the
// boot disk on the SCSI controller and each data disk on virtio-blk,
// carrying its name as serial, which the guest's volume config selects it
// by.
func DiskConfig(v *model.VM) map[string]string {
	cfg := map[string]string{model.BootDiskKey: fmt.Sprintf("%s:%d,iothread=1", v.Storage(), v.DiskGiB)}
	for _, dd := range v.DataDisks() {
		cfg[dd.Key] = dd.Config(v.Storage())
	}
	return cfg
}

func netConfig(v *model.VM) string {
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

// NewPlan reads the live state of every host of dc and plans the changes.
// A model VM is planned on the host it lives on (a VM the model would
// place elsewhere is listed in Notes), and only when it carries this
// homelab's tag or is listed in Adopt: a VMID held by a foreign or
// untagged VM fails the plan.
func NewPlan(ctx context.Context, dc *model.Datacenter, opts Options) (*Plan, error) {
	opts = opts.withDefaults()
	d := &deployer{opts: opts, clients: map[string]*gp.Client{}, tag: OwnerTag(opts.Owner)}
	p := &Plan{opts: opts}
	placement := dc.Placement()
	managed := map[int]bool{}
	for _, v := range dc.VMs() {
		managed[v.VMID] = true
	}
	type liveVM struct {
		host *model.Host
		vm   *gp.VirtualMachine
	}
	lives := map[int]liveVM{}
	for _, h := range dc.Hosts() {
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
	for _, v := range dc.VMs() {
		h := placement[v]
		live, exists := lives[v.VMID]
		if exists {
			if h != nil && live.host != h {
				p.Notes = append(p.Notes, fmt.Sprintf("vm %d %s runs on %s; the model would place it on %s: it stays (migrate it in Proxmox to move it)", v.VMID, v.Name, live.host.Name, h.Name))
			}
			h = live.host
		}
		if h == nil {
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

func (d *deployer) planISO(ctx context.Context, h *model.Host, v *model.VM) *Change {
	url, file := v.BootISO()
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
				if v.BootISOChecksum() == "" {
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
			if sum := v.BootISOChecksum(); sum != "" {
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

func (d *deployer) planVM(ctx context.Context, h *model.Host, node *gp.Node, v *model.VM, live *gp.VirtualMachine) (change, start *Change, err error) {
	target := fmt.Sprintf("vm %d %s", v.VMID, v.Name)
	want := DesiredConfig(v)
	want["tags"] = d.tag
	c := d.clients[h.Name]
	if live == nil {
		create := map[string]any{"vmid": v.VMID}
		for k, val := range DiskConfig(v) {
			create[k] = val
		}
		for k, val := range want {
			create[k] = val
		}
		change = &Change{Host: h.Name, Target: target, Action: "create", vm: v, run: func(ctx context.Context) error {
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
		change = &Change{Host: h.Name, Target: target, Action: "update", Detail: strings.Join(diffs, ", "), vm: v, run: func(ctx context.Context) error {
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
func (d *deployer) diskChanges(h *model.Host, v *model.VM, target string, have map[string]any) (*Change, error) {
	c := d.clients[h.Name]
	type want struct {
		key, serial string
		gib         int
	}
	wants := []want{{key: model.BootDiskKey, gib: v.DiskGiB}}
	for _, dd := range v.DataDisks() {
		wants = append(wants, want{key: dd.Key, serial: dd.Name, gib: dd.SizeGiB})
	}
	var resize [][2]string
	add := map[string]any{}
	var diffs []string
	for _, w := range wants {
		cur, _ := have[w.key].(string)
		if cur == "" {
			if w.serial != "" {
				add[w.key] = model.DataDisk{Name: w.serial, SizeGiB: w.gib}.Config(v.Storage())
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
	return &Change{Host: h.Name, Target: target, Action: "update", Detail: strings.Join(diffs, ", "), vm: v, run: func(ctx context.Context) error {
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

func (d *deployer) removal(h *model.Host, lv *gp.VirtualMachine) Change {
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

func (d *deployer) startChange(h *model.Host, v *model.VM, target string) *Change {
	c := d.clients[h.Name]
	return &Change{Host: h.Name, Target: target, Action: "start", vm: v, run: func(ctx context.Context) error {
		var upid gp.UPID
		if err := d.retry(ctx, func() error {
			return c.Post(ctx, fmt.Sprintf("/nodes/%s/qemu/%d/status/start", h.Name, v.VMID), nil, &upid)
		}); err != nil {
			return err
		}
		return d.wait(ctx, gp.NewTask(upid, c))
	}}
}

// wait polls a task until it ends, retrying a poll that fails
// transiently, and turns a failed task into an error; it gives up after
// TaskTimeout.
func (d *deployer) wait(ctx context.Context, t *gp.Task) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.TaskTimeout)
	defer cancel()
	for {
		if err := d.retry(ctx, func() error { return t.Ping(ctx) }); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("task %s did not end within %s", t.UPID, d.opts.TaskTimeout)
			}
			return fmt.Errorf("task %s: %w", t.UPID, err)
		}
		if t.IsCompleted || (!t.IsRunning && t.ExitStatus != "") {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("task %s did not end within %s", t.UPID, d.opts.TaskTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if t.IsFailed || (t.ExitStatus != "" && t.ExitStatus != "OK") {
		return fmt.Errorf("task %s failed: %s", t.UPID, t.ExitStatus)
	}
	return nil
}

// retry retries fn on transient failures with exponential backoff.
func (d *deployer) retry(ctx context.Context, fn func() error) error {
	backoff := d.opts.Backoff
	var err error
	for attempt := 0; attempt <= d.opts.Retries; attempt++ {
		if err = fn(); err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	return err
}

func transient(err error) bool {
	var te errTransient
	if errors.As(err, &te) {
		return true
	}
	// A certificate the client does not trust, or a server that speaks no
	// TLS, fails the same way on every try: say so at once.
	if errors.Is(err, ErrFingerprint) {
		return false
	}
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		header    tls.RecordHeaderError
	)
	if errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &header) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	s := err.Error()
	for _, code := range []string{"502 ", "503 ", "504 "} {
		if strings.Contains(s, code) {
			return true
		}
	}
	return false
}

// Apply carries the plan out: ISOs, then VM creates and updates (at most
// Concurrency at once), then starts. It stops at the first failed phase and
// returns every error of that phase; re-running NewPlan and Apply resumes.
func (p *Plan) Apply(ctx context.Context) error {
	if err := p.Provision(ctx); err != nil {
		return err
	}
	return p.Prune(ctx)
}

// Provision downloads the ISOs, creates or updates the VMs and starts
// them: Apply without the removals.
func (p *Plan) Provision(ctx context.Context) error {
	for _, phase := range [][]Change{p.ISOs, p.VMs, p.Starts} {
		if err := p.run(ctx, phase); err != nil {
			return err
		}
	}
	return nil
}

// Prune removes the VMs outside the model (planned with Options.Prune).
// deploy runs it after the Talos layer has taken their nodes out of the
// cluster.
func (p *Plan) Prune(ctx context.Context) error { return p.run(ctx, p.Removals) }

func (p *Plan) run(ctx context.Context, changes []Change) error {
	sem := make(chan struct{}, p.opts.Concurrency)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, c := range changes {
		wg.Add(1)
		sem <- struct{}{}
		go func(c Change) {
			defer wg.Done()
			defer func() { <-sem }()
			err := p.opts.Log.Record("proxmox", c.Host+"/"+c.Target, c.Action, func() error { return c.run(ctx) })
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("proxmox %s: %s %s: %w", c.Host, c.Action, c.Target, err))
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// ErrFingerprint is a host certificate that is not the pinned one.
var ErrFingerprint = errors.New("the host's certificate does not match its pinned fingerprint")

// pinnedClient is base trusting exactly the certificate whose SHA-256
// fingerprint is fingerprint (the leaf the host presents), whoever signed
// it, and no other.
func pinnedClient(base *http.Client, fingerprint string) *http.Client {
	want := strings.ToUpper(strings.ReplaceAll(fingerprint, ":", ""))
	tlsConfig := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // verified below against the pinned fingerprint
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return ErrFingerprint
			}
			sum := sha256.Sum256(raw[0])
			if got := strings.ToUpper(hex.EncodeToString(sum[:])); got != want {
				return fmt.Errorf("%w (pinned %s)", ErrFingerprint, fingerprint)
			}
			return nil
		},
	}
	c := *base
	c.Transport = transientTransport{base: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment}}
	return &c
}
