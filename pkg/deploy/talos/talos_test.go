package talos_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	talosclient "github.com/siderolabs/talos/pkg/machinery/client"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	mtype "github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	model "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
	"github.com/funoffshore/homelab/pkg/deploy/talos"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/testenv/talossim"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func bundle(t testing.TB) *secrets.Bundle {
	t.Helper()
	contract, _ := config.ParseContractFromVersion(model.DefaultTalosVersion)
	b, err := secrets.NewBundle(secrets.NewFixedClock(time.Now()), contract)
	require.NoError(t, err)
	return b
}

// start runs a simulator of the nodes of cluster trusting ca, each
// machine reporting its VM's identity, and options that reach them.
func start(t testing.TB, cluster *model.Cluster, ca *secrets.Bundle, timeout time.Duration) (*talossim.Sim, talos.Options) {
	t.Helper()
	var names []string
	for _, n := range cluster.Nodes() {
		names = append(names, n.Hostname)
	}
	sim, err := talossim.New(ca.Certs.OS, names...)
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	for _, n := range cluster.Nodes() {
		uuid, mac := n.Machine.Identity()
		require.NoError(t, sim.Node(n.Hostname).SetIdentity(talossim.Identity{UUID: uuid, MACs: []string{mac}}))
	}
	return sim, talos.Options{Address: func(n *model.Node) string { return sim.Node(n.Hostname).Addr }, Timeout: timeout, Delivery: &testenv.SimDelivery{Sim: sim}}
}

// mustPlan plans cluster against the simulated nodes, failing on an error.
func mustPlan(ctx context.Context, t testing.TB, cluster *model.Cluster, b *secrets.Bundle, opts talos.Options) *talos.Plan {
	t.Helper()
	p, err := talos.NewPlan(ctx, cluster, b, opts)
	require.NoError(t, err)
	return p
}

// impersonate starts a machine in maintenance mode that answers at n's
// address in place of n (opts.Address is changed), trusting the cluster's
// CA as any Talos does; with identity it reports n's VM's SMBIOS UUID and
// MAC, which anyone can read from the inventory. It returns the simulator
// of that one machine, to see what it received.
func impersonate(t *testing.T, b *secrets.Bundle, opts *talos.Options, n *model.Node, identity bool) *talossim.Sim {
	t.Helper()
	attacker, err := talossim.New(b.Certs.OS, "attacker")
	require.NoError(t, err)
	t.Cleanup(attacker.Close)
	if identity {
		uuid, mac := n.Machine.Identity()
		require.NoError(t, attacker.Node("attacker").SetIdentity(talossim.Identity{UUID: uuid, MACs: []string{mac}}))
	}
	address := opts.Address
	opts.Address = func(m *model.Node) string {
		if m == n {
			return attacker.Node("attacker").Addr
		}
		return address(m)
	}
	return attacker
}

// converge plans cluster and carries the plan out, failing on an error.
func converge(ctx context.Context, t testing.TB, cluster *model.Cluster, b *secrets.Bundle, opts talos.Options) {
	t.Helper()
	if _, err := mustPlan(ctx, t, cluster, b, opts).Apply(ctx, cluster, b, opts); err != nil {
		t.Fatal(err)
	}
}

func TestDeploy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, h := homelab.NewApp(nil)
	b := bundle(t)
	sim, opts := start(t, h.Cluster, b, 20*time.Second)

	p, err := talos.NewPlan(ctx, h.Cluster, b, opts)
	require.NoError(t, err)
	planIs(t, p,
		"talos-cp-1: deliver controlplane config to VM talos-cp-1 out of band (an ISO attached through the Proxmox API; the VM restarts with it)", "talos-w-1: deliver worker config to VM talos-w-1 out of band (an ISO attached through the Proxmox API; the VM restarts with it)",
		"talos-w-2: deliver worker config to VM talos-w-2 out of band (an ISO attached through the Proxmox API; the VM restarts with it)", "talos-cp-1: bootstrap etcd",
	)
	if sim.Writes() != 0 {
		t.Fatalf("planning wrote %d times", sim.Writes())
	}
	res, err := p.Apply(ctx, h.Cluster, b, opts)
	require.NoError(t, err)
	// Each VM got its config out of band once, and no config ISO (it
	// holds the cluster's keys) stays attached.
	delivery := opts.Delivery.(*testenv.SimDelivery)
	require.ElementsMatch(t, []string{"talos-cp-1", "talos-w-1", "talos-w-2"}, delivery.Delivered())
	require.Zero(t, delivery.Attached(), "a config ISO is still attached")
	for name, role := range map[string]mtype.Type{"talos-cp-1": mtype.TypeControlPlane, "talos-w-1": mtype.TypeWorker, "talos-w-2": mtype.TypeWorker} {
		if ok, got := sim.Node(name).Configured(); !ok || got != role {
			t.Errorf("%s configured=%v role=%v, want %v", name, ok, got, role)
		}
		if got := sim.Node(name).Hostname(); got != name {
			t.Errorf("the node the model calls %s runs as %q: its config does not name it", name, got)
		}
	}
	if !sim.Node("talos-cp-1").Bootstrapped() {
		t.Error("etcd was not bootstrapped on talos-cp-1")
	}
	if _, err := clientcmd.Load(res.Kubeconfig); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}
	if !strings.Contains(string(res.Talosconfig), "context: prox-n100") {
		t.Errorf("talosconfig:\n%s", res.Talosconfig)
	}

	t.Run("a second deploy plans nothing and writes nothing", func(t *testing.T) {
		before := sim.Writes()
		p, err := talos.NewPlan(ctx, h.Cluster, b, opts)
		require.NoError(t, err)
		if len(p.Changes()) != 0 {
			t.Errorf("second plan: %v", p.Changes())
		}
		if _, err := p.Apply(ctx, h.Cluster, b, opts); err != nil {
			t.Fatal(err)
		}
		if sim.Writes() != before {
			t.Errorf("second deploy wrote %d times", sim.Writes()-before)
		}
	})
	t.Run("a node on another Talos version is planned for an upgrade, not reconfigured", func(t *testing.T) {
		sim.Node("talos-w-1").SetVersion("v1.13.8")
		defer sim.Node("talos-w-1").SetVersion(model.DefaultTalosVersion)
		p, err := talos.NewPlan(ctx, h.Cluster, b, opts)
		require.NoError(t, err)
		want := []string{"talos-w-1: upgrade Talos v1.13.8 -> v1.13.9 (reboots; drained first, one node at a time)"}
		if d := cmp.Diff(want, p.Changes()); d != "" || len(p.Update) != 0 {
			t.Fatalf("plan (-want +got):\n%s", d)
		}
	})
	t.Run("a configured node refuses an insecure client", func(t *testing.T) {
		c, err := talosclient.New(ctx, talosclient.WithEndpoints(sim.Node("talos-w-1").Addr), talosclient.WithTLSConfig(&tls.Config{InsecureSkipVerify: true}))
		require.NoError(t, err)
		defer c.Close()
		if _, err := c.ApplyConfiguration(ctx, &machine.ApplyConfigurationRequest{Data: []byte("version: v1alpha1")}); err == nil {
			t.Error("an insecure client re-configured a node")
		}
	})
}

func TestDeployRefusesAnotherClustersCA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, h := homelab.NewApp(nil)
	_, opts := start(t, h.Cluster, bundle(t), 2*time.Second)
	other := bundle(t)
	p, err := talos.NewPlan(ctx, h.Cluster, other, opts)
	require.NoError(t, err)
	_, err = p.Apply(ctx, h.Cluster, other, opts)
	if err == nil || !strings.Contains(err.Error(), "machine.ca is not the cluster's Talos API CA") {
		t.Fatalf("want the nodes to refuse a config from another CA, got %v", err)
	}
}

func TestRecoverFromSnapshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, h := homelab.NewApp(nil)
	b := bundle(t)
	sim, opts := start(t, h.Cluster, b, 20*time.Second)
	snapshot := []byte("etcd snapshot bytes")
	opts.RecoverFrom = snapshot
	p, err := talos.NewPlan(ctx, h.Cluster, b, opts)
	require.NoError(t, err)
	if got := p.Changes()[len(p.Changes())-1]; got != "talos-cp-1: bootstrap etcd from a 19-byte snapshot" {
		t.Errorf("plan says %q", got)
	}
	if _, err := p.Apply(ctx, h.Cluster, b, opts); err != nil {
		t.Fatal(err)
	}
	ok, got := sim.Node("talos-cp-1").Recovered()
	if !ok || string(got) != string(snapshot) {
		t.Errorf("recovered=%v with %q, want the uploaded snapshot", ok, got)
	}
}

// TestAttackerOnTheLANGetsNoKeysOnFirstDeploy is an attacker on the LAN
// before the first deploy. Steps: they read the committed inventory (the
// workers' MACs; the SMBIOS UUID follows from the host name), start a
// machine in maintenance mode reporting talos-w-2's exact identity, and
// answer on talos-w-2's address before its VM does. Assertion: the
// machine they control receives no config (no CA key), and the real VM
// gets its config through the out-of-band delivery.
//
// Before the fix, deploy sent the config over the LAN to whatever
// answered, after comparing only what it reported about itself: the
// impostor got the config.
func TestAttackerOnTheLANGetsNoKeysOnFirstDeploy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, h := homelab.NewApp(nil)
	b := bundle(t)
	sim, opts := start(t, h.Cluster, b, 20*time.Second)
	w2 := h.Cluster.Nodes()[2]
	attacker := impersonate(t, b, &opts, w2, true) // the attacker answers first
	// opts.Delivery boots the real talos-w-2: the VM behind the Proxmox API.
	p := mustPlan(ctx, t, h.Cluster, b, opts)
	_, _ = p.Apply(ctx, h.Cluster, b, opts) // talos-w-2 never answers with mutual TLS at the attacker's address
	if configured, _ := attacker.Node("attacker").Configured(); configured || attacker.Writes() != 0 {
		t.Fatal("the attacker's machine received a config: it holds the cluster's CA keys")
	}
	if configured, _ := sim.Node("talos-w-2").Configured(); !configured {
		t.Error("the real talos-w-2 did not get its config out of band")
	}
}

// TestAttackerOnTheLANGetsNoKeysFromARunningCluster is the attacker after
// a deploy. Steps: the control plane is down (or they win its address),
// and they answer on it in maintenance mode with a self-signed
// certificate and the node's identity. Assertion: deploy plans nothing
// for that node (it is known to be configured), refuses with the way
// forward, and the attacker's machine receives nothing; only --reinstall
// names the node for a new config, and even then it goes to the VM.
//
// Before the fix, the plan read "apply controlplane config (maintenance
// mode)" and "bootstrap etcd", and the attacker received the Talos, etcd
// and Kubernetes CA keys.
func TestAttackerOnTheLANGetsNoKeysFromARunningCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, h := homelab.NewApp(nil)
	b := bundle(t)
	sim, opts := start(t, h.Cluster, b, 3*time.Second)
	opts.Log = &actionlog.Log{Path: t.TempDir() + "/actions.jsonl"}
	converge(ctx, t, h.Cluster, b, opts)
	history, err := actionlog.Read(opts.Log.Path)
	require.NoError(t, err)
	opts.History = history

	cp := h.Cluster.ControlPlanes()[0]
	sim.Node(cp.Hostname).Stop()
	attacker := impersonate(t, b, &opts, cp, true)
	p := mustPlan(ctx, t, h.Cluster, b, opts)
	for _, c := range p.Changes() {
		if !strings.HasPrefix(c, "refused") && (strings.Contains(c, "config to") || strings.Contains(c, "bootstrap etcd")) {
			t.Errorf("the plan sends the control plane's config or bootstraps etcd again: %q", c)
		}
	}
	require.Len(t, p.Refused, 1, "%v", p.Changes())
	for _, want := range []string{"talos-cp-1 is known to be configured (the action log shows it configured on", "does not answer with the cluster's CA", "deploy --reinstall talos-cp-1"} {
		require.Contains(t, p.Refused[0], want)
	}
	_, err = p.Apply(ctx, h.Cluster, b, opts)
	require.ErrorContains(t, err, "deploy refuses, nothing changed")
	if configured, _ := attacker.Node("attacker").Configured(); configured || attacker.Writes() != 0 {
		t.Fatal("the attacker's machine received a config")
	}

	// Without the action log (another laptop) and no other control plane
	// to ask etcd, nothing says the node is configured: its config still
	// goes only to its VM, never to the address.
	opts.History = nil
	p = mustPlan(ctx, t, h.Cluster, b, opts)
	for _, c := range p.Changes() {
		if strings.Contains(c, "talos-cp-1: apply") {
			t.Errorf("the plan sends the config to the address: %q", c)
		}
	}

	// --reinstall names the node: its config goes to the VM through the
	// Proxmox API, never to the address.
	opts.History, opts.Reinstall = history, []string{cp.Hostname}
	p = mustPlan(ctx, t, h.Cluster, b, opts)
	require.Empty(t, p.Refused, "%v", p.Changes())
	require.Contains(t, p.Changes(), "talos-cp-1: deliver controlplane config to VM talos-cp-1 out of band (an ISO attached through the Proxmox API; the VM restarts with it)")
}

// TestBareMetalNeedsAPinnedCertificate: a node without a VM has no
// out-of-band channel. Steps: an attacker answers on its address in
// maintenance mode. Assertion: without a pinned fingerprint the plan
// refuses and names the flag; with the real machine's fingerprint pinned,
// the attacker's certificate is refused at the TLS handshake and it
// receives nothing.
func TestBareMetalNeedsAPinnedCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, h := homelab.NewApp(nil)
	b := bundle(t)
	_, opts := start(t, h.Cluster, b, 2*time.Second)
	w2 := h.Cluster.Nodes()[2]
	w2.Machine = nil // a machine the tree does not model
	attacker := impersonate(t, b, &opts, w2, false)
	p := mustPlan(ctx, t, h.Cluster, b, opts)
	require.Len(t, p.Refused, 1, "%v", p.Changes())
	require.Contains(t, p.Refused[0], "deploy --talos-fingerprint talos-w-2=<fingerprint>")

	// The real machine's certificate is another one than the attacker's.
	opts.Fingerprints = map[string]string{w2.Hostname: "OLHGYuUwM4MjPhbyLudf1J4VcIX4FaB3A2LAHGfWWYs="}
	p = mustPlan(ctx, t, h.Cluster, b, opts)
	require.Empty(t, p.Refused)
	_, err := p.Apply(ctx, h.Cluster, b, opts)
	require.ErrorContains(t, err, "talos talos-w-2: apply config")
	if configured, _ := attacker.Node("attacker").Configured(); configured || attacker.Writes() != 0 {
		t.Fatal("the attacker's machine received a config despite the pinned certificate")
	}
}

// Day 2: a config change the nodes apply live, one that reboots, and a
// failure on the second node that stops the rollout and a rerun that
// resumes it.
func TestConfigChanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, h := homelab.NewApp(nil)
	b := bundle(t)
	sim, opts := start(t, h.Cluster, b, 20*time.Second)
	deployModel := func(t *testing.T, cluster *model.Cluster) *talos.Plan { return mustPlan(ctx, t, cluster, b, opts) }
	converge(ctx, t, h.Cluster, b, opts)
	changed := func(edit func(m *homelab.Machines)) *model.Cluster {
		m := homelab.DefaultMachines()
		edit(m)
		props := homelab.Funoffshore()
		props.Machines = m
		_, h := homelab.NewApp(props)
		return h.Cluster
	}

	t.Run("a VIP: every node applies it live, control plane first", func(t *testing.T) {
		vip := changed(func(m *homelab.Machines) { m.VIP = "192.168.1.100" })
		p := deployModel(t, vip)
		planIs(t, p,
			"talos-cp-1: apply the changed controlplane config (no reboot; one node at a time, waiting for it to answer and for etcd)",
			"talos-w-1: apply the changed worker config (no reboot; one node at a time, waiting for it to answer and for etcd)",
			"talos-w-2: apply the changed worker config (no reboot; one node at a time, waiting for it to answer and for etcd)",
		)
		if !strings.Contains(p.Update[0].Diff, "192.168.1.100") || strings.Contains(p.Update[0].Diff, string(b.Secrets.BootstrapToken)) {
			t.Errorf("the control plane's diff does not name the VIP, or shows a secret:\n%s", p.Update[0].Diff)
		}
		// The node fails on the second node: the first runs the new
		// config, the third is untouched, and the error says so.
		sim.Node("talos-w-1").FailNext("ApplyConfiguration", 1)
		_, err := p.Apply(ctx, vip, b, opts)
		if err == nil || !strings.Contains(err.Error(), "talos talos-w-1: applying the changed config") || !strings.Contains(err.Error(), "not yet changed: talos-w-2") {
			t.Fatalf("want the rollout stopped at talos-w-1 naming talos-w-2, got %v", err)
		}
		if !strings.Contains(string(sim.Node("talos-cp-1").Config()), "192.168.1.100") || strings.Contains(string(sim.Node("talos-w-2").Config()), "192.168.1.100") {
			t.Fatal("the first node should run the new config and the third the old one")
		}
		// A rerun plans only what is left and finishes.
		p = deployModel(t, vip)
		if len(p.Update) != 2 || p.Update[0].Node.Hostname != "talos-w-1" || p.Update[1].Node.Hostname != "talos-w-2" {
			t.Fatalf("rerun plan: %v, want talos-w-1 then talos-w-2", p.Changes())
		}
		if _, err := p.Apply(ctx, vip, b, opts); err != nil {
			t.Fatal(err)
		}
		if again := deployModel(t, vip); len(again.Changes()) != 0 {
			t.Errorf("after the rollout: %v", again.Changes())
		}
		for _, n := range []string{"talos-cp-1", "talos-w-1", "talos-w-2"} {
			if r := sim.Node(n).Reboots(); r != 0 {
				t.Errorf("%s rebooted %d times for a live change", n, r)
			}
		}
	})
	t.Run("another install disk applies live: Talos reads it only to install or upgrade", func(t *testing.T) {
		opts, _ := withKube(t, sim, opts, "talos-w-2")
		disk := changed(func(m *homelab.Machines) { m.VIP = "192.168.1.100"; m.Nodes[2].InstallDisk = "/dev/vdb" })
		p := mustPlan(ctx, t, disk, b, opts)
		planIs(t, p, "talos-w-2: apply the changed worker config (no reboot; one node at a time, waiting for it to answer and for etcd)")
		_, err := p.Apply(ctx, disk, b, opts)
		require.NoError(t, err)
		require.Zero(t, sim.Node("talos-w-2").Reboots())
		require.Contains(t, string(sim.Node("talos-w-2").Config()), "/dev/vdb")
	})
	t.Run("an environment for Talos' services is staged and each worker drained and rebooted", func(t *testing.T) {
		opts, kc := withKube(t, sim, opts, "talos-w-1", "talos-w-2")
		opts.Log = &actionlog.Log{Path: t.TempDir() + "/actions.jsonl"}
		env := changed(func(m *homelab.Machines) {
			m.VIP = "192.168.1.100"
			m.Nodes[2].InstallDisk = "/dev/vdb"
			m.Patches = []model.Patch{{Role: model.Worker, Config: &v1alpha1.Config{MachineConfig: &v1alpha1.MachineConfig{
				MachineEnv: map[string]string{"https_proxy": "http://proxy.lan:3128"}}}}}
		})
		p := mustPlan(ctx, t, env, b, opts)
		planIs(t, p,
			"talos-w-1: apply the changed worker config (reboots: staged, drained, rebooted, uncordoned; one node at a time, waiting for it to answer and for etcd)",
			"talos-w-2: apply the changed worker config (reboots: staged, drained, rebooted, uncordoned; one node at a time, waiting for it to answer and for etcd)")
		_, err := p.Apply(ctx, env, b, opts)
		require.NoError(t, err)
		require.Equal(t, 1, sim.Node("talos-w-1").Reboots())
		require.Equal(t, 1, sim.Node("talos-w-2").Reboots())
		require.Zero(t, sim.Node("talos-cp-1").Reboots())
		require.Contains(t, string(sim.Node("talos-w-2").Config()), "http://proxy.lan:3128")
		require.False(t, cordoned(ctx, t, kc, "talos-w-2"))
		require.Equal(t, []string{"talos-w-1 drain ok", "talos-w-1 reboot ok", "talos-w-1 uncordon ok", "talos-w-1 update-config ok",
			"talos-w-2 drain ok", "talos-w-2 reboot ok", "talos-w-2 uncordon ok", "talos-w-2 update-config ok"},
			finished(t, opts.Log, "drain", "reboot", "uncordon", "update-config"))
	})
}

// Day 2: a Talos release bump on three nodes: control plane first, each
// worker drained before and uncordoned after, one node at a time; a
// failure on the second node stops the rollout and a rerun resumes it.
func TestTalosUpgrade(t *testing.T) {
	ctx, h, b, sim, opts, nodes := behind(t, 20*time.Second)
	opts, kc := withKube(t, sim, opts, nodes...)
	opts.Log = &actionlog.Log{Path: t.TempDir() + "/actions.jsonl"}

	p := mustPlan(ctx, t, h, b, opts)
	planIs(t, p,
		"talos-cp-1: upgrade Talos v1.13.8 -> v1.13.9 (reboots; etcd checked before and after, one node at a time)",
		"talos-w-1: upgrade Talos v1.13.8 -> v1.13.9 (reboots; drained first, one node at a time)",
		"talos-w-2: upgrade Talos v1.13.8 -> v1.13.9 (reboots; drained first, one node at a time)",
	)
	sim.Node("talos-w-1").FailNext("Upgrade", 1)
	_, err := p.Apply(ctx, h, b, opts)
	if err == nil || !strings.Contains(err.Error(), "talos talos-w-1: upgrading to v1.13.9") || !strings.Contains(err.Error(), "not yet upgraded: talos-w-2") {
		t.Fatalf("want the rollout stopped at talos-w-1 naming talos-w-2, got %v", err)
	}
	if got := []string{sim.Node("talos-cp-1").Version(), sim.Node("talos-w-1").Version(), sim.Node("talos-w-2").Version()}; !slices.Equal(got, []string{"v1.13.9", "v1.13.8", "v1.13.8"}) {
		t.Fatalf("versions after the failure: %v, want the control plane upgraded and the workers not", got)
	}
	if !cordoned(ctx, t, kc, "talos-w-1") || cordoned(ctx, t, kc, "talos-w-2") {
		t.Error("after the failure talos-w-1 should stay cordoned (drained, not upgraded) and talos-w-2 untouched")
	}

	p = mustPlan(ctx, t, h, b, opts)
	if len(p.Upgrade) != 2 {
		t.Fatalf("rerun plan: %v, want the two workers", p.Changes())
	}
	if _, err := p.Apply(ctx, h, b, opts); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if v := sim.Node(n).Version(); v != "v1.13.9" {
			t.Errorf("%s runs %s after the rerun", n, v)
		}
		if up := sim.Node(n).Upgrades(); len(up) != 1 || up[0] != h.InstallerImage() {
			t.Errorf("%s upgraded to %v, want once to %s", n, up, h.InstallerImage())
		}
	}
	wantSteps := []string{
		"talos-cp-1 upgrade v1.13.9 ok",
		"talos-w-1 drain ok", "talos-w-1 upgrade v1.13.9 failed", // drained, the upgrade call failed, left cordoned
		"talos-w-1 drain ok", "talos-w-1 uncordon ok", "talos-w-1 upgrade v1.13.9 ok",
		"talos-w-2 drain ok", "talos-w-2 uncordon ok", "talos-w-2 upgrade v1.13.9 ok",
	}
	if d := cmp.Diff(wantSteps, finished(t, opts.Log, "upgrade", "drain", "uncordon")); d != "" {
		t.Errorf("action log (-want +got):\n%s", d)
	}
	for _, n := range nodes {
		if cordoned(ctx, t, kc, n) {
			t.Errorf("%s is still cordoned after its upgrade", n)
		}
	}

	// A node installed with other extensions (another schematic) is
	// reinstalled from the model's installer image.
	other := strings.Repeat("0", 64)
	require.NoError(t, sim.Node("talos-w-2").SetSchematic(other))
	p = mustPlan(ctx, t, h, b, opts)
	planIs(t, p, fmt.Sprintf("talos-w-2: reinstall Talos v1.13.9 with schematic %.12s (runs 000000000000: other extensions) (reboots; drained first, one node at a time)", h.Schematic().ID()))
	if _, err := p.Apply(ctx, h, b, opts); err != nil {
		t.Fatal(err)
	}
	if up := sim.Node("talos-w-2").Upgrades(); len(up) != 2 || up[1] != h.InstallerImage() {
		t.Errorf("talos-w-2 upgrades %v, want a second one to %s", up, h.InstallerImage())
	}
	if p := mustPlan(ctx, t, h, b, opts); len(p.Changes()) != 0 {
		t.Errorf("after the reinstall: %v", p.Changes())
	}
}

// Day 2: a worker added to the model is configured and joins; the nodes
// already running are left alone and etcd is not bootstrapped again.
func TestAddWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := homelab.DefaultMachines()
	m.Nodes = append(m.Nodes, homelab.Node{Name: "talos-w-3", Role: model.Worker, IP: "192.168.1.113", VMID: 113, Cores: 2, MemoryGiB: 4, DiskGiB: 32})
	props := homelab.Funoffshore()
	props.Machines = m
	_, bigger := homelab.NewApp(props)
	_, h := homelab.NewApp(nil)
	b := bundle(t)
	sim, opts := start(t, bigger.Cluster, b, 20*time.Second) // the new VM is up, in maintenance mode
	converge(ctx, t, h.Cluster, b, opts)
	writes := sim.Writes()
	p := mustPlan(ctx, t, bigger.Cluster, b, opts)
	planIs(t, p, "talos-w-3: deliver worker config to VM talos-w-3 out of band (an ISO attached through the Proxmox API; the VM restarts with it)")
	if _, err := p.Apply(ctx, bigger.Cluster, b, opts); err != nil {
		t.Fatal(err)
	}
	if ok, role := sim.Node("talos-w-3").Configured(); !ok || role != mtype.TypeWorker {
		t.Errorf("talos-w-3 configured=%v role=%v", ok, role)
	}
	if sim.Writes() != writes+1 {
		t.Errorf("adding one worker wrote %d configs, want 1", sim.Writes()-writes)
	}
}

// A Talos upgrade that does not boot: the node reboots and Talos falls
// back to the release it ran, which it reports. The rollout stops at once
// on that node, saying so, instead of waiting out its timeout or, worse,
// going on to the next node; a rerun, once the cause is fixed, resumes.
func TestTalosUpgradeRolledBack(t *testing.T) {
	ctx, h, b, sim, opts, nodes := behind(t, 20*time.Second)
	opts, _ = withKube(t, sim, opts, nodes...)
	p := mustPlan(ctx, t, h, b, opts)
	sim.Node("talos-w-1").RollBackNextUpgrade()
	start := time.Now()
	_, err := p.Apply(ctx, h, b, opts)
	require.Error(t, err)
	require.Contains(t, err.Error(), "talos talos-w-1: upgrading to v1.13.9: the node rebooted and came back on v1.13.8, not v1.13.9: Talos rolled the upgrade back")
	require.Contains(t, err.Error(), "not yet upgraded: talos-w-2")
	require.Less(t, time.Since(start), opts.Timeout, "the rollback is named at once, not after the wait for the new version times out")
	require.Equal(t, []string{"v1.13.9", "v1.13.8", "v1.13.8"}, []string{sim.Node("talos-cp-1").Version(), sim.Node("talos-w-1").Version(), sim.Node("talos-w-2").Version()})
	require.Equal(t, 1, sim.Node("talos-w-1").Reboots(), "it did reboot")

	p = mustPlan(ctx, t, h, b, opts)
	_, err = p.Apply(ctx, h, b, opts)
	require.NoError(t, err)
	for _, n := range nodes {
		require.Equal(t, "v1.13.9", sim.Node(n).Version(), n)
	}
}

// behind is the Funoffshore cluster converged on the simulators with
// every node one Talos release behind the model (v1.13.8), and its nodes:
// the start of an upgrade.
func behind(t *testing.T, timeout time.Duration) (context.Context, *model.Cluster, *secrets.Bundle, *talossim.Sim, talos.Options, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	_, h := homelab.NewApp(nil)
	b := bundle(t)
	sim, opts := start(t, h.Cluster, b, timeout)
	converge(ctx, t, h.Cluster, b, opts)
	nodes := []string{"talos-cp-1", "talos-w-1", "talos-w-2"}
	for _, n := range nodes {
		sim.Node(n).SetVersion("v1.13.8")
	}
	return ctx, h.Cluster, b, sim, opts, nodes
}

// Day 2: nodes a minor behind and not on their line's latest patch are
// upgraded through the latest patch of their line, then to the model's
// release (package upgradepath's path), every node on a hop before the
// next, the hops in the action log. A direct jump the installer's
// pre-flight check refuses (the simulator runs it) leaves the node where
// it was, without a reboot.
func TestTalosUpgradeThroughIntermediateReleases(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h := clusterOn("1.35.2", nil) // Kubernetes both Talos 1.12 and 1.13 run
	b := bundle(t)
	sim, opts := start(t, h, b, 20*time.Second)
	converge(ctx, t, h, b, opts)
	nodes := []string{"talos-cp-1", "talos-w-1", "talos-w-2"}
	for _, n := range nodes {
		sim.Node(n).SetVersion("v1.12.3")
	}
	opts, _ = withKube(t, sim, opts, nodes...)
	opts.Log = &actionlog.Log{Path: t.TempDir() + "/actions.jsonl"}

	p := mustPlan(ctx, t, h, b, opts)
	planIs(t, p,
		"upgrade path: Talos v1.12.3 -> v1.12.11 -> v1.13.9 (each hop over every node before the next)",
		"talos-cp-1: upgrade Talos v1.12.3 -> v1.12.11 (reboots; etcd checked before and after, one node at a time)",
		"talos-w-1: upgrade Talos v1.12.3 -> v1.12.11 (reboots; drained first, one node at a time)",
		"talos-w-2: upgrade Talos v1.12.3 -> v1.12.11 (reboots; drained first, one node at a time)",
		"talos-cp-1: upgrade Talos v1.12.11 -> v1.13.9 (reboots; etcd checked before and after, one node at a time)",
		"talos-w-1: upgrade Talos v1.12.11 -> v1.13.9 (reboots; drained first, one node at a time)",
		"talos-w-2: upgrade Talos v1.12.11 -> v1.13.9 (reboots; drained first, one node at a time)",
	)
	_, err := p.Apply(ctx, h, b, opts)
	require.NoError(t, err)
	for _, n := range nodes {
		require.Equal(t, "v1.13.9", sim.Node(n).Version(), n)
		require.Equal(t, []string{h.InstallerImageAt("v1.12.11"), h.InstallerImage()}, sim.Node(n).Upgrades(), n)
		require.Empty(t, sim.Node(n).RefusedUpgrades(), n)
	}
	wantSteps := []string{
		"talos-cp-1 upgrade v1.12.11 ok", "talos-w-1 upgrade v1.12.11 ok", "talos-w-2 upgrade v1.12.11 ok",
		"talos-cp-1 upgrade v1.13.9 ok", "talos-w-1 upgrade v1.13.9 ok", "talos-w-2 upgrade v1.13.9 ok",
	}
	if d := cmp.Diff(wantSteps, finished(t, opts.Log, "upgrade")); d != "" {
		t.Errorf("action log (-want +got):\n%s", d)
	}
	require.Empty(t, mustPlan(ctx, t, h, b, opts).Changes(), "after the upgrade")

	// Without the path: a node on v1.10.9 sent straight to v1.13.9,
	// which the 1.13 installer refuses (it upgrades from 1.11.0 on).
	sim.Node("talos-w-2").SetVersion("v1.10.9")
	p = mustPlan(ctx, t, h, b, opts)
	require.Equal(t, []string{"Kubernetes: the cluster runs Kubernetes 1.35.2, which Talos v1.11.6 does not run: Kubernetes 1.35.2 is too new for Talos v1.11.6 (it runs 1.29 to 1.34)"}, p.Refused,
		"the path from v1.10.9 goes through Talos 1.11, which does not run the cluster's Kubernetes")
	p.Refused = nil
	w2 := h.Workers()[1]
	require.Equal(t, "talos-w-2", w2.Hostname)
	p.Upgrade = []talos.Upgrade{{Node: w2, From: "v1.10.9", To: "v1.13.9"}}
	opts.Timeout = time.Second
	_, err = p.Apply(ctx, h, b, opts)
	require.ErrorContains(t, err, "the node did not come back on v1.13.9")
	require.Equal(t, "v1.10.9", sim.Node("talos-w-2").Version())
	require.Equal(t, []string{h.InstallerImage() + ": host version v1.10.9 is too old to upgrade to Talos v1.13.9 (its installer upgrades from 1.11.0 on)"}, sim.Node("talos-w-2").RefusedUpgrades())
}

// The etcd gate as talosctl health has it: before a control plane goes
// down, every control plane lists the same members and each is a control
// plane of the model or one this deploy removes. A member that appears
// after the plan (plan would have listed its removal) stops the rollout
// with the member named, the control plane not taken down.
func TestEtcdGate(t *testing.T) {
	// A stray member is reported at once, not after the wait: the
	// timeout only bounds a slow machine's answers.
	ctx, h, b, sim, opts, _ := behind(t, 30*time.Second)
	p := mustPlan(ctx, t, h, b, opts)
	require.Len(t, p.Upgrade, 3)
	sim.AddEtcdMember("talos-cp-old", 0xdead)
	_, err := p.Apply(ctx, h, b, opts)
	require.ErrorContains(t, err, "talos talos-cp-1: upgrading to v1.13.9: before: etcd on talos-cp-1 lists member talos-cp-old (dead), which is not a control plane of the model")
	require.Equal(t, "v1.13.8", sim.Node("talos-cp-1").Version())
	require.Zero(t, sim.Node("talos-cp-1").Reboots())

	// Planned again, the stray member is a removal: the gate lets the
	// upgrade through (the member goes at the end).
	p = mustPlan(ctx, t, h, b, opts)
	require.Len(t, p.Remove, 1, "%v", p.Changes())
	require.Equal(t, "talos-cp-old", p.Remove[0].Hostname)
}
