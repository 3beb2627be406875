package proxmox_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	model "github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
	"github.com/funoffshore/homelab/pkg/deploy/proxmox"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/testenv/pvesim"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const tokenSecret = "3f1c9a52-5b9e-4c7a-9d0e-7a1b2c3d4e5f"

// setup starts a simulator with the Funoffshore hosts and a homelab whose
// hosts point at it.
func setup(t testing.TB) (*pvesim.Server, *homelab.Homelab, proxmox.Options) {
	t.Helper()
	sim, err := pvesim.New(testenv.Fixture(t, fixtures.ProxmoxSchema), "pve-1", "pve-2")
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	m := homelab.DefaultMachines()
	for i := range m.Hosts {
		m.Hosts[i].Endpoint = sim.TS.URL
	}
	var h *homelab.Homelab
	props := homelab.Funoffshore()
	props.Machines = m
	_, h = homelab.NewApp(props)
	opts := proxmox.Options{
		Token:      proxmox.Token{ID: "root@pam!homelab", Secret: tokenSecret},
		HTTPClient: sim.TS.Client(), Backoff: time.Millisecond,
		Log: &actionlog.Log{Path: filepath.Join(t.TempDir(), "actions.jsonl")},
	}
	return sim, h, opts
}

func changes(p *proxmox.Plan) []string {
	var out []string
	for _, c := range p.Changes() {
		out = append(out, c.Host+": "+c.Action+" "+c.Target)
	}
	return out
}

func newPlan(h *homelab.Homelab, opts proxmox.Options) (*proxmox.Plan, error) {
	return proxmox.NewPlan(context.Background(), h.Datacenter.Inventory(), opts)
}

func plan(t *testing.T, h *homelab.Homelab, opts proxmox.Options) *proxmox.Plan {
	t.Helper()
	p, err := newPlan(h, opts)
	require.NoError(t, err)
	return p
}

func TestDeploy(t *testing.T) {
	sim, h, opts := setup(t)
	ctx := context.Background()
	_, iso := h.Cluster.ISO()

	t.Run("plan on empty hosts lists exactly the pending changes", func(t *testing.T) {
		want := []string{
			"pve-1: download iso " + iso, "pve-2: download iso " + iso,
			"pve-1: create vm 101 talos-cp-1", "pve-2: create vm 111 talos-w-1", "pve-1: create vm 112 talos-w-2",
			"pve-1: start vm 101 talos-cp-1", "pve-2: start vm 111 talos-w-1", "pve-1: start vm 112 talos-w-2",
		}
		if d := cmp.Diff(want, changes(plan(t, h, opts))); d != "" {
			t.Errorf("plan (-want +got):\n%s", d)
		}
		if sim.Writes() != 0 {
			t.Errorf("planning made %d changing calls", sim.Writes())
		}
	})
	t.Run("deploy creates every VM with the exact config and starts it", func(t *testing.T) {
		require.NoError(t, plan(t, h, opts).Apply(ctx))
		vms := sim.VMs()
		if len(vms) != 3 {
			t.Fatalf("%d VMs, want 3", len(vms))
		}
		cp := vms[101]
		want := map[string]string{
			"name": "talos-cp-1", "cores": "2", "memory": "8192", "cpu": "host", "scsihw": "virtio-scsi-single",
			"scsi0": "local-lvm:vm-101-disk-0,iothread=1,size=40G", "sockets": "1", "balloon": "0", "ide2": "local:iso/" + iso + ",media=cdrom",
			"net0":  "virtio=" + strings.ToUpper(h.Datacenter.VMs()[0].MAC) + ",bridge=vmbr0",
			"agent": "1", "onboot": "1", "ostype": "l26", "boot": "order=scsi0;ide2", "tags": "homelab-homelab",
			"smbios1": "uuid=" + h.Datacenter.VMs()[0].SystemUUID(),
		}
		if d := cmp.Diff(want, cp.Config); d != "" || cp.Node != "pve-1" || cp.Status != "running" {
			t.Errorf("vm 101 on %s, %s, config (-want +got):\n%s", cp.Node, cp.Status, d)
		}
		for _, id := range []int{111, 112} {
			if got := vms[id].Config["virtio0"]; got != fmt.Sprintf("local-lvm:vm-%d-disk-1,iothread=1,serial=longhorn,size=50G", id) {
				t.Errorf("worker vm %d's Longhorn disk is %q, want a 50 GiB disk with serial longhorn", id, got)
			}
		}
		if got, ok := cp.Config["virtio0"]; ok {
			t.Errorf("the control plane got a Longhorn disk %q", got)
		}
		// One worker per host (placement spreads a role's VMs).
		if vms[111].Node != "pve-2" || vms[112].Node != "pve-1" {
			t.Errorf("workers placed on %s and %s, want pve-2 and pve-1", vms[111].Node, vms[112].Node)
		}
		for _, node := range []string{"pve-1", "pve-2"} {
			if d := cmp.Diff([]string{"iso/" + iso}, sim.Files(node, "local")); d != "" {
				t.Errorf("%s ISO storage (-want +got):\n%s", node, d)
			}
		}
	})
	t.Run("a second deploy makes zero changing calls", func(t *testing.T) {
		before := sim.Writes()
		p := plan(t, h, opts)
		if !p.Empty() {
			t.Errorf("second plan: %v", changes(p))
		}
		require.NoError(t, p.Apply(ctx))
		if got := sim.Writes() - before; got != 0 {
			t.Errorf("second deploy made %d changing calls", got)
		}
	})
	t.Run("drift is planned as an update and repaired", func(t *testing.T) {
		sim.Edit(111, "cores", "1")
		p := plan(t, h, opts)
		if d := cmp.Diff([]string{`pve-2: update vm 111 talos-w-1`}, changes(p)); d != "" {
			t.Fatalf("plan (-want +got):\n%s", d)
		}
		if !strings.Contains(p.Changes()[0].Detail, `cores "1" -> "2"`) {
			t.Errorf("detail %q", p.Changes()[0].Detail)
		}
		require.NoError(t, p.Apply(ctx))
		// A running VM takes the cores at its next start: pending, and
		// the next plan counts it as made but says a restart is due.
		if vm := sim.VMs()[111]; vm.Pending["cores"] != "2" {
			t.Errorf("drift not repaired: config %v, pending %v", vm.Config, vm.Pending)
		}
		again := plan(t, h, opts)
		if !again.Empty() {
			t.Errorf("a pending change planned again: %v", changes(again))
		}
		if !slices.ContainsFunc(again.Notes, func(n string) bool { return strings.Contains(n, "changes pending until its next start (cores)") }) {
			t.Errorf("no note of the pending restart: %v", again.Notes)
		}
	})
	t.Run("VMs outside the model are reported, never deleted", func(t *testing.T) {
		// 900 was this homelab's (it carries the tag); 901 is someone else's.
		for _, form := range []string{"vmid=900&name=legacy&memory=1024&tags=homelab-homelab", "vmid=901&name=nas&memory=1024"} {
			req, _ := newConfigPost(sim.URL()+"/nodes/pve-1/qemu", form)
			if resp, err := sim.TS.Client().Do(req); err != nil || resp.StatusCode != 200 {
				t.Fatalf("creating a stray VM: %v %v", resp, err)
			}
		}
		p := plan(t, h, opts)
		if d := cmp.Diff([]string{
			"pve-1: vm 900 legacy is not in the model (left alone; deploy --prune removes it if it carries the homelab-homelab tag)",
			"pve-1: vm 901 nas is not in the model (left alone; deploy --prune removes it if it carries the homelab-homelab tag)",
		}, p.Unmanaged); d != "" {
			t.Errorf("unmanaged (-want +got):\n%s", d)
		}
		require.NoError(t, p.Apply(ctx))
		if _, ok := sim.VMs()[900]; !ok {
			t.Error("the stray VM was deleted")
		}
	})
	t.Run("with Prune, VMs outside the model are stopped and removed", func(t *testing.T) {
		pruning := opts
		pruning.Prune = true
		p := plan(t, h, pruning)
		if d := cmp.Diff([]string{"pve-1: remove vm 900 legacy"}, changes(p)); d != "" {
			t.Fatalf("plan (-want +got):\n%s", d)
		}
		require.NoError(t, p.Apply(ctx))
		if _, ok := sim.VMs()[900]; ok || len(sim.VMs()) != 4 {
			t.Errorf("VMs after prune: %v", sim.VMs())
		}
		if _, ok := sim.VMs()[901]; !ok {
			t.Error("prune removed a VM without this homelab's tag")
		}
	})
	t.Run("the action log holds every change and no secret", func(t *testing.T) {
		data, err := os.ReadFile(opts.Log.Path)
		require.NoError(t, err)
		entries, err := actionlog.Read(opts.Log.Path)
		require.NoError(t, err)
		ended := 0
		for _, e := range entries {
			if e.Result == actionlog.OK {
				ended++
			}
		}
		if ended != 10 || len(entries) != 20 { // 8 first-deploy changes, 1 drift repair, 1 removal; each started and ended
			t.Errorf("%d entries, %d ended ok; want 20 and 10:\n%s", len(entries), ended, data)
		}
		if u := actionlog.Unfinished(entries); len(u) != 0 {
			t.Errorf("unfinished actions after a clean deploy: %v", u)
		}
		if strings.Contains(string(data), tokenSecret) {
			t.Error("the action log holds the API token secret")
		}
		if e := entries[0]; e.Layer != "proxmox" || e.Result != actionlog.Started {
			t.Errorf("first entry %+v: want a start", e)
		}
		for i, e := range entries {
			if e.Result != actionlog.Started {
				continue
			}
			end := slices.IndexFunc(entries, func(o actionlog.Entry) bool { return o.ID == e.ID && o.Result != actionlog.Started })
			if end < i {
				t.Errorf("the end of %+v is missing or precedes its start", e)
			}
		}
	})
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("transient 503s are retried", func(t *testing.T) {
		sim, h, opts := setup(t)
		sim.Inject(pvesim.Fault{Method: "POST", PathContains: "/qemu", Status: 503, Times: 2})
		if err := plan(t, h, opts).Apply(ctx); err != nil {
			t.Fatalf("deploy with two 503s: %v", err)
		}
		if len(sim.VMs()) != 3 {
			t.Errorf("%d VMs", len(sim.VMs()))
		}
	})
	t.Run("a failed task fails the deploy with its exit status, and a re-run converges", func(t *testing.T) {
		sim, h, opts := setup(t)
		sim.Inject(pvesim.Fault{Method: "POST", PathContains: "/qemu", FailTask: "unable to create VM 101 - no space left", Times: 1})
		err := plan(t, h, opts).Apply(ctx)
		if err == nil || !strings.Contains(err.Error(), "failed: unable to create VM 101 - no space left") {
			t.Fatalf("want the task's exit status, got %v", err)
		}
		for i := 0; i < 2; i++ {
			if err := plan(t, h, opts).Apply(ctx); err != nil {
				t.Fatalf("re-run %d: %v", i, err)
			}
		}
		if p := plan(t, h, opts); !p.Empty() || len(sim.VMs()) != 3 {
			t.Errorf("not converged: %v, %d VMs", changes(p), len(sim.VMs()))
		}
	})
	t.Run("a response lost after a successful create converges without a second create", func(t *testing.T) {
		sim, h, opts := setup(t)
		// pve-2 runs one VM, talos-w-1 (111).
		sim.Inject(pvesim.Fault{Method: "POST", PathContains: "/nodes/pve-2/qemu", DropResponse: true, Times: 1})
		if err := plan(t, h, opts).Apply(ctx); err != nil {
			t.Fatalf("deploy with a lost create response: %v", err)
		}
		creates := 0
		for _, c := range sim.Calls() {
			if c == "POST /nodes/pve-2/qemu" {
				creates++
			}
		}
		if creates != 1 || len(sim.VMs()) != 3 || sim.VMs()[111].Status != "running" {
			t.Errorf("%d creates on pve-2 (want 1), %d VMs, vm 111 %s", creates, len(sim.VMs()), sim.VMs()[111].Status)
		}
	})
	t.Run("errors while polling a task are retried", func(t *testing.T) {
		sim, h, opts := setup(t)
		sim.Inject(pvesim.Fault{Method: "GET", PathContains: "/tasks/", Status: 503, Times: 3})
		if err := plan(t, h, opts).Apply(ctx); err != nil {
			t.Fatalf("deploy with failing polls: %v", err)
		}
		if p := plan(t, h, opts); !p.Empty() {
			t.Errorf("not converged: %v", changes(p))
		}
	})
	t.Run("a synchronous 500 names Proxmox's reason and is not retried", func(t *testing.T) {
		sim, h, opts := setup(t)
		const reason = "unable to create VM 111 - storage 'local-lvm' does not exist"
		sim.Inject(pvesim.Fault{Method: "POST", PathContains: "/nodes/pve-2/qemu", Status: 500, Reason: reason, Times: 1})
		err := plan(t, h, opts).Apply(ctx)
		if err == nil || !strings.Contains(err.Error(), reason) {
			t.Fatalf("want Proxmox's reason in the error, got %v", err)
		}
		creates := 0
		for _, c := range sim.Calls() {
			if c == "POST /nodes/pve-2/qemu" {
				creates++
			}
		}
		if creates != 1 {
			t.Errorf("%d create calls: a 500 is not transient", creates)
		}
		if err := plan(t, h, opts).Apply(ctx); err != nil {
			t.Fatalf("re-run: %v", err)
		}
	})
	t.Run("a task that never ends times out", func(t *testing.T) {
		sim, h, opts := setup(t)
		opts.TaskTimeout = 150 * time.Millisecond
		sim.Inject(pvesim.Fault{Method: "GET", PathContains: "/tasks/", Delay: 400 * time.Millisecond})
		err := plan(t, h, opts).Apply(ctx)
		if err == nil || !strings.Contains(err.Error(), "did not end within 150ms") {
			t.Fatalf("want a task timeout, got %v", err)
		}
	})
	t.Run("the simulator refuses what the Proxmox schema refuses", func(t *testing.T) {
		sim, _, _ := setup(t)
		for _, body := range []string{"vmid=100&memory=lots", "vmid=100&bogus=1", "vmid=100&ostype=plan9", "vmid=100&net0=virtio%3D02:00:00:00:00:01,colour%3Dred"} {
			req, _ := newConfigPost(sim.URL()+"/nodes/pve-1/qemu", body)
			resp, err := sim.TS.Client().Do(req)
			require.NoError(t, err)
			if resp.StatusCode != 400 {
				t.Errorf("%s: status %d, want 400", body, resp.StatusCode)
			}
		}
	})
}

// countingTransport counts the requests that reach the network.
type countingTransport struct {
	base http.RoundTripper
	n    *atomic.Int32
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// TestTLSFailureIsNotRetried points the deployer at the simulator with a
// client that does not trust its certificate: the plan fails on the first
// request with the TLS reason, without retries.
func TestTLSFailureIsNotRetried(t *testing.T) {
	_, h, opts := setup(t)
	var n atomic.Int32
	opts.HTTPClient = &http.Client{Transport: countingTransport{base: &http.Transport{}, n: &n}}
	opts.Retries, opts.Backoff = 4, time.Millisecond
	_, err := newPlan(h, opts)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("want a certificate error, got %v", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("%d requests, want 1: a TLS failure is not transient", got)
	}
}

// TestOwnership puts VMs the homelab did not create on the model's VMIDs:
// an untagged one and one of another homelab are refused with a message
// naming the VM, the tag and the way out; --adopt takes an untagged one
// over (tagging it); a VM living on another host than the model's
// placement is planned where it lives, never created twice.
func TestOwnership(t *testing.T) {
	ctx := context.Background()
	create := func(t *testing.T, sim *pvesim.Server, node, form string) {
		t.Helper()
		req, _ := newConfigPost(sim.URL()+"/nodes/"+node+"/qemu", form)
		if resp, err := sim.TS.Client().Do(req); err != nil || resp.StatusCode != 200 {
			t.Fatalf("creating a VM: %v %v", resp, err)
		}
	}
	t.Run("an untagged VM on a model VMID is refused", func(t *testing.T) {
		sim, h, opts := setup(t)
		create(t, sim, "pve-1", "vmid=101&name=plex&memory=2048&cores=4")
		_, err := newPlan(h, opts)
		if err == nil || !strings.Contains(err.Error(), `vm 101 (plex) exists but has no homelab-homelab tag`) || !strings.Contains(err.Error(), "deploy --adopt 101") {
			t.Fatalf("want a refusal naming the VM and --adopt, got %v", err)
		}
		if got := sim.VMs()[101].Config["name"]; got != "plex" {
			t.Errorf("the foreign VM was renamed to %q", got)
		}
	})
	t.Run("a VM of another homelab is refused even with --adopt", func(t *testing.T) {
		sim, h, opts := setup(t)
		create(t, sim, "pve-1", "vmid=101&name=k8s-cp&memory=2048&tags=homelab-other-lab")
		opts.Adopt = []int{101}
		_, err := newPlan(h, opts)
		if err == nil || !strings.Contains(err.Error(), "belongs to another homelab (tag homelab-other-lab, want homelab-homelab)") {
			t.Fatalf("want a refusal naming both tags, got %v", err)
		}
	})
	t.Run("--adopt takes an untagged VM over and tags it", func(t *testing.T) {
		sim, h, opts := setup(t)
		create(t, sim, "pve-1", "vmid=101&name=old-cp&memory=2048&tags=keep-me")
		opts.Adopt = []int{101}
		p := plan(t, h, opts)
		require.NoError(t, p.Apply(ctx))
		cfg := sim.VMs()[101].Config
		if cfg["name"] != "talos-cp-1" || cfg["tags"] != "homelab-homelab;keep-me" {
			t.Errorf("adopted VM: name %q tags %q", cfg["name"], cfg["tags"])
		}
		opts.Adopt = nil
		if p := plan(t, h, opts); !p.Empty() {
			t.Errorf("after adoption the VM is ours: plan %v", changes(p))
		}
	})
	t.Run("a VM living on another host stays there", func(t *testing.T) {
		sim, h, opts := setup(t)
		create(t, sim, "pve-2", "vmid=101&name=talos-cp-1&memory=8192&tags=homelab-homelab")
		p := plan(t, h, opts)
		for _, c := range p.Changes() {
			if c.Action == "create" && strings.Contains(c.Target, "vm 101 ") {
				t.Errorf("vm 101 planned for a second create: %s", c)
			}
		}
		if d := cmp.Diff([]string{"vm 101 talos-cp-1 runs on pve-2; the model would place it on pve-1: it stays (migrate it in Proxmox to move it)"}, p.Notes); d != "" {
			t.Errorf("migrations (-want +got):\n%s", d)
		}
		require.NoError(t, p.Apply(ctx))
		if vm := sim.VMs()[101]; vm.Node != "pve-2" {
			t.Errorf("vm 101 is on %s", vm.Node)
		}
	})
}

// TestPinnedFingerprint pins each host's certificate by its SHA-256
// fingerprint: with a client that trusts no CA for it, the right pin lets
// the deployer in and a wrong one stops it with ErrFingerprint.
func TestPinnedFingerprint(t *testing.T) {
	sim, err := pvesim.New(testenv.Fixture(t, fixtures.ProxmoxSchema), "pve-1", "pve-2")
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	sum := sha256.Sum256(sim.TS.Certificate().Raw)
	var pairs []string
	for _, b := range sum {
		pairs = append(pairs, fmt.Sprintf("%02X", b))
	}
	right := strings.Join(pairs, ":")
	wrong := strings.Repeat("00:", 31) + "00"
	for _, c := range []struct {
		name, pin string
		ok        bool
	}{{"the right pin", right, true}, {"a wrong pin", wrong, false}} {
		t.Run(c.name, func(t *testing.T) {
			m := homelab.DefaultMachines()
			for i := range m.Hosts {
				m.Hosts[i].Endpoint, m.Hosts[i].TLSFingerprint = sim.TS.URL, c.pin
			}
			props := homelab.Funoffshore()
			props.Machines = m
			_, h := homelab.NewApp(props)
			opts := proxmox.Options{Token: proxmox.Token{ID: "root@pam!homelab", Secret: tokenSecret}, Backoff: time.Millisecond, HTTPClient: &http.Client{}}
			_, err := newPlan(h, opts)
			switch {
			case c.ok && err != nil:
				t.Fatalf("with the right pin: %v", err)
			case !c.ok && !errors.Is(err, proxmox.ErrFingerprint):
				t.Fatalf("with a wrong pin: want ErrFingerprint, got %v", err)
			}
		})
	}
}

// TestDiskDrift changes disks behind the deployer's back: a boot disk made
// smaller is grown back, a missing data disk is added, and a disk larger
// than the model is reported and left (Proxmox cannot shrink one).
func TestDiskDrift(t *testing.T) {
	ctx := context.Background()
	sim, h, opts := setup(t)
	require.NoError(t, plan(t, h, opts).Apply(ctx))
	sim.Edit(111, "scsi0", "local-lvm:vm-111-disk-0,iothread=1,size=20G")
	sim.Edit(112, "virtio0", "")
	sim.Edit(101, "scsi0", "local-lvm:vm-101-disk-0,iothread=1,size=80G")
	p := plan(t, h, opts)
	want := []string{
		"pve-1: update vm 112 talos-w-2 (add virtio0 50 GiB (longhorn))",
		"pve-2: update vm 111 talos-w-1 (grow scsi0 20 -> 32 GiB)",
	}
	var got []string
	for _, c := range p.Changes() {
		got = append(got, c.String())
	}
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "disk scsi0 is 80 GiB, more than the model's 40: Proxmox cannot shrink a disk")
	}) {
		t.Errorf("no note of the larger disk: %v", p.Notes)
	}
	require.NoError(t, p.Apply(ctx))
	vms := sim.VMs()
	if got := vms[111].Config["scsi0"]; got != "local-lvm:vm-111-disk-0,iothread=1,size=32G" {
		t.Errorf("vm 111 scsi0 %q", got)
	}
	if got := vms[112].Config["virtio0"]; !strings.Contains(got, "serial=longhorn,size=50G") {
		t.Errorf("vm 112 virtio0 %q", got)
	}
	if p := plan(t, h, opts); !p.Empty() {
		t.Errorf("not converged: %v", changes(p))
	}
}

// TestOldSCSIDataDiskIsReported: a worker deployed before data disks
// moved to virtio-blk has its Longhorn disk on scsi1. Plan adds the
// virtio disk and names the old one with how to detach it, deleting
// nothing.
func TestOldSCSIDataDiskIsReported(t *testing.T) {
	ctx := context.Background()
	sim, h, opts := setup(t)
	require.NoError(t, plan(t, h, opts).Apply(ctx))
	sim.Edit(111, "virtio0", "")
	sim.Edit(111, "scsi1", "local-lvm:vm-111-disk-1,iothread=1,serial=longhorn,size=50G")
	p := plan(t, h, opts)
	require.Equal(t, []string{"pve-2: update vm 111 talos-w-1"}, changes(p))
	require.Equal(t, "add virtio0 50 GiB (longhorn)", p.Changes()[0].Detail)
	require.True(t, slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "vm 111 talos-w-1 has disk scsi1") && strings.Contains(n, "qm set 111 --delete scsi1")
	}), "notes: %v", p.Notes)
	require.NoError(t, p.Apply(ctx))
	require.Contains(t, sim.VMs()[111].Config["scsi1"], "serial=longhorn", "the old disk is kept")
}

// TestPlantedISOIsNotReused is someone who can write to a host's ISO
// storage. Steps: they place a tampered ISO under the name deploy would
// use. Assertion: with the cluster's ISOSHA256 set, the expected name
// commits to the checksum, so the planted file is not reused and the ISO
// is downloaded and verified; without a checksum, the plan says the file
// is reused unverified. Before the fix, an existing file with the
// expected name was reused silently.
func TestPlantedISOIsNotReused(t *testing.T) {
	sim, err := pvesim.New(testenv.Fixture(t, fixtures.ProxmoxSchema), "pve-1", "pve-2")
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	build := func(sum string) *homelab.Homelab {
		m := homelab.DefaultMachines()
		m.ISOSHA256 = sum
		for i := range m.Hosts {
			m.Hosts[i].Endpoint = sim.TS.URL
		}
		props := homelab.Funoffshore()
		props.Machines = m
		_, h := homelab.NewApp(props)
		return h
	}
	_, unverified := build("").Cluster.ISO()
	for _, host := range []string{"pve-1", "pve-2"} {
		req, err := newUploadRequest(sim.TS.URL, host, unverified, []byte("tampered"))
		require.NoError(t, err)
		res, err := sim.TS.Client().Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	opts := proxmox.Options{Token: proxmox.Token{ID: "root@pam!homelab", Secret: tokenSecret}, HTTPClient: sim.TS.Client(), Backoff: time.Millisecond}
	h := build(strings.Repeat("ab", 32))
	_, want := h.Cluster.ISO()
	require.NotEqual(t, unverified, want)
	require.Contains(t, want, "sha256-abababababababab")
	var downloads []string
	for _, c := range plan(t, h, opts).Changes() {
		if c.Action == "download" {
			downloads = append(downloads, c.Target)
		}
	}
	require.Equal(t, []string{"iso " + want, "iso " + want}, downloads, "the planted file was reused")

	p := plan(t, build(""), opts)
	require.Contains(t, strings.Join(p.Notes, "\n"), "is reused as it is on the host, unverified: set the cluster's ISOSHA256")
}

// TestISOChecksum gives the ISO a SHA-256: Proxmox is asked to verify the
// download, and a download whose content does not match fails the deploy
// with Proxmox's reason.
func TestISOChecksum(t *testing.T) {
	ctx := context.Background()
	good := strings.Repeat("ab", 32)
	for _, c := range []struct {
		name, fetched string
		ok            bool
	}{{"a matching ISO", good, true}, {"a corrupted or replaced ISO", strings.Repeat("cd", 32), false}} {
		t.Run(c.name, func(t *testing.T) {
			sim, err := pvesim.New(testenv.Fixture(t, fixtures.ProxmoxSchema), "pve-1", "pve-2")
			require.NoError(t, err)
			t.Cleanup(sim.Close)
			m := homelab.DefaultMachines()
			m.ISOSHA256 = good
			for i := range m.Hosts {
				m.Hosts[i].Endpoint = sim.TS.URL
			}
			props := homelab.Funoffshore()
			props.Machines = m
			_, h := homelab.NewApp(props)
			url, _ := h.Cluster.ISO()
			sim.ISOSums = map[string]string{url: c.fetched}
			opts := proxmox.Options{Token: proxmox.Token{ID: "root@pam!homelab", Secret: tokenSecret}, HTTPClient: sim.TS.Client(), Backoff: time.Millisecond}
			err = plan(t, h, opts).Apply(ctx)
			switch {
			case c.ok && err != nil:
				t.Fatalf("a matching ISO: %v", err)
			case !c.ok && (err == nil || !strings.Contains(err.Error(), "checksum mismatch")):
				t.Fatalf("want the checksum mismatch, got %v", err)
			}
		})
	}
}

// TestPlanFollowsTheRenderedInventory checks that deploy applies what Git
// reviews: the plan is made from cluster/proxmox/inventory.yaml as
// rendered, read back, so an edit of the file (here a VM's memory) is what
// the plan changes, and the file of an unchanged tree plans nothing.
func TestPlanFollowsTheRenderedInventory(t *testing.T) {
	_, h, opts := setup(t)
	ctx := context.Background()
	files, err := h.Datacenter.RenderFiles()
	require.NoError(t, err)
	require.Len(t, files, 1)
	inv, err := model.ParseInventory(files[0].Data)
	require.NoError(t, err)
	assert.Equal(t, h.Datacenter.Inventory(), inv, "the inventory reads back as rendered")
	p, err := proxmox.NewPlan(ctx, inv, opts)
	require.NoError(t, err)
	require.NoError(t, p.Apply(ctx))
	p, err = proxmox.NewPlan(ctx, inv, opts)
	require.NoError(t, err)
	assert.Empty(t, changes(p), "the rendered inventory, deployed, plans nothing")

	edited := bytes.Replace(files[0].Data, []byte(`memory: "8192"`), []byte(`memory: "12288"`), 1)
	require.NotEqual(t, files[0].Data, edited)
	inv, err = model.ParseInventory(edited)
	require.NoError(t, err)
	p, err = proxmox.NewPlan(ctx, inv, opts)
	require.NoError(t, err)
	require.Len(t, p.VMs, 1)
	assert.Equal(t, `pve-1: update vm 101 talos-cp-1 (memory "8192" -> "12288"; settings a running VM cannot take apply at its next start)`, p.VMs[0].String())
}
