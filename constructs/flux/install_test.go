package flux_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// key names an object by kind, namespace and name.
func key(u *unstructured.Unstructured) string {
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

func readFixture(t *testing.T) ([]string, map[string]*unstructured.Unstructured) {
	t.Helper()
	data, err := os.ReadFile(testenv.Fixture(t, fixtures.FluxInstall))
	if err != nil {
		t.Fatalf("reading the Flux fixture: %v", err)
	}
	var order []string
	objs := map[string]*unstructured.Unstructured{}
	for _, u := range testenv.DecodeYAML(t, data) {
		order = append(order, key(u))
		objs[key(u)] = u
	}
	return order, objs
}

func installObjects(t *testing.T) ([]string, map[string]*unstructured.Unstructured) {
	t.Helper()
	app := core.NewApp(nil)
	chart := kube.NewChart(app, "flux", &kube.ChartProps{Dir: "kubernetes/flux"})
	in := flux.NewInstall(chart, "gotk-components", nil)
	var order []string
	objs := map[string]*unstructured.Unstructured{}
	for _, o := range in.Objects {
		m, err := o.Manifest()
		require.NoError(t, err)
		u := &unstructured.Unstructured{Object: m}
		order = append(order, key(u))
		objs[key(u)] = u
	}
	return order, objs
}

// typed decodes an unstructured object into its Go type, so that fields
// the two sides spell differently but mean the same (an absent field and an
// empty one) compare equal, and every field that matters is compared.
func typed(t *testing.T, u *unstructured.Unstructured) runtime.Object {
	t.Helper()
	obj, err := kube.Scheme.New(u.GroupVersionKind())
	if err != nil {
		t.Fatalf("%s: %v", key(u), err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		t.Fatalf("%s: %v", key(u), err)
	}
	return obj
}

// notificationCRDs come from notification-controller/api v1.9.0, one patch
// behind the v1.9.1 controller the fixture was built from (DESIGN.md).
var notificationCRDs = map[string]bool{
	"alerts.notification.toolkit.fluxcd.io":    true,
	"providers.notification.toolkit.fluxcd.io": true,
	"receivers.notification.toolkit.fluxcd.io": true,
}

func TestInstallMatchesFluxInstallExport(t *testing.T) {
	wantOrder, want := readFixture(t)
	gotOrder, got := installObjects(t)

	t.Run("has the same objects in the same order", func(t *testing.T) {
		if d := cmp.Diff(wantOrder, gotOrder); d != "" {
			t.Errorf("objects (-flux install +ours):\n%s", d)
		}
	})
	t.Run("every object other than a CRD is equal field by field", func(t *testing.T) {
		for k, w := range want {
			g, ok := got[k]
			if !ok || w.GetKind() == "CustomResourceDefinition" {
				continue
			}
			if d := cmp.Diff(typed(t, w), typed(t, g)); d != "" {
				t.Errorf("%s (-flux install +ours):\n%s", k, d)
			}
		}
	})
	t.Run("CRD specs are equal where the API module versions match", func(t *testing.T) {
		n := 0
		for k, w := range want {
			if w.GetKind() != "CustomResourceDefinition" {
				continue
			}
			wc := typed(t, w).(*apiextensionsv1.CustomResourceDefinition)
			gc := typed(t, got[k]).(*apiextensionsv1.CustomResourceDefinition)
			if d := cmp.Diff(wc.Labels, gc.Labels); d != "" {
				t.Errorf("%s labels (-flux install +ours):\n%s", k, d)
			}
			if notificationCRDs[wc.Name] {
				// Same versions served, schemas may differ by a patch release.
				if d := cmp.Diff(versionNames(wc), versionNames(gc)); d != "" {
					t.Errorf("%s versions (-flux install +ours):\n%s", k, d)
				}
				continue
			}
			n++
			if d := cmp.Diff(wc.Spec, gc.Spec); d != "" {
				t.Errorf("%s spec (-flux install +ours):\n%s", k, d)
			}
		}
		if n != 8 {
			t.Errorf("compared %d CRD specs exactly, want 8", n)
		}
	})
}

func versionNames(c *apiextensionsv1.CustomResourceDefinition) []string {
	var out []string
	for _, v := range c.Spec.Versions {
		out = append(out, fmt.Sprintf("%s served=%v storage=%v", v.Name, v.Served, v.Storage))
	}
	return out
}

// TestCRDsAreFresh regenerates the CRDs with controller-gen from the pinned
// API modules and compares them with the embedded ones.
func TestCRDsAreFresh(t *testing.T) {
	root := testenv.RepoRoot()
	t.Run("tools/generate pins the same Flux API modules as go.mod", func(t *testing.T) {
		mainMods := requires(t, filepath.Join(root, "go.mod"))
		genMods := requires(t, filepath.Join(root, "tools/generate/go.mod"))
		for mod, v := range genMods {
			if strings.HasPrefix(mod, "github.com/fluxcd/") && strings.HasSuffix(mod, "/api") && mainMods[mod] != v {
				t.Errorf("%s: tools/generate has %s, go.mod has %s", mod, v, mainMods[mod])
			}
		}
	})
	t.Run("controller-gen output equals the embedded CRDs", func(t *testing.T) {
		out := t.TempDir()
		cmd := exec.Command("bash", filepath.Join(root, "hack/generate-crds.sh"), out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("hack/generate-crds.sh: %v\n%s", err, b)
		}
		fresh, _ := filepath.Glob(filepath.Join(out, "*.yaml"))
		committed, _ := filepath.Glob(filepath.Join(root, "constructs/flux/crds/*.yaml"))
		if len(fresh) != len(committed) || len(fresh) != 11 {
			t.Fatalf("controller-gen wrote %d CRDs, %d are committed, want 11", len(fresh), len(committed))
		}
		for _, f := range fresh {
			a, _ := os.ReadFile(f)
			b, _ := os.ReadFile(filepath.Join(root, "constructs/flux/crds", filepath.Base(f)))
			if !bytes.Equal(a, b) {
				t.Errorf("%s is stale: run `make generate`", filepath.Base(f))
			}
		}
	})
}

func requires(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := modfile.Parse(path, data, nil)
	require.NoError(t, err)
	out := map[string]string{}
	for _, r := range f.Require {
		out[r.Mod.Path] = r.Mod.Version
	}
	return out
}

func TestCdk8sSeesTheTypedObjects(t *testing.T) {
	app := core.NewApp(nil)
	chart := kube.NewChart(app, "flux", &kube.ChartProps{Dir: "kubernetes/flux"})
	in := flux.NewInstall(chart, "gotk-components", nil)
	// cdk8s's own rendering of the chart goes through Object.ToJson.
	fromCdk8s := *chart.ToJson()
	if len(fromCdk8s) != len(in.Objects) {
		t.Fatalf("cdk8s renders %d objects, the install has %d", len(fromCdk8s), len(in.Objects))
	}
	byName := map[string]any{}
	for _, o := range fromCdk8s {
		u := &unstructured.Unstructured{Object: o.(map[string]any)}
		byName[key(u)] = o
	}
	for _, o := range in.Objects {
		m, _ := o.Manifest()
		u := &unstructured.Unstructured{Object: m}
		if !reflect.DeepEqual(normalize(t, byName[key(u)]), normalize(t, m)) {
			t.Errorf("%s: cdk8s renders something else than the typed object", key(u))
		}
	}
}

func normalize(t *testing.T, v any) any {
	t.Helper()
	out, err := jsonRoundTrip(v)
	require.NoError(t, err)
	return out
}

func jsonRoundTrip(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(b, &out)
	return out, err
}

// Each CRDs call hands out its own objects: a tree changing its CRDs (a
// label, a hook) leaves the next tree's as embedded.
func TestCRDsAreCopies(t *testing.T) {
	first, err := flux.CRDs()
	require.NoError(t, err)
	require.Len(t, first, 11)
	want := first[0].Spec.Versions[0].Schema.OpenAPIV3Schema.Description
	first[0].Labels = map[string]string{"changed": "yes"}
	first[0].Spec.Versions[0].Schema.OpenAPIV3Schema.Description = "changed"
	second, err := flux.CRDs()
	require.NoError(t, err)
	assert.Empty(t, second[0].Labels["changed"])
	assert.Equal(t, want, second[0].Spec.Versions[0].Schema.OpenAPIV3Schema.Description)
}
