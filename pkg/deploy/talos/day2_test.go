package talos_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	model "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
	"github.com/funoffshore/homelab/pkg/deploy/talos"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/testenv/talossim"
)

// withKube starts a kube-apiserver that the simulated nodes' kubelets
// report to (talossim.RunKubelets), waits until the named Nodes are
// registered with their status, and returns opts reaching it, with its
// client.
func withKube(t *testing.T, sim *talossim.Sim, opts talos.Options, nodes ...string) (talos.Options, client.Client) {
	t.Helper()
	api := testenv.StartAPIServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.RunKubelets(ctx, api.Client, 20*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			var node corev1.Node
			if err := api.Client.Get(ctx, client.ObjectKey{Name: n}, &node); err != nil || node.Status.NodeInfo.KubeletVersion == "" {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "the kubelets did not register %v", nodes)
	opts.Kube = func(context.Context) (client.Client, error) { return api.Client, nil }
	return opts, api.Client
}

// cordoned reports whether the Node is unschedulable.
func cordoned(ctx context.Context, t *testing.T, c client.Client, name string) bool {
	t.Helper()
	var n corev1.Node
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: name}, &n))
	return n.Spec.Unschedulable
}

// finished lists the log's finished actions whose names start with one of
// actions, as "target action result".
func finished(t *testing.T, log *actionlog.Log, actions ...string) []string {
	t.Helper()
	entries, err := actionlog.Read(log.Path)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.Result == actionlog.Started || !slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(e.Action, a) }) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s", e.Target, e.Action, e.Result))
	}
	return out
}

// clusterOn is the default homelab's cluster on Kubernetes version k8s
// (empty: the default), with edit applied to its machines.
func clusterOn(k8s string, edit func(m *homelab.Machines)) *model.Cluster {
	m := homelab.DefaultMachines()
	m.KubernetesVersion = k8s
	if edit != nil {
		edit(m)
	}
	props := homelab.Funoffshore()
	props.Machines = m
	_, h := homelab.NewApp(props)
	return h.Cluster
}

// planIs fails the test unless p lists exactly want.
func planIs(t *testing.T, p *talos.Plan, want ...string) {
	t.Helper()
	if d := cmp.Diff(want, p.Changes()); d != "" {
		t.Fatalf("plan (-want +got):\n%s", d)
	}
}

// kubeletVersions returns each Node's kubelet version.
func kubeletVersions(ctx context.Context, t *testing.T, c client.Client) map[string]string {
	t.Helper()
	var nodes corev1.NodeList
	require.NoError(t, c.List(ctx, &nodes))
	out := map[string]string{}
	for _, n := range nodes.Items {
		out[n.Name] = n.Status.NodeInfo.KubeletVersion
	}
	return out
}

// Day 2: a Kubernetes minor bump, as `talosctl upgrade-k8s` does it: the
// control plane's components one at a time (each waited for until its
// pod is Ready on the new version), then the kubelets node by node (each
// Node Ready on the new version), then Talos' bootstrap manifests synced;
// nothing reboots. A failure on the second node stops the rollout with
// the cluster serving and a rerun resumes it.
func TestKubernetesUpgrade(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	old, cluster := clusterOn("1.35.2", nil), clusterOn("", nil)
	require.Equal(t, "1.36.3", cluster.KubernetesVersion, "the cases below assume the model runs 1.36.3")
	b := bundle(t)
	nodes := []string{"talos-cp-1", "talos-w-1", "talos-w-2"}
	sim, opts := start(t, old, b, 20*time.Second)
	converge(ctx, t, old, b, opts)
	opts, kc := withKube(t, sim, opts, nodes...)
	opts.Log = &actionlog.Log{Path: t.TempDir() + "/actions.jsonl"}
	require.Equal(t, map[string]string{"talos-cp-1": "v1.35.2", "talos-w-1": "v1.35.2", "talos-w-2": "v1.35.2"}, kubeletVersions(ctx, t, kc))

	p := mustPlan(ctx, t, cluster, b, opts)
	planIs(t, p,
		"talos-cp-1: Kubernetes kube-apiserver v1.35.2 -> v1.36.3 (no reboot; waits for its pod Ready on v1.36.3)",
		"talos-cp-1: Kubernetes kube-controller-manager v1.35.2 -> v1.36.3 (no reboot; waits for its pod Ready on v1.36.3)",
		"talos-cp-1: Kubernetes kube-scheduler v1.35.2 -> v1.36.3 (no reboot; waits for its pod Ready on v1.36.3)",
		"talos-cp-1: Kubernetes kube-proxy v1.35.2 -> v1.36.3 (no reboot; the DaemonSet follows with the manifests)",
		"talos-cp-1: Kubernetes kubelet v1.35.2 -> v1.36.3 (no reboot; waits for the Node Ready on v1.36.3)",
		"talos-w-1: Kubernetes kubelet v1.35.2 -> v1.36.3 (no reboot; waits for the Node Ready on v1.36.3)",
		"talos-w-2: Kubernetes kubelet v1.35.2 -> v1.36.3 (no reboot; waits for the Node Ready on v1.36.3)",
		"talos-cp-1: sync Talos' bootstrap manifests (kube-proxy, CoreDNS, the CNI) to the cluster, as talosctl upgrade-k8s does",
	)
	require.Empty(t, p.Update, "only the images differ: no separate config change")

	sim.Node("talos-w-1").FailNext("ApplyConfiguration", 1)
	_, err := p.Apply(ctx, cluster, b, opts)
	require.ErrorContains(t, err, "talos talos-w-1: Kubernetes kubelet v1.35.2 -> v1.36.3")
	require.ErrorContains(t, err, "not yet upgraded: talos-w-2 kubelet")
	require.Equal(t, map[string]string{"talos-cp-1": "v1.36.3", "talos-w-1": "v1.35.2", "talos-w-2": "v1.35.2"}, kubeletVersions(ctx, t, kc))
	var apiserver corev1.Pod
	require.NoError(t, kc.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "kube-apiserver-talos-cp-1"}, &apiserver))
	require.Equal(t, "1.36.3", apiserver.Labels["app.kubernetes.io/version"])

	p = mustPlan(ctx, t, cluster, b, opts)
	require.Len(t, p.Kubernetes, 2, "the rerun plans the two kubelets left: %v", p.Changes())
	_, err = p.Apply(ctx, cluster, b, opts)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"talos-cp-1": "v1.36.3", "talos-w-1": "v1.36.3", "talos-w-2": "v1.36.3"}, kubeletVersions(ctx, t, kc))
	var proxy appsv1.DaemonSet
	require.NoError(t, kc.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "kube-proxy"}, &proxy))
	require.Equal(t, "registry.k8s.io/kube-proxy:v1.36.3", proxy.Spec.Template.Spec.Containers[0].Image, "the manifests were not synced")
	for _, n := range nodes {
		require.Zero(t, sim.Node(n).Reboots(), "%s rebooted for a Kubernetes upgrade", n)
	}
	wantSteps := []string{
		"talos-cp-1 kubernetes kube-apiserver v1.36.3 ok",
		"talos-cp-1 kubernetes kube-controller-manager v1.36.3 ok",
		"talos-cp-1 kubernetes kube-scheduler v1.36.3 ok",
		"talos-cp-1 kubernetes kube-proxy v1.36.3 ok",
		"talos-cp-1 kubernetes kubelet v1.36.3 ok",
		"talos-w-1 kubernetes kubelet v1.36.3 failed",
		"talos-w-1 kubernetes kubelet v1.36.3 ok",
		"talos-w-2 kubernetes kubelet v1.36.3 ok",
		"talos-cp-1 sync-manifests ok",
	}
	if d := cmp.Diff(wantSteps, finished(t, opts.Log, "kubernetes", "sync-manifests")); d != "" {
		t.Errorf("action log (-want +got):\n%s", d)
	}
	require.Empty(t, mustPlan(ctx, t, cluster, b, opts).Changes(), "after the upgrade")
}

// Day 2: the version-skew policy. Two minors at once and a downgrade are
// refused in the plan with the way forward, and deploy changes nothing.
func TestKubernetesSkewRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := bundle(t)
	old := clusterOn("1.34.1", nil)
	sim, opts := start(t, old, b, 20*time.Second)
	converge(ctx, t, old, b, opts)
	opts, _ = withKube(t, sim, opts, "talos-cp-1")
	for _, c := range []struct {
		name    string
		cluster *model.Cluster
		want    string
	}{
		{"two minors", clusterOn("", nil), "talos-cp-1, talos-w-1, talos-w-2 at 1.34.1, the model 1.36.3: refused, the version-skew policy allows one minor at a time; set the model to the latest 1.35.x release first, deploy, then 1.36.3"},
		{"a downgrade", clusterOn("1.33.5", nil), "talos-cp-1, talos-w-1, talos-w-2 at 1.34.1, newer than the model's 1.33.5: Kubernetes does not downgrade; set the model to 1.34.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := mustPlan(ctx, t, c.cluster, b, opts)
			require.Empty(t, p.Kubernetes)
			require.Equal(t, []string{"Kubernetes: " + c.want}, p.Refused)
			require.Contains(t, p.Changes(), "refused: Kubernetes: "+c.want)
			writes := sim.Writes()
			_, err := p.Apply(ctx, c.cluster, b, opts)
			require.ErrorContains(t, err, "deploy refuses, nothing changed")
			require.Equal(t, writes, sim.Writes(), "a refused plan wrote to the nodes")
		})
	}
}

// Day 2: nodes the model no longer has. A worker is drained, reset and
// its Node deleted; a control plane also leaves etcd (the graceful
// reset); a failed control plane that no longer answers is removed from
// etcd through the remaining one. The nodes left are untouched.
func TestRemoveNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	extra := func(m *homelab.Machines) {
		m.Nodes = append(m.Nodes,
			homelab.Node{Name: "talos-cp-2", Role: model.ControlPlane, IP: "192.168.1.102", VMID: 102, Cores: 2, MemoryGiB: 4, DiskGiB: 32},
			homelab.Node{Name: "talos-cp-3", Role: model.ControlPlane, IP: "192.168.1.103", VMID: 103, Cores: 2, MemoryGiB: 4, DiskGiB: 32},
			homelab.Node{Name: "talos-w-3", Role: model.Worker, IP: "192.168.1.113", VMID: 113, Cores: 2, MemoryGiB: 4, DiskGiB: 32})
	}
	bigger, cluster := clusterOn("", extra), clusterOn("", nil)
	b := bundle(t)
	sim, opts := start(t, bigger, b, 20*time.Second)
	converge(ctx, t, bigger, b, opts)
	all := []string{"talos-cp-1", "talos-cp-2", "talos-cp-3", "talos-w-1", "talos-w-2", "talos-w-3"}
	opts, kc := withKube(t, sim, opts, all...)
	opts.Log = &actionlog.Log{Path: t.TempDir() + "/actions.jsonl"}
	for _, n := range []string{"talos-cp-1", "talos-cp-2", "talos-cp-3"} {
		require.True(t, sim.Node(n).EtcdMember(), "%s is no etcd member", n)
	}
	// talos-cp-3 fails for good; its Node turns NotReady.
	sim.Node("talos-cp-3").Stop()
	require.Eventually(t, func() bool {
		var n corev1.Node
		return kc.Get(ctx, client.ObjectKey{Name: "talos-cp-3"}, &n) == nil && len(n.Status.Conditions) > 0 && n.Status.Conditions[0].Status != corev1.ConditionTrue
	}, 10*time.Second, 20*time.Millisecond)

	p := mustPlan(ctx, t, cluster, b, opts)
	planIs(t, p,
		"talos-w-3: remove the worker (not in the model): drain, reset the machine at 127.0.0.1 once it proves it runs as talos-w-3 (wipe, power off), delete its Kubernetes Node; one node at a time; its VM goes with --prune",
		"talos-cp-2: remove the control plane (not in the model): drain, leave etcd (graceful reset of the machine at 127.0.0.1, once it proves it runs as talos-cp-2; removed by member ID if it does not answer), wipe, delete its Kubernetes Node; one node at a time; its VM goes with --prune",
		"talos-cp-3: remove the control plane (not in the model): leave etcd (graceful reset of the machine at 127.0.0.1, once it proves it runs as talos-cp-3; removed by member ID if it does not answer), wipe, delete its Kubernetes Node; one node at a time; its VM goes with --prune",
	)
	configs := map[string]string{}
	for _, n := range []string{"talos-cp-1", "talos-w-1", "talos-w-2"} {
		configs[n] = string(sim.Node(n).Config())
	}
	_, err := p.Apply(ctx, cluster, b, opts)
	require.NoError(t, err)

	for _, n := range []string{"talos-w-3", "talos-cp-2", "talos-cp-3"} {
		err := kc.Get(ctx, client.ObjectKey{Name: n}, &corev1.Node{})
		require.True(t, apierrors.IsNotFound(err), "the Node %s is still there (%v)", n, err)
		require.False(t, sim.Node(n).EtcdMember(), "%s is still an etcd member", n)
	}
	require.True(t, sim.Node("talos-cp-1").EtcdMember())
	for _, n := range []string{"talos-w-3", "talos-cp-2"} {
		require.Equal(t, 1, sim.Node(n).Resets(), "%s was not reset once", n)
		ok, _ := sim.Node(n).Configured()
		require.False(t, ok, "%s still runs its config: its kubelet would register it again", n)
	}
	wantSteps := []string{
		"talos-w-3 drain ok", "talos-w-3 reset ok", "talos-w-3 delete-node ok",
		"talos-cp-2 drain ok", "talos-cp-2 reset ok", "talos-cp-2 delete-node ok",
		"talos-cp-3 etcd-remove-member ok", "talos-cp-3 delete-node ok",
	}
	if d := cmp.Diff(wantSteps, finished(t, opts.Log, "drain", "reset", "etcd-remove-member", "delete-node")); d != "" {
		t.Errorf("action log (-want +got):\n%s", d)
	}
	// The Nodes stay gone (no kubelet registers them again) and the plan
	// is empty.
	time.Sleep(100 * time.Millisecond)
	require.Empty(t, mustPlan(ctx, t, cluster, b, opts).Changes())
	for n, cfg := range configs {
		require.Equal(t, cfg, string(sim.Node(n).Config()), "%s was changed by the removals", n)
		require.Zero(t, sim.Node(n).Resets())
	}
}

// TestRogueNodeCannotGetAWorkerWiped is an attacker holding the bootstrap
// token from a worker config. Steps: they register a Node of their own
// ("talos-rogue", not in the model) whose status reports talos-w-1's
// address, then another reporting an address where a cluster machine
// other than "talos-rogue" answers. Assertion: deploy's removal of the
// rogue Node resets no machine: the first address is a model node's, so
// the plan says it will not reset through it; at the second, the machine
// says over mutual TLS that it runs as talos-w-1, and deploy refuses.
//
// Before the fix, deploy reset whatever answered at the Node's
// InternalIP: talos-w-1 was wiped.
func TestRogueNodeCannotGetAWorkerWiped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster := clusterOn("", nil)
	b := bundle(t)
	sim, opts := start(t, cluster, b, 5*time.Second)
	converge(ctx, t, cluster, b, opts)
	opts, kc := withKube(t, sim, opts, "talos-cp-1", "talos-w-1", "talos-w-2")
	w1 := cluster.Nodes()[1]
	other := netip.MustParseAddr("192.168.1.199")
	// The network: an address reaches the machine that holds it; talos-w-1
	// also answers on 192.168.1.199.
	opts.Address = func(n *model.Node) string {
		for _, m := range cluster.Nodes() {
			if m.IP == n.IP {
				return sim.Node(m.Hostname).Addr
			}
		}
		if n.IP == other {
			return sim.Node(w1.Hostname).Addr
		}
		return "127.0.0.1:1"
	}
	register := func(name string, ip netip.Addr) {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		require.NoError(t, kc.Create(ctx, node))
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip.String()}}
		require.NoError(t, kc.Status().Update(ctx, node))
	}

	register("talos-rogue", w1.IP)
	p := mustPlan(ctx, t, cluster, b, opts)
	planIs(t, p, "talos-rogue: remove the worker (not in the model): no reset: its Node reports talos-w-1's address, so what answers there is not it, delete its Kubernetes Node; one node at a time; its VM goes with --prune")
	_, err := p.Apply(ctx, cluster, b, opts)
	require.NoError(t, err)
	require.Zero(t, sim.Node(w1.Hostname).Resets(), "talos-w-1 was reset for the rogue Node")
	require.True(t, apierrors.IsNotFound(kc.Get(ctx, client.ObjectKey{Name: "talos-rogue"}, &corev1.Node{})), "the rogue Node is still there")

	register("talos-rogue-2", other)
	p = mustPlan(ctx, t, cluster, b, opts)
	_, err = p.Apply(ctx, cluster, b, opts)
	require.ErrorIs(t, err, talos.ErrNotTheNode)
	require.ErrorContains(t, err, `the machine at 192.168.1.199 runs as "talos-w-1", not talos-rogue-2`)
	require.Zero(t, sim.Node(w1.Hostname).Resets(), "talos-w-1 was reset for the rogue Node")
	ok, _ := sim.Node(w1.Hostname).Configured()
	require.True(t, ok, "talos-w-1 lost its config")
}

// TestHealthGate: the cluster must pass talosctl health's Kubernetes
// checks before a node goes down (and again after it is back): every node
// Ready, the control plane's components Ready on every control plane,
// CoreDNS and kube-proxy with their Ready pods. Each failing check stops
// the upgrade before the control plane goes down, naming what it saw;
// once it passes the rollout goes through.
func TestHealthGate(t *testing.T) {
	ctx, h, b, sim, opts, nodes := behind(t, 3*time.Second)
	// The objects as the API server holds them, without kubelets that
	// would report them Ready again.
	api := testenv.StartAPIServer(t)
	setReady := func(name string, status corev1.ConditionStatus, reason string) {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := api.Client.Get(ctx, client.ObjectKeyFromObject(node), node); apierrors.IsNotFound(err) {
			if name == "talos-cp-1" {
				node.Labels = map[string]string{"node-role.kubernetes.io/control-plane": ""}
			}
			require.NoError(t, api.Client.Create(ctx, node))
		}
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: reason}}
		require.NoError(t, api.Client.Status().Update(ctx, node))
	}
	pod := func(name string, labels map[string]string, ready corev1.ConditionStatus) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}}
		if err := api.Client.Get(ctx, client.ObjectKeyFromObject(p), p); apierrors.IsNotFound(err) {
			p.Labels = labels
			p.Spec.Containers = []corev1.Container{{Name: "c", Image: "i"}}
			require.NoError(t, api.Client.Create(ctx, p))
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
		// A pod whose containers all terminated counts as Completed, as
		// talosctl health skips it.
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Image: "i", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		require.NoError(t, api.Client.Status().Update(ctx, p))
	}
	for _, n := range nodes {
		setReady(n, corev1.ConditionTrue, "KubeletReady")
	}
	for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		pod(c+"-talos-cp-1", map[string]string{"k8s-app": c}, corev1.ConditionTrue)
	}
	two := int32(2)
	require.NoError(t, api.Client.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"k8s-app": "kube-dns"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}},
	}))
	pod("coredns-a", map[string]string{"k8s-app": "kube-dns"}, corev1.ConditionTrue)
	pod("coredns-b", map[string]string{"k8s-app": "kube-dns"}, corev1.ConditionTrue)
	opts.Kube = func(context.Context) (client.Client, error) { return api.Client, nil }

	blocked := func(want string) {
		t.Helper()
		_, err := mustPlan(ctx, t, h, b, opts).Apply(ctx, h, b, opts)
		require.Error(t, err)
		require.Contains(t, err.Error(), "talos talos-cp-1: upgrading to v1.13.9: before: "+want)
		require.Equal(t, "v1.13.8", sim.Node("talos-cp-1").Version(), "the control plane was not taken down")
		require.Zero(t, sim.Node("talos-cp-1").Reboots())
	}
	setReady("talos-w-2", corev1.ConditionFalse, "KubeletNotReady")
	blocked("the Kubernetes Node talos-w-2 is not Ready (False: KubeletNotReady)")
	setReady("talos-w-2", corev1.ConditionTrue, "KubeletReady")

	pod("kube-scheduler-talos-cp-1", nil, corev1.ConditionFalse)
	blocked("kube-scheduler pods not Ready: kube-scheduler-talos-cp-1")
	pod("kube-scheduler-talos-cp-1", nil, corev1.ConditionTrue)

	pod("coredns-b", nil, corev1.ConditionFalse)
	blocked("CoreDNS: pods not Ready: coredns-b")
	pod("coredns-b", nil, corev1.ConditionTrue)

	_, err := mustPlan(ctx, t, h, b, opts).Apply(ctx, h, b, opts)
	require.NoError(t, err)
	for _, n := range nodes {
		require.Equal(t, "v1.13.9", sim.Node(n).Version(), n)
	}
}
