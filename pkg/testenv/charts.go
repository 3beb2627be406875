package testenv

import (
	"encoding/json"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/kustomize"
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
	path := Fixture(t, fixtures.ChartFile(flux.Chart{Name: chart, Version: version}))
	objs, err := helmrender.Render(path, values, helmrender.Options{ReleaseName: name, Namespace: ns, Hooks: true,
		APIVersions: []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"}})
	if err != nil {
		t.Fatalf("%s: %v", rel.Info().Path(), err)
	}
	// The post-renderers the rendered HelmRelease holds, as
	// helm-controller applies them.
	var hr helmv2.HelmRelease
	raw, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(raw, &hr)
	}
	if err != nil {
		t.Fatalf("%s: %v", rel.Info().Path(), err)
	}
	var patches []kustomize.Patch
	for _, pr := range hr.Spec.PostRenderers {
		if pr.Kustomize != nil {
			patches = append(patches, pr.Kustomize.Patches...)
		}
	}
	objs, err = helmrender.PostRender(objs, patches)
	if err != nil {
		t.Fatalf("%s: %v", rel.Info().Path(), err)
	}
	return objs
}
