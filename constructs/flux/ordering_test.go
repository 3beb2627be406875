package flux_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
)

func TestCRDOrdering(t *testing.T) {
	// A chart whose CRDs are in group "example.com", and a custom resource
	// of that group.
	build := func(place string, wait bool) []string {
		tr := newTree()
		repo := flux.NewHelmRepository(tr.plat, "repo", &flux.HelmRepositoryProps{URL: "https://charts.example.com"})
		flux.NewHelmRelease(tr.plat, "operator", &flux.HelmReleaseProps{Namespace: "apps", Repository: repo, Chart: "operator", Version: "1.0.0", CRDGroups: []string{"example.com"}})
		if !wait {
			tr.platform.Spec.Spec.Wait = false
		}
		cm := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.com/v1", "kind": "Widget",
			"metadata": map[string]any{"name": "custom", "namespace": "apps"},
		}}
		switch place {
		case "same":
			kube.NewObject(tr.plat, "custom", cm)
		case "after":
			kube.NewObject(tr.apps, "custom", cm)
		case "unordered":
			tr.appsK.Spec.Spec.DependsOn = nil
			cfg := kube.NewChart(tr.app, "other", &kube.ChartProps{Dir: "kubernetes/other"})
			flux.NewKustomization(tr.fluxChart, "other", &flux.KustomizationProps{Chart: cfg})
			kube.NewObject(cfg, "custom", cm)
		}
		var out []string
		for _, m := range messages(tr.app.Tree().Validate()) {
			if strings.Contains(m, "installs its CRD") || strings.Contains(m, "before its CRD exists") {
				out = append(out, m)
			}
		}
		return out
	}
	cases := []struct {
		name, place string
		wait        bool
		want        []string
	}{
		{"in a Kustomization that depends on the chart's, which waits: accepted", "after", true, nil},
		{"in the chart's own Kustomization: refused", "same", true, []string{
			`platform/custom: Widget.example.com/apps/custom is applied by Kustomization "platform" together with HelmRelease "operator", which installs its CRD; apply it from a Kustomization that depends on "platform"`,
		}},
		{"in a Kustomization that does not depend on the chart's: refused", "unordered", true, []string{
			`other/custom: Widget.example.com/apps/custom is applied by Kustomization "other", which does not depend on "platform" (holding HelmRelease "operator", which installs its CRD); add "platform" to the dependsOn of "other"`,
		}},
		{"after a chart Kustomization that does not wait: refused", "after", false, []string{
			`apps/custom: Widget.example.com/apps/custom may be applied before its CRD exists: Kustomization "platform" does not wait for HelmRelease "operator"; set Wait on "platform" or add a health check on the HelmRelease`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.want, build(c.place, c.wait)); d != "" {
				t.Errorf("ordering errors (-want +got):\n%s", d)
			}
		})
	}
}
