//go:build e2e

package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/externalsecrets"
	"github.com/funoffshore/homelab/internal/funoffshore"
	labs "github.com/funoffshore/homelab/pkg/lab"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/e2e"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
	"github.com/funoffshore/homelab/pkg/deploy/drain"
	fluxdeploy "github.com/funoffshore/homelab/pkg/deploy/flux"
	talosdeploy "github.com/funoffshore/homelab/pkg/deploy/talos"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/manifest"
	"github.com/funoffshore/homelab/pkg/secrets"
	"github.com/funoffshore/homelab/pkg/testenv"
)

// readyTimeout bounds each wait for the whole tree to be Ready.
const readyTimeout = 15 * time.Minute

// lab is a homelab repository in a temporary directory: its secrets set
// through the CLI, its tree synthesized, committed and served over Git.
type lab struct {
	t     *testing.T
	dir   string
	repo  *e2e.Repo
	ident *secrets.Identity
	// values are the Secret values set, by namespace/name/key.
	values map[string]string
}

// run runs the homelab command line in the lab's directory.
func (l *lab) run(build cli.Builder, stdin string, args ...string) string {
	l.t.Helper()
	var out, errb bytes.Buffer
	if code := cli.RunIO(build, args, strings.NewReader(stdin), &out, &errb); code != 0 {
		l.t.Fatalf("homelab %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String()
}

// builder builds the Funoffshore homelab from the lab's store, with apps,
// and the External Secrets Operator with a Vault store (the operator's
// chart reconciled with the platform, its store with platform-config;
// no Vault answers here: the effect of a store is
// TestExternalSecretFromVault's).
func builder(apps func() []string) cli.Builder {
	return func() (*labs.Lab, error) {
		src, err := secrets.Store{Dir: cli.SecretsDir}.Source()
		if err != nil {
			return nil, err
		}
		props := homelab.Funoffshore()
		props.Secrets = src
		props.Platform.Vault = &externalsecrets.VaultProps{Server: "https://192.168.1.30:8200", Kubernetes: &externalsecrets.KubernetesAuth{Role: "funoffshore"}}
		if apps != nil {
			props.Apps = nil
			keep := apps()
			for _, a := range homelab.DefaultApps() {
				if slices.Contains(keep, a.Name) {
					props.Apps = append(props.Apps, a)
				}
			}
		}
		l, _ := homelab.NewLab(props)
		return l, nil
	}
}

func TestReconcile(t *testing.T) {
	binDir := os.Getenv(e2e.BinDirEnv)
	if binDir == "" {
		t.Fatalf("%s is not set: run `make e2e` (it builds the cluster's programs with hack/e2e.sh)", e2e.BinDirEnv)
	}
	// Every wait ends before the test binary's own deadline: a step that
	// hangs fails with its name and the cluster's logs, not as a
	// goroutine dump of the whole binary.
	ctx, cancel := context.WithCancel(context.Background())
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(context.Background(), d.Add(-2*time.Minute))
	}
	defer cancel()
	work := t.TempDir()
	l := &lab{t: t, dir: filepath.Join(work, "homelab"), values: map[string]string{}}
	require.NoError(t, os.MkdirAll(l.dir, 0o755))
	// The operator's repository is a Go module: synth runs at its root.
	require.NoError(t, os.WriteFile(filepath.Join(l.dir, "go.mod"), []byte("module example.com/homelab\n"), 0o644))
	t.Chdir(l.dir)
	t.Setenv("HOMELAB_AGE_KEY_FILE", filepath.Join(work, "age.key"))

	// Secrets, through the CLI as an operator sets them.
	l.run(funoffshore.Build, "", "secrets", "init")
	build := builder(nil)
	app, err := build()
	require.NoError(t, err)
	for _, d := range core.Secrets.Of(app.Tree()).All() {
		if d.Store != "" {
			continue // made in the cluster from Vault by the operator
		}
		for _, k := range d.Keys {
			v := fmt.Sprintf("e2e value of %s/%s %s", d.Namespace, d.Name, k)
			l.values[d.Namespace+"/"+d.Name+"/"+k] = v
			l.run(build, v, "secrets", "set", d.Namespace+"/"+d.Name, k)
		}
	}
	if l.ident, err = secrets.LoadIdentity(filepath.Join(work, "age.key")); err != nil {
		t.Fatal(err)
	}
	l.run(build, "", "synth")

	// The servers: Git with the synthesized tree, Helm with the pinned charts.
	gitRoot := filepath.Join(work, "git")
	require.NoError(t, os.MkdirAll(gitRoot, 0o755))
	gitServer, err := e2e.StartGitServer(gitRoot)
	require.NoError(t, err)
	defer gitServer.Close()
	if l.repo, err = e2e.NewRepo(gitServer, l.dir, "homelab", "main"); err != nil {
		t.Fatal(err)
	}
	first, err := l.repo.Commit("homelab as synthesized")
	require.NoError(t, err)
	charts, err := e2e.StartHelmRepository(filepath.Dir(testenv.Fixture(t, fixtures.ChartIndex)))
	require.NoError(t, err)
	defer charts.Close()

	// The cluster: one fake node per Talos node, as its machine config says.
	clusterDir := filepath.Join(work, "cluster")
	require.NoError(t, os.MkdirAll(clusterDir, 0o755))
	c, err := e2e.StartCluster(clusterDir, testenv.AssetsDir(), binDir)
	require.NoError(t, err)
	defer c.Stop()
	// failure repeats, after the cluster logs, why the reconciliation
	// failed: a CI log's tail then shows the reason, not only the logs.
	var failure string
	defer func() {
		if t.Failed() {
			t.Logf("cluster logs:\n%s", c.Logs(25))
			if failure != "" {
				t.Logf("the failure (repeated after the logs): %s", failure)
			}
		}
	}()
	files, target := testenv.RenderTarget(t, app)
	bundle, err := secrets.LoadTalosSecrets(secrets.TalosSecretsPath, l.ident)
	require.NoError(t, err)
	nodes, err := c.AddTalos(ctx, target.Cluster, bundle)
	require.NoError(t, err)
	c.StandIns(ctx)
	require.NoError(t, c.StartFlux(target.Components))
	// The chart's operator makes Prometheus and Alertmanager from the tree.
	c.PrometheusOperator(ctx, "monitoring", "kube-prometheus-stack-operator")

	// Bootstrap through the deployer's own Flux code path.
	var all []*unstructured.Unstructured
	for _, p := range files.Paths() {
		// Kubernetes objects; Talos and Proxmox files decode to none.
		if objs, err := manifest.Decode(files[p]); err == nil && !strings.HasSuffix(p, ".sops.yaml") {
			for _, o := range objs {
				if o.GetKind() != "" && o.GetAPIVersion() != "" {
					all = append(all, o)
				}
			}
		}
	}
	if len(all) == 0 {
		t.Fatal("no Kubernetes objects among the rendered files")
	}
	ks, err := e2e.FluxKustomizations(all)
	require.NoError(t, err)
	sync, err := e2e.Redirect(target.Sync, ks, l.repo.URL(), charts.URL)
	require.NoError(t, err)
	ck, err := secrets.LoadClusterKey(secrets.ClusterKeyPath, l.ident)
	require.NoError(t, err)
	gitCreds, err := os.ReadFile(secrets.Store{Dir: cli.SecretsDir}.Path("flux-system", "flux-system"))
	require.NoError(t, err)
	if gitCreds, err = secrets.Decrypt(gitCreds, l.ident); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// The deployer's default wait (10 minutes): flux-system's own health
	// checks time out after 5 minutes and are retried a minute later; a wait
	// of exactly 5 minutes left no room for that retry.
	_, err = fluxdeploy.Bootstrap(ctx, c.Client, fluxdeploy.Inputs{
		Components: target.Components, Sync: sync, AgeKey: ck.SecretKey(), GitCredentials: gitCreds,
	}, fluxdeploy.Options{Log: &actionlog.Log{Path: filepath.Join(work, "actions.log")}})
	if err != nil {
		failure = "bootstrap: " + err.Error()
		t.Fatal(failure)
	}
	t.Logf("flux-system Ready %s after bootstrap began", time.Since(start).Round(time.Second))
	if err := c.WaitReady(ctx, first, readyTimeout); err != nil {
		failure = err.Error()
		t.Fatal(failure)
	}
	t.Logf("every Kustomization and HelmRelease Ready %s after bootstrap began", time.Since(start).Round(time.Second))

	t.Run("workloads available on the nodes", func(t *testing.T) { checkWorkloads(ctx, t, c, nodes) })
	t.Run("objects present", func(t *testing.T) { checkPresent(ctx, t, c.Client, all) })
	t.Run("every monitor selected and scraping", func(t *testing.T) {
		problems, targets, err := c.ScrapeProblems(ctx)
		require.NoError(t, err)
		for _, p := range problems {
			t.Error(p)
		}
		t.Logf("%d scrape targets", targets)
	})
	t.Run("the operator's generated configuration holds the tree's monitoring", func(t *testing.T) {
		problems, err := c.OperatorProblems(ctx)
		require.NoError(t, err)
		for _, p := range problems {
			t.Error(p)
		}
	})
	t.Run("plan sees the Kubernetes the model says", func(t *testing.T) {
		notes, err := talosdeploy.KubernetesDrift(ctx, c.Client, target.Cluster)
		require.NoError(t, err)
		if len(notes) != 0 {
			t.Errorf("Kubernetes drift on a cluster made from the model: %q", notes)
		}
	})
	t.Run("secrets decrypted", func(t *testing.T) { checkSecrets(ctx, t, c.Client, l.values) })

	head := first
	t.Run("prune and rollback", func(t *testing.T) {
		echo := client.ObjectKey{Namespace: "apps", Name: "echo"}
		l.run(builder(func() []string { return []string{"uptime-kuma"} }), "", "synth")
		removal, err := l.repo.Commit("remove the echo app")
		require.NoError(t, err)
		reconcile(ctx, t, c, removal)
		if err := c.Client.Get(ctx, echo, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
			t.Fatalf("Deployment apps/echo after its app left the tree: want it pruned, got err=%v", err)
		}
		if err := c.Client.Get(ctx, echo, &corev1.Service{}); !apierrors.IsNotFound(err) {
			t.Fatalf("Service apps/echo after its app left the tree: want it pruned, got err=%v", err)
		}
		revert, err := l.repo.Revert(removal)
		require.NoError(t, err)
		reconcile(ctx, t, c, revert)
		head = revert
		d := &appsv1.Deployment{}
		if err := c.Client.Get(ctx, echo, d); err != nil {
			t.Fatalf("Deployment apps/echo after the revert: %v", err)
		}
		if d.Status.AvailableReplicas < 1 {
			t.Fatalf("Deployment apps/echo after the revert: %d available", d.Status.AvailableReplicas)
		}
	})

	t.Run("a volume restored under Flux stays bound (docs/disaster-recovery.md, step 5)", func(t *testing.T) {
		restoreUnderFlux(ctx, t, c, head)
	})

	t.Run("draining a worker for its upgrade, then uncordoning it", func(t *testing.T) {
		// What deploy does to each worker around a Talos upgrade.
		start := time.Now()
		require.NoError(t, drain.Drain(ctx, c.Client, "talos-w-1", drain.Options{Timeout: 3 * time.Minute}))
		t.Logf("talos-w-1 drained in %s", time.Since(start).Round(time.Second))
		var pods corev1.PodList
		require.NoError(t, c.Client.List(ctx, &pods))
		var pending []string
		for _, p := range pods.Items {
			if p.Spec.NodeName == "talos-w-1" && p.Annotations[corev1.MirrorPodAnnotationKey] == "" && !ownedBy(p, "DaemonSet") {
				t.Errorf("pod %s/%s still on the drained node", p.Namespace, p.Name)
			}
			if p.Spec.NodeName == "" {
				pending = append(pending, p.Namespace+"/"+p.Name)
			}
		}
		// Not an error of the drain: what the other nodes cannot take
		// waits for the node to come back.
		t.Logf("while talos-w-1 is drained, %d pod(s) fit nowhere else: %v", len(pending), pending)
		require.NoError(t, drain.Uncordon(ctx, c.Client, "talos-w-1"))
		require.NoError(t, c.WaitAvailable(ctx, 3*time.Minute))
	})

	t.Run("a pod that fits no node is named", func(t *testing.T) {
		// Validation refuses such a tree; a hand edit of the output does
		// not pass through it, and the cluster still says which pod.
		p := filepath.Join(l.dir, "cluster/kubernetes/apps/echo.yaml")
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		edited := bytes.Replace(data, []byte("memory: 16Mi"), []byte("memory: 64Gi"), 1)
		if bytes.Equal(edited, data) {
			t.Fatal("echo.yaml has no `memory: 16Mi` request to edit")
		}
		edited = bytes.Replace(edited, []byte("memory: 32Mi"), []byte("memory: 64Gi"), 1)
		require.NoError(t, os.WriteFile(p, edited, 0o644))
		big, err := l.repo.Commit("hand edit: echo requests 64Gi")
		require.NoError(t, err)
		require.NoError(t, c.RequestReconcile(ctx))
		err = c.WaitReady(ctx, big, 5*time.Minute)
		if err == nil || !strings.Contains(err.Error(), "pod apps/echo-") || !strings.Contains(err.Error(), "Insufficient memory") {
			t.Fatalf("want the echo pod named as fitting no node (Insufficient memory), got %v", err)
		}
		t.Logf("reported: %v", err)
		back, err := l.repo.Revert(big)
		require.NoError(t, err)
		reconcile(ctx, t, c, back)
		head = back
	})

	t.Run("etcd restored from a snapshot (docs/disaster-recovery.md, step 3)", func(t *testing.T) {
		// The snapshot of a quiet cluster: no reconcile asked for and
		// still running (its health checks would go on from the
		// restored objects for their whole timeout).
		require.NoError(t, c.WaitReady(ctx, head, 5*time.Minute))
		snapshot := filepath.Join(work, "etcd.db")
		require.NoError(t, c.SnapshotEtcd(ctx, snapshot))
		// Written after the snapshot: the restore must not bring it back.
		later := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "after-the-snapshot"}}
		require.NoError(t, c.Client.Create(ctx, later))
		start := time.Now()
		require.NoError(t, c.RestoreEtcd(ctx, snapshot))
		t.Logf("control plane restored and serving %s after its data was destroyed", time.Since(start).Round(time.Second))
		err := c.Client.Get(ctx, client.ObjectKeyFromObject(later), &corev1.ConfigMap{})
		require.True(t, apierrors.IsNotFound(err), "an object written after the snapshot is there after the restore (err=%v): the data was not restored from the snapshot", err)
		checkPresent(ctx, t, c.Client, all)
		checkSecrets(ctx, t, c.Client, l.values)
		// Flux reconciles again, from the objects the snapshot held, and
		// every workload is available again: the controller manager
		// marked the pods NotReady (their nodes' heartbeats in the
		// restored data are stale), and the nodes' kubelets report them
		// Ready again (kwok's stage pod-ready-again, hack/e2e.sh).
		reconcile(ctx, t, c, head)
		require.NoError(t, c.WaitAvailable(ctx, 3*time.Minute))
	})
}

func reconcile(ctx context.Context, t *testing.T, c *e2e.Cluster, commit string) {
	t.Helper()
	start := time.Now()
	require.NoError(t, c.RequestReconcile(ctx))
	require.NoError(t, c.WaitReady(ctx, commit, readyTimeout))
	t.Logf("commit %.8s reconciled in %s", commit, time.Since(start).Round(time.Second))
}

// checkWorkloads asserts every Deployment, DaemonSet and StatefulSet
// becomes fully available (those the Prometheus operator makes after Flux
// is Ready too), on the tree's nodes only.
func checkWorkloads(ctx context.Context, t *testing.T, c *e2e.Cluster, nodes []*corev1.Node) {
	require.NoError(t, c.WaitAvailable(ctx, 3*time.Minute))
	var deps appsv1.DeploymentList
	var dss appsv1.DaemonSetList
	var sts appsv1.StatefulSetList
	var pods corev1.PodList
	for _, l := range []client.ObjectList{&deps, &dss, &sts, &pods} {
		require.NoError(t, c.Client.List(ctx, l))
	}
	if len(deps.Items) == 0 || len(dss.Items) == 0 || len(sts.Items) == 0 {
		t.Fatalf("%d Deployments, %d DaemonSets, %d StatefulSets: want some of each", len(deps.Items), len(dss.Items), len(sts.Items))
	}
	names := map[string]bool{}
	for _, n := range nodes {
		names[n.Name] = true
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && !names[p.Spec.NodeName] {
			t.Errorf("pod %s/%s on %s, which is no node of the tree", p.Namespace, p.Name, p.Spec.NodeName)
		}
	}
	t.Logf("%d Deployments, %d DaemonSets, %d StatefulSets available; %d pods", len(deps.Items), len(dss.Items), len(sts.Items), len(pods.Items))
}

// checkPresent asserts the objects of the kinds whose effect is their
// presence exist: those the tree holds, and those its charts make.
func checkPresent(ctx context.Context, t *testing.T, c client.Client, tree []*unstructured.Unstructured) {
	kinds := map[string]bool{"StorageClass": true, "IngressClass": true, "ServiceMonitor": true, "PodMonitor": true,
		"PrometheusRule": true, "RecurringJob": true, "CronJob": true, "NetworkPolicy": true, "Ingress": true}
	want := map[schema.GroupVersionKind][]client.ObjectKey{}
	for _, u := range tree {
		if kinds[u.GetKind()] {
			want[u.GroupVersionKind()] = append(want[u.GroupVersionKind()], client.ObjectKeyFromObject(u))
		}
	}
	// Made by the charts (and Longhorn's by its manager's stand-in).
	want[schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "IngressClass"}] = append(
		want[schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "IngressClass"}], client.ObjectKey{Name: "nginx"})
	want[schema.GroupVersionKind{Group: "storage.k8s.io", Version: "v1", Kind: "StorageClass"}] = append(
		want[schema.GroupVersionKind{Group: "storage.k8s.io", Version: "v1", Kind: "StorageClass"}], client.ObjectKey{Name: "longhorn"})
	n := 0
	for gvk, keys := range want {
		for _, k := range keys {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(gvk)
			if err := c.Get(ctx, k, u); err != nil {
				t.Errorf("%s %s: %v", gvk.Kind, k, err)
			}
			n++
		}
	}
	t.Logf("%d objects present", n)
}

// checkSecrets asserts kustomize-controller decrypted each Secret to the
// value set through the CLI.
func checkSecrets(ctx context.Context, t *testing.T, c client.Client, values map[string]string) {
	for key, v := range values {
		parts := strings.SplitN(key, "/", 3)
		s := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: parts[0], Name: parts[1]}, s); err != nil {
			t.Errorf("Secret %s/%s: %v", parts[0], parts[1], err)
			continue
		}
		if got := string(s.Data[parts[2]]); got != v {
			t.Errorf("Secret %s/%s key %s: %d bytes, not the value set", parts[0], parts[1], parts[2], len(got))
		}
	}
	t.Logf("%d Secret keys decrypted", len(values))
}

func ownedBy(p corev1.Pod, kind string) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == kind {
			return true
		}
	}
	return false
}

// restoreUnderFlux runs the runbook's Longhorn restore as far as the
// simulated cluster can (no Longhorn engine, so no volume content): with
// the apps Kustomization suspended, the app scaled to zero and its empty
// claim deleted, a PersistentVolume for the restored Longhorn volume and a
// claim of the same name bound to it are created as the runbook's
// `kubectl apply --field-manager=homelab-restore` creates them; once
// resumed, Flux must leave the claim and its binding alone and bring the
// app back. (Under kubectl's own field managers it does not: Flux takes
// over every field of a manager whose name starts with "kubectl", then
// drops volumeName, which a bound claim cannot change; this subtest found
// that.)
func restoreUnderFlux(ctx context.Context, t *testing.T, c *e2e.Cluster, commit string) {
	ks := &unstructured.Unstructured{}
	ks.SetGroupVersionKind(schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"})
	ks.SetNamespace("flux-system")
	ks.SetName("apps")
	suspend := func(on bool) {
		require.NoError(t, c.Client.Patch(ctx, ks, client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"suspend":%t}}`, on)))))
	}
	app := client.ObjectKey{Namespace: "apps", Name: "uptime-kuma"}
	// 1. Suspend, stop the app.
	suspend(true)
	d := &appsv1.Deployment{}
	require.NoError(t, c.Client.Get(ctx, app, d))
	require.NoError(t, c.Client.Patch(ctx, d, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":0}}`))))
	// 4. The empty claim goes (once no pod uses it), the restored volume
	// is bound to a claim of the same name.
	require.NoError(t, c.Client.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: app.Namespace, Name: app.Name}}))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(c.Client.Get(ctx, app, &corev1.PersistentVolumeClaim{}))
	}, 3*time.Minute, time.Second, "the empty claim is never deleted")
	class := "longhorn"
	size := resource.MustParse("1Gi")
	byKubectl := client.FieldOwner("homelab-restore")
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "uptime-kuma-restored"}, Spec: corev1.PersistentVolumeSpec{
		Capacity: corev1.ResourceList{corev1.ResourceStorage: size}, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain, StorageClassName: class,
		ClaimRef:               &corev1.ObjectReference{Namespace: app.Namespace, Name: app.Name},
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "driver.longhorn.io", VolumeHandle: "uptime-kuma-restored", FSType: "ext4"}},
	}}
	require.NoError(t, c.Client.Create(ctx, pv, byKubectl))
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: app.Namespace, Name: app.Name}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &class, VolumeName: pv.Name,
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
	}}
	require.NoError(t, c.Client.Create(ctx, pvc, byKubectl))
	require.Eventually(t, func() bool {
		got := &corev1.PersistentVolumeClaim{}
		return c.Client.Get(ctx, app, got) == nil && got.Status.Phase == corev1.ClaimBound
	}, 2*time.Minute, time.Second, "the claim never binds to the restored volume")
	// 5. Resume: Flux applies Git's claim over it and the Deployment's
	// replicas.
	suspend(false)
	reconcile(ctx, t, c, commit)
	require.NoError(t, c.WaitAvailable(ctx, 3*time.Minute))
	got := &corev1.PersistentVolumeClaim{}
	require.NoError(t, c.Client.Get(ctx, app, got))
	require.Equal(t, pvc.UID, got.UID, "Flux replaced the restored claim")
	require.Equal(t, pv.Name, got.Spec.VolumeName, "the claim lost its restored volume")
	require.Equal(t, "apps", got.Labels["kustomize.toolkit.fluxcd.io/name"], "Flux did not take the restored claim over")
	require.NoError(t, c.Client.Get(ctx, app, d))
	require.Equal(t, int32(1), d.Status.AvailableReplicas, "the app is not back")
}
