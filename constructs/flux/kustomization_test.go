package flux_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
)

// tree is a small valid homelab layout: the flux chart with the root sync,
// and platform and apps charts with one Kustomization each.
type tree struct {
	app                   *core.App
	fluxChart, plat, apps *kube.Chart
	sync                  *flux.Sync
	platform, appsK       *flux.Kustomization
}

func newTree() *tree {
	t := &tree{app: core.NewApp(nil)}
	t.fluxChart = kube.NewChart(t.app, "flux", &kube.ChartProps{Dir: "kubernetes/flux"})
	t.plat = kube.NewChart(t.app, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	t.apps = kube.NewChart(t.app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"})
	t.sync = flux.NewSync(t.fluxChart, "gotk-sync", &flux.SyncProps{URL: "ssh://git@example.com/lab", Chart: t.fluxChart})
	g := kube.NewGroup(t.fluxChart, "apps")
	t.platform = flux.NewKustomization(g, "platform", &flux.KustomizationProps{Chart: t.plat, DependsOn: []*flux.Kustomization{t.sync.Root}})
	t.appsK = flux.NewKustomization(g, "apps", &flux.KustomizationProps{Chart: t.apps, DependsOn: []*flux.Kustomization{t.platform}})
	kube.NewNamespace(t.plat, "apps", nil)
	return t
}

func messages(err error) []string {
	if err == nil {
		return nil
	}
	var v *core.ValidationError
	if !errors.As(err, &v) {
		return []string{"not a ValidationError: " + err.Error()}
	}
	var out []string
	for _, e := range v.Errors {
		out = append(out, e.Error())
	}
	return out
}

func TestKustomizationValidation(t *testing.T) {
	t.Run("a valid tree passes", func(t *testing.T) {
		require.NoError(t, newTree().app.Tree().Validate())
	})
	cases := []struct {
		name   string
		mutate func(*tree)
		want   []string
	}{
		{
			name:   "a dependsOn cycle is reported once with its links",
			mutate: func(tr *tree) { tr.platform.AddDependsOn(tr.appsK) },
			want: []string{
				`flux/apps/apps: dependsOn forms a cycle: apps -> platform -> apps; remove one of these dependsOn links`,
			},
		},
		{
			name: "a dependsOn on a Kustomization outside the homelab",
			mutate: func(tr *tree) {
				other := newTree()
				tr.appsK.AddDependsOn(other.platform)
			},
			want: []string{
				`flux/apps/apps: dependsOn "platform" refers to a Kustomization ("flux/apps/platform") that is not in this homelab; add that Kustomization to this homelab's tree or drop the dependency`,
			},
		},
		{
			name: "a path no chart renders",
			mutate: func(tr *tree) {
				flux.NewKustomization(tr.fluxChart, "extra", &flux.KustomizationProps{Path: "./cluster/kubernetes/missing"})
			},
			want: []string{
				`flux/extra: path "./cluster/kubernetes/missing" is rendered by no chart; point it at a chart's directory ("./cluster/kubernetes/apps", "./cluster/kubernetes/flux", "./cluster/kubernetes/platform") or pass Chart instead of Path`,
			},
		},
		{
			name: "two objects with the same kind, namespace and name",
			mutate: func(tr *tree) {
				kube.NewNamespace(tr.apps, "apps-again", &kube.NamespaceProps{Name: "apps"})
			},
			want: []string{
				`apps/apps-again: Namespace/apps is defined twice (also at "platform/apps"); rename one of them or remove the duplicate at "platform/apps"`,
			},
		},
		{
			name: "an object outside every Kustomization path",
			mutate: func(tr *tree) {
				extra := kube.NewChart(tr.app, "extra", &kube.ChartProps{Dir: "kubernetes/extra"})
				kube.NewObject(extra, "cm", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "apps"}})
			},
			want: []string{
				`extra/cm: ConfigMap/apps/orphan in "kubernetes/extra" is applied by no Flux Kustomization (orphan); add a Flux Kustomization for kubernetes/extra or move the object into a directory a Kustomization applies`,
			},
		},
		{
			name: "an object applied by two Kustomizations",
			mutate: func(tr *tree) {
				flux.NewKustomization(tr.fluxChart, "apps-twice", &flux.KustomizationProps{Chart: tr.apps})
				kube.NewObject(tr.apps, "cm", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "twice", Namespace: "apps"}})
			},
			want: []string{
				`apps/cm: ConfigMap/apps/twice in "kubernetes/apps" is applied by 2 Flux Kustomizations (flux/apps-twice, flux/apps/apps); keep one Kustomization per path`,
			},
		},
		{
			name: "an invalid Kubernetes name",
			mutate: func(tr *tree) {
				kube.NewNamespace(tr.plat, "bad", &kube.NamespaceProps{Name: "Media_Server"})
			},
			want: []string{
				`platform/bad: Namespace name "Media_Server" is not a valid DNS label: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'); use at most 63 lowercase letters, digits and '-'`,
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTree()
			c.mutate(tr)
			got := messages(tr.app.Tree().Validate())
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("validation errors (-want +got):\n%s", d)
			}
		})
	}
}

func TestHelmRelease(t *testing.T) {
	t.Run("renders a pinned chart with typed values", func(t *testing.T) {
		tr := newTree()
		repo := flux.NewHelmRepository(tr.plat, "longhorn-repo", &flux.HelmRepositoryProps{Name: "longhorn", URL: "https://charts.longhorn.io"})
		type values struct {
			DefaultSettings struct {
				DefaultReplicaCount int `json:"defaultReplicaCount"`
			} `json:"defaultSettings"`
		}
		var v values
		v.DefaultSettings.DefaultReplicaCount = 2
		kube.NewNamespace(tr.plat, "longhorn-system", nil)
		rel := flux.NewHelmRelease(tr.plat, "longhorn", &flux.HelmReleaseProps{Namespace: "longhorn-system", Repository: repo, Chart: "longhorn", Version: "1.12.1", Values: v})
		require.NoError(t, tr.app.Tree().Validate())
		m, err := rel.Manifest()
		require.NoError(t, err)
		spec := m["spec"].(map[string]any)
		chart := spec["chart"].(map[string]any)["spec"].(map[string]any)
		want := map[string]any{"chart": "longhorn", "version": "1.12.1", "sourceRef": map[string]any{"kind": "HelmRepository", "name": "longhorn", "namespace": "flux-system"}}
		if d := cmp.Diff(want, chart); d != "" {
			t.Errorf("chart (-want +got):\n%s", d)
		}
		if d := cmp.Diff(map[string]any{"defaultSettings": map[string]any{"defaultReplicaCount": int64(2)}}, spec["values"]); d != "" {
			t.Errorf("values (-want +got):\n%s", d)
		}
	})
	t.Run("patches the chart's output with only the fields set", func(t *testing.T) {
		tr := newTree()
		repo := flux.NewHelmRepository(tr.plat, "repo", &flux.HelmRepositoryProps{Name: "longhorn", URL: "https://charts.longhorn.io"})
		kube.NewNamespace(tr.plat, "longhorn-system", nil)
		rel := flux.NewHelmRelease(tr.plat, "longhorn", &flux.HelmReleaseProps{Namespace: "longhorn-system", Repository: repo, Chart: "longhorn", Version: "1.12.1"})
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "longhorn-ui"}}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "longhorn-ui", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}}}}
		rel.Patch(d)
		require.NoError(t, tr.app.Tree().Validate())
		m, err := rel.Manifest()
		require.NoError(t, err)
		// Unset fields (the selector, the pod's containers' images) must
		// not reach the patch: a strategic merge patch deletes a null.
		want := []any{map[string]any{"kustomize": map[string]any{"patches": []any{map[string]any{
			"patch":  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: longhorn-ui\nspec:\n  template:\n    spec:\n      containers:\n      - name: longhorn-ui\n        resources:\n          requests:\n            memory: 32Mi\n",
			"target": map[string]any{"group": "apps", "version": "v1", "kind": "Deployment", "name": "longhorn-ui"},
		}}}}}
		if d := cmp.Diff(want, m["spec"].(map[string]any)["postRenderers"]); d != "" {
			t.Errorf("postRenderers (-want +got):\n%s", d)
		}
	})
	t.Run("refuses a version range, a missing repository and non-object values", func(t *testing.T) {
		tr := newTree()
		flux.NewHelmRelease(tr.plat, "bad", &flux.HelmReleaseProps{Namespace: "apps", Chart: "x", Version: "^1.2", Values: []int{1}})
		got := strings.Join(messages(tr.app.Tree().Validate()), "\n")
		for _, want := range []string{
			`platform/bad: HelmRelease "bad" has no chart repository; set HelmReleaseProps.Repository to a HelmRepository construct`,
			`platform/bad: chart version "^1.2" is not pinned; pin an exact chart version such as "1.2.3"`,
			`platform/bad: chart values must be a JSON object, got [1]; pass a struct or map for Values`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("missing %q in:\n%s", want, got)
			}
		}
	})
}
