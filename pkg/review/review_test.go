package review_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/review"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
)

var update = flag.Bool("update", false, "rewrite testdata")

func TestMain(m *testing.M) { testenv.Main(m) }

// render synthesizes the Funoffshore homelab with edit applied.
func render(t testing.TB, edit func(p *homelab.Props)) synth.Files {
	t.Helper()
	props := homelab.Funoffshore()
	if edit != nil {
		edit(props)
	}
	app, _ := homelab.NewApp(props)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	return files
}

// charts finds chart packages in the fixture cache.
func charts(t testing.TB) review.Options {
	testenv.Fixture(t, fixtures.ChartIndex) // the cache is filled
	return review.Options{ChartFile: func(name, version string) string {
		p := fixtures.Path(fixtures.ChartFile(flux.Chart{Name: name, Version: version}))
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(p, []byte(got), 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run the test with -update to write %s", p)
	assert.Equal(t, string(want), got, "%s differs (go test ./pkg/review -update rewrites it)", p)
}

func TestNoChange(t *testing.T) {
	files := render(t, nil)
	r, err := review.Compare(files, files, charts(t))
	require.NoError(t, err)
	assert.True(t, r.Empty())
	var b bytes.Buffer
	require.NoError(t, r.Text(&b))
	assert.Equal(t, "homelab diff: no change: both sides render the same tree\n", b.String())
}

// TestEveryLayer changes each layer in one commit — a node added, a value
// of a chart changed, an app removed with its volume — and checks the
// review in both formats against its golden files, and what matters in
// it: the chart rendered on both sides, the removed claim a hazard, the
// new VM and the Talos nodes it reaches.
func TestEveryLayer(t *testing.T) {
	before := render(t, nil)
	after := render(t, func(p *homelab.Props) {
		p.Machines.Nodes = append(p.Machines.Nodes, homelab.Node{Name: "talos-w-3", Role: talos.Worker, IP: "192.168.1.113", VMID: 113, Cores: 2, MemoryGiB: 4, DiskGiB: 32})
		p.Platform.Monitoring.Retention = "14d"
		var keep []int
		for i, a := range p.Apps {
			if a.Name != "uptime-kuma" {
				keep = append(keep, i)
			}
		}
		apps := p.Apps
		p.Apps = nil
		for _, i := range keep {
			p.Apps = append(p.Apps, apps[i])
		}
	})
	r, err := review.Compare(before, after, charts(t))
	require.NoError(t, err)

	var text, md bytes.Buffer
	require.NoError(t, r.Text(&text))
	require.NoError(t, r.Markdown(&md))
	golden(t, "every-layer.txt", text.String())
	golden(t, "every-layer.md", md.String())

	require.NotEmpty(t, r.Proxmox)
	assert.Equal(t, "+", r.Proxmox[0].Op)
	assert.Contains(t, r.Proxmox[0].Object, "talos-w-3")
	var claimGone bool
	for _, h := range r.Hazards {
		claimGone = claimGone || (h.Object == "PersistentVolumeClaim apps/uptime-kuma" && strings.Contains(h.What, "data"))
	}
	assert.True(t, claimGone, "the removed app's claim is a hazard: %+v", r.Hazards)
	var stack *review.ChartDiff
	for i := range r.Charts {
		if strings.Contains(r.Charts[i].Release, "kube-prometheus-stack") {
			stack = &r.Charts[i]
		}
	}
	require.NotNil(t, stack, "the stack's values changed: its chart is rendered on both sides")
	require.Empty(t, stack.Note)
	var prometheus bool
	for _, c := range stack.Changes {
		prometheus = prometheus || (c.Op == "~" && strings.Contains(c.Object, "Prometheus ") && strings.Contains(c.Diff, "+  retention: 14d"))
	}
	assert.True(t, prometheus, "the rendered Prometheus resource shows the new retention: %+v", stack.Changes)
	assert.True(t, strings.HasPrefix(md.String(), review.Marker), "the workflow finds its comment by the marker")
}

// manifests is a tiny tree: a Flux Kustomization applying apps/ (prune
// on) and the given objects in apps/objects.yaml.
func manifests(objects string) map[string][]byte {
	return map[string][]byte{
		"kubernetes/flux/apps.yaml": []byte(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec: {path: ./cluster/kubernetes/apps, prune: true, interval: 10m, sourceRef: {kind: GitRepository, name: flux-system}}
`),
		"kubernetes/apps/objects.yaml": []byte(objects),
	}
}

const (
	claim = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: apps}
spec: {storageClassName: longhorn, accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}
`
	ns  = "apiVersion: v1\nkind: Namespace\nmetadata: {name: media}\n"
	crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.org}
spec: {group: example.org, names: {kind: Widget, plural: widgets}, scope: Namespaced, versions: []}
`
	class  = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\nprovisioner: driver.longhorn.io\n"
	secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: apps}\ndata: {password: aHVudGVyMg==}\n"
	app    = `apiVersion: apps/v1
kind: Deployment
metadata: {name: wiki, namespace: apps}
spec:
  selector: {matchLabels: {app: wiki}}
  template:
    metadata: {labels: {app: wiki}}
    spec: {containers: [{name: wiki, image: wiki:1, env: [{name: DB_PASS, valueFrom: {secretKeyRef: {name: db, key: password}}}]}]}
`
)

// TestHazards: each class of hazard, from the smallest change that
// makes it, and none from a harmless change.
func TestHazards(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after string
		want          string // "" for no hazard
	}{
		{"a claim removed", claim, "", "PersistentVolumeClaim apps/data: Flux deletes the claim, and with it its volume and the data on it"},
		{"a namespace removed", ns, "", "Namespace media: Flux deletes the namespace and every object in it"},
		{"a CRD removed", crd, "", "CustomResourceDefinition widgets.example.org: Flux deletes the CRD and with it every custom resource of its kind"},
		{"a storage class removed", class, "", "StorageClass fast: claims of this class can no longer be provisioned"},
		{"a Secret removed that a pod still reads", secret + "---\n" + app, app, "Secret apps/db: still used by Deployment apps/wiki"},
		{"a Secret removed that nothing reads", secret, "", ""},
		{"a selector changed", app, strings.ReplaceAll(app, "app: wiki", "app: wiki2"), "Deployment apps/wiki: its selector changes, which the API server refuses"},
		{"a claim's class changed", claim, strings.Replace(claim, "longhorn", "nfs-storage", 1), "PersistentVolumeClaim apps/data: storageClassName changes on an existing claim"},
		{"a claim shrunk", claim, strings.Replace(claim, "2Gi", "1Gi", 1), "PersistentVolumeClaim apps/data: its size shrinks (2Gi -> 1Gi)"},
		{"a claim grown", claim, strings.Replace(claim, "2Gi", "4Gi", 1), ""},
		{"an image bumped", app, strings.Replace(app, "wiki:1", "wiki:2", 1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := review.Compare(manifests(tc.before), manifests(tc.after), review.Options{})
			require.NoError(t, err)
			var got []string
			for _, h := range r.Hazards {
				got = append(got, h.Object+": "+h.What)
			}
			if tc.want == "" {
				assert.Empty(t, got)
				assert.False(t, r.Empty(), "the change is still listed")
				return
			}
			require.Len(t, got, 1)
			assert.True(t, strings.HasPrefix(got[0], tc.want), "got %q", got[0])
		})
	}

	t.Run("prune off: a removal is no deletion", func(t *testing.T) {
		b := manifests(claim)
		b["kubernetes/flux/apps.yaml"] = bytes.Replace(b["kubernetes/flux/apps.yaml"], []byte("prune: true"), []byte("prune: false"), 1)
		a := manifests("")
		a["kubernetes/flux/apps.yaml"] = b["kubernetes/flux/apps.yaml"]
		r, err := review.Compare(b, a, review.Options{})
		require.NoError(t, err)
		assert.Empty(t, r.Hazards)
		require.Len(t, r.Kubernetes, 1)
		assert.Equal(t, "flux-system/apps", r.Kubernetes[0].Kustomization)
		assert.Contains(t, r.Kubernetes[0].Changes[0].Detail, "prune is off")
	})
	t.Run("a Secret's values never shown", func(t *testing.T) {
		r, err := review.Compare(manifests(secret), manifests(strings.Replace(secret, "aHVudGVyMg==", "c2VjcmV0Mg==", 1)), review.Options{})
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, r.Text(&b))
		assert.NotContains(t, b.String(), "aHVudGVyMg==")
		assert.NotContains(t, b.String(), "c2VjcmV0Mg==")
		assert.Contains(t, b.String(), "~ Secret apps/db")
	})
	t.Run("the only control plane reboots for a change", func(t *testing.T) {
		before := render(t, nil)
		after := render(t, func(p *homelab.Props) {
			p.Machines.Patches = []talos.Patch{{Role: talos.ControlPlane, Config: &v1alpha1.Config{MachineConfig: &v1alpha1.MachineConfig{
				MachineEnv: map[string]string{"https_proxy": "http://proxy.lan:3128"}}}}}
		})
		r, err := review.Compare(before, after, review.Options{})
		require.NoError(t, err)
		require.Len(t, r.Hazards, 1)
		assert.Equal(t, "talos", r.Hazards[0].Layer)
		assert.Equal(t, "talos-cp-1", r.Hazards[0].Object)
		require.Len(t, r.Talos, 1)
		assert.Contains(t, r.Talos[0].Takes, "a reboot of each node")
	})
	t.Run("a change the control plane takes live is no hazard", func(t *testing.T) {
		before := render(t, nil)
		after := render(t, func(p *homelab.Props) { p.Machines.WorkloadsOnControlPlanes = true })
		r, err := review.Compare(before, after, review.Options{})
		require.NoError(t, err)
		assert.Empty(t, r.Hazards)
		require.NotEmpty(t, r.Talos)
		assert.Equal(t, "talos/controlplane.yaml", r.Talos[0].File)
		assert.Contains(t, r.Talos[0].Takes, "applied live, no reboot")
	})
	t.Run("a VM removed or shrunk", func(t *testing.T) {
		before := render(t, nil)
		after := render(t, func(p *homelab.Props) {
			p.Machines.Nodes = p.Machines.Nodes[:2]
			p.Machines.Nodes[1].DiskGiB = 20
			p.Platform.Longhorn.Replicas = 1
		})
		r, err := review.Compare(before, after, review.Options{})
		require.NoError(t, err)
		var got []string
		for _, h := range r.Hazards {
			if h.Layer == "proxmox" {
				got = append(got, h.Object+": "+h.What)
			}
		}
		require.Len(t, got, 2, "%v", got)
		assert.Contains(t, got[0], "vm 111 talos-w-1: disk 32 -> 20 GiB: Proxmox cannot shrink a disk")
		assert.Contains(t, got[1], "vm 112 talos-w-2: deploy destroys the VM")
	})
}

// BenchmarkCompare reviews two Funoffshore commits that differ in every
// layer, charts rendered.
func BenchmarkCompare(b *testing.B) {
	before := render(b, nil)
	after := render(b, func(p *homelab.Props) {
		p.Machines.Nodes = append(p.Machines.Nodes, homelab.Node{Name: "talos-w-3", Role: talos.Worker, IP: "192.168.1.113", VMID: 113, Cores: 2, MemoryGiB: 4, DiskGiB: 32})
		p.Platform.Monitoring.Retention = "14d"
	})
	opts := charts(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := review.Compare(before, after, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// TestChartVersionBump is what a Renovate bump of a chart shows: the
// HelmRelease's version moves, and the review renders both chart
// versions with the release's values and diffs what they make. The newer
// version is the pinned package with its default controller image tag
// changed, repackaged with Helm's own code.
func TestChartVersionBump(t *testing.T) {
	opts := charts(t)
	pinned := opts.ChartFile("ingress-nginx", "4.15.1")
	require.NotEmpty(t, pinned)
	ch, err := loader.Load(pinned)
	require.NoError(t, err)
	ch.Metadata.Version = "4.15.2"
	// Helm saves the package's values.yaml as it was read.
	for _, f := range ch.Raw {
		if f.Name == chartutil.ValuesfileName {
			v := strings.Replace(string(f.Data), `tag: "v1.15.1"`, `tag: "v1.15.2"`, 1)
			f.Data = []byte(regexp.MustCompile(`(?m)^    digest: sha256:[0-9a-f]+$`).ReplaceAllString(v, `    digest: ""`))
		}
	}
	dir := t.TempDir()
	bumped, err := chartutil.Save(ch, dir)
	require.NoError(t, err)
	chartFile := opts.ChartFile
	opts.ChartFile = func(name, version string) string {
		if name == "ingress-nginx" && version == "4.15.2" {
			return bumped
		}
		return chartFile(name, version)
	}

	before := render(t, nil)
	after := synth.Files{}
	for p, data := range before {
		after[p] = data
	}
	const file = "kubernetes/platform/ingress/ingress-nginx.yaml"
	require.Contains(t, string(before[file]), "version: 4.15.1")
	after[file] = bytes.Replace(before[file], []byte("version: 4.15.1"), []byte("version: 4.15.2"), 1)
	r, err := review.Compare(before, after, opts)
	require.NoError(t, err)
	require.Len(t, r.Charts, 1)
	cd := r.Charts[0]
	assert.Equal(t, "HelmRelease ingress-nginx/ingress-nginx", cd.Release)
	assert.Equal(t, "ingress-nginx 4.15.1", cd.From)
	assert.Equal(t, "ingress-nginx 4.15.2", cd.To)
	require.Empty(t, cd.Note)
	var deployment bool
	for _, c := range cd.Changes {
		if c.Object == "Deployment ingress-nginx/ingress-nginx-controller" {
			deployment = strings.Contains(c.Diff, ":v1.15.2")
		}
	}
	assert.True(t, deployment, "the controller Deployment runs the new image: %+v", cd.Changes)

	t.Run("a version not in the cache is named", func(t *testing.T) {
		after[file] = bytes.Replace(before[file], []byte("version: 4.15.1"), []byte("version: 4.99.0"), 1)
		r, err := review.Compare(before, after, opts)
		require.NoError(t, err)
		require.Len(t, r.Charts, 1)
		assert.Equal(t, "chart ingress-nginx 4.99.0 is not in the chart cache (make fixtures), so its rendering is not shown", r.Charts[0].Note)
	})
}

// TestReleaseAddedAndRemoved: a new part shows what its chart makes; a
// removed one what helm-controller uninstalls with it, without the CRDs
// the chart keeps (cert-manager's, crds.keep), which are then no hazard.
func TestReleaseAddedAndRemoved(t *testing.T) {
	without := render(t, func(p *homelab.Props) { p.Platform.Certs = nil })
	with := render(t, nil)
	opts := charts(t)
	find := func(r *review.Report) review.ChartDiff {
		t.Helper()
		for _, cd := range r.Charts {
			if cd.Release == "HelmRelease cert-manager/cert-manager" {
				return cd
			}
		}
		t.Fatalf("no chart review of cert-manager: %+v", r.Charts)
		return review.ChartDiff{}
	}
	has := func(cd review.ChartDiff, op, object string) bool {
		for _, c := range cd.Changes {
			if c.Op == op && c.Object == object {
				return true
			}
		}
		return false
	}

	added, err := review.Compare(without, with, opts)
	require.NoError(t, err)
	cd := find(added)
	assert.Equal(t, "(none)", cd.From)
	assert.Equal(t, "cert-manager v1.21.1", cd.To)
	require.Empty(t, cd.Note)
	assert.True(t, has(cd, "+", "Deployment cert-manager/cert-manager-webhook"), "%+v", cd.Changes)
	assert.True(t, has(cd, "+", "CustomResourceDefinition certificates.cert-manager.io"), "%+v", cd.Changes)

	removed, err := review.Compare(with, without, opts)
	require.NoError(t, err)
	cd = find(removed)
	assert.Equal(t, "(none)", cd.To)
	assert.True(t, has(cd, "-", "Deployment cert-manager/cert-manager"), "%+v", cd.Changes)
	assert.False(t, has(cd, "-", "CustomResourceDefinition certificates.cert-manager.io"), "Helm keeps the CRDs (crds.keep)")
	for _, h := range removed.Hazards {
		assert.NotContains(t, h.Object, "CustomResourceDefinition", "a kept CRD is no hazard: %+v", h)
	}
}
