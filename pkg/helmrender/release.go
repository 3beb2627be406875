package helmrender

import (
	"encoding/json"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Release is what rendering a HelmRelease needs of it.
type Release struct {
	// Chart and Version are the chart the release installs.
	Chart, Version string
	// Name and Namespace are Helm's release name and namespace.
	Name, Namespace string
	// Values are the release's values.
	Values map[string]any
	// Patches are its Kustomize post-renderers' patches.
	Patches []kustomize.Patch
}

// ReleaseOf reads a HelmRelease manifest (as the tree renders it) the way
// helm-controller does: the release name defaults to the object's name,
// the namespace to its targetNamespace, else its own.
func ReleaseOf(hr map[string]any) (Release, error) {
	raw, err := json.Marshal(hr)
	if err != nil {
		return Release{}, err
	}
	var typed helmv2.HelmRelease
	if err := json.Unmarshal(raw, &typed); err != nil {
		return Release{}, fmt.Errorf("HelmRelease: %w", err)
	}
	r := Release{Name: typed.Spec.ReleaseName, Namespace: typed.Spec.TargetNamespace, Values: map[string]any{}}
	if typed.Spec.Chart != nil {
		r.Chart, r.Version = typed.Spec.Chart.Spec.Chart, typed.Spec.Chart.Spec.Version
	}
	if r.Name == "" {
		r.Name = typed.Name
	}
	if r.Namespace == "" {
		r.Namespace = typed.Namespace
	}
	if v, ok, _ := unstructured.NestedFieldNoCopy(hr, "spec", "values"); ok && v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return Release{}, err
		}
		if err := json.Unmarshal(b, &r.Values); err != nil {
			return Release{}, err
		}
	}
	for _, pr := range typed.Spec.PostRenderers {
		if pr.Kustomize != nil {
			r.Patches = append(r.Patches, pr.Kustomize.Patches...)
		}
	}
	return r, nil
}

// RenderRelease renders r from the chart package at chartFile as
// helm-controller installs it: hooks included, its post-renderers
// applied, for a cluster with the Prometheus operator's API.
func RenderRelease(r Release, chartFile string) ([]*unstructured.Unstructured, error) {
	objs, err := Render(chartFile, r.Values, Options{ReleaseName: r.Name, Namespace: r.Namespace, Hooks: true,
		APIVersions: []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"}})
	if err != nil {
		return nil, err
	}
	return PostRender(objs, r.Patches)
}
