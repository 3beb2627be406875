package testenv

import (
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
	r, err := helmrender.ReleaseOf(m)
	if err != nil {
		t.Fatalf("%s: %v", rel.Info().Path(), err)
	}
	objs, err := helmrender.RenderRelease(r, Fixture(t, fixtures.ChartFile(flux.Chart{Name: r.Chart, Version: r.Version})))
	if err != nil {
		t.Fatalf("%s: %v", rel.Info().Path(), err)
	}
	return objs
}
