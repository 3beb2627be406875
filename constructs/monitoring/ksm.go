package monitoring

import rbacv1 "k8s.io/api/rbac/v1"

// ksmConfig is kube-state-metrics' CustomResourceStateMetrics config.
type ksmConfig struct {
	Kind string  `json:"kind"`
	Spec ksmSpec `json:"spec"`
}

type ksmSpec struct {
	Resources []ksmResource `json:"resources"`
}

type ksmResource struct {
	GroupVersionKind ksmGVK      `json:"groupVersionKind"`
	MetricNamePrefix string      `json:"metricNamePrefix"`
	Metrics          []ksmMetric `json:"metrics"`
}

type ksmGVK struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

type ksmMetric struct {
	Name           string              `json:"name"`
	Help           string              `json:"help"`
	Each           ksmEach             `json:"each"`
	LabelsFromPath map[string][]string `json:"labelsFromPath"`
}

type ksmEach struct {
	Type string  `json:"type"`
	Info ksmInfo `json:"info"`
}

type ksmInfo struct {
	LabelsFromPath map[string][]string `json:"labelsFromPath"`
}

// fluxStateMetrics returns the RBAC and config that make kube-state-metrics
// export gotk_resource_info{customresource_kind, exported_namespace, name,
// ready, suspended} for Flux's Kustomizations, HelmReleases and sources,
// which the Flux alerts and dashboard read.
func fluxStateMetrics() ([]rbacv1.PolicyRule, ksmConfig) {
	kinds := []ksmGVK{
		{"kustomize.toolkit.fluxcd.io", "v1", "Kustomization"},
		{"helm.toolkit.fluxcd.io", "v2", "HelmRelease"},
		{"source.toolkit.fluxcd.io", "v1", "GitRepository"},
		{"source.toolkit.fluxcd.io", "v1", "HelmRepository"},
	}
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"kustomize.toolkit.fluxcd.io"}, Resources: []string{"kustomizations"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"helm.toolkit.fluxcd.io"}, Resources: []string{"helmreleases"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"source.toolkit.fluxcd.io"}, Resources: []string{"gitrepositories", "helmrepositories"}, Verbs: []string{"list", "watch"}},
	}
	cfg := ksmConfig{Kind: "CustomResourceStateMetrics"}
	for _, k := range kinds {
		cfg.Spec.Resources = append(cfg.Spec.Resources, ksmResource{
			GroupVersionKind: k, MetricNamePrefix: "gotk",
			Metrics: []ksmMetric{{
				Name: "resource_info", Help: "The current state of a Flux " + k.Kind + ".",
				Each: ksmEach{Type: "Info", Info: ksmInfo{LabelsFromPath: map[string][]string{"name": {"metadata", "name"}}}},
				LabelsFromPath: map[string][]string{
					"exported_namespace": {"metadata", "namespace"},
					"ready":              {"status", "conditions", "[type=Ready]", "status"},
					"suspended":          {"spec", "suspend"},
				},
			}},
		})
	}
	return rules, cfg
}
