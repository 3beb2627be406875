package testenv

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/helmrender"
)

// RenderRelease renders the chart of rel (from the fixture cache) with
// rel's own values, release name and namespace, the way helm-controller
// would install it, and returns the objects, hooks included.
func RenderRelease(t testing.TB, rel *flux.HelmRelease) []*unstructured.Unstructured {
	t.Helper()
	m, err := rel.Manifest()
	if err != nil {
		t.Fatalf("%s: %v", rel.Info().Path(), err)
	}
	u := &unstructured.Unstructured{Object: m}
	chart, _, _ := unstructured.NestedString(m, "spec", "chart", "spec", "chart")
	version, _, _ := unstructured.NestedString(m, "spec", "chart", "spec", "version")
	ns, _, _ := unstructured.NestedString(m, "spec", "targetNamespace")
	if ns == "" {
		ns = u.GetNamespace()
	}
	name, _, _ := unstructured.NestedString(m, "spec", "releaseName")
	if name == "" {
		name = u.GetName()
	}
	values := map[string]any{}
	if v, ok, _ := unstructured.NestedFieldNoCopy(m, "spec", "values"); ok && v != nil {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &values); err != nil {
			t.Fatal(err)
		}
	}
	path := Fixture(t, fixtures.Chart{Name: chart, Version: version}.File())
	objs, err := helmrender.Render(path, values, helmrender.Options{ReleaseName: name, Namespace: ns, Hooks: true,
		APIVersions: []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"}})
	if err != nil {
		t.Fatalf("%s: %v", rel.Info().Path(), err)
	}
	return objs
}
