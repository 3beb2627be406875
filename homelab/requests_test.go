package homelab_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
)

// podSpec returns the pod template of a workload object, or nil.
func podSpec(t *testing.T, o *unstructured.Unstructured) *corev1.PodSpec {
	t.Helper()
	switch o.GetKind() {
	case "Deployment":
		var d appsv1.Deployment
		decodeInto(t, o, &d)
		return &d.Spec.Template.Spec
	case "DaemonSet":
		var d appsv1.DaemonSet
		decodeInto(t, o, &d)
		return &d.Spec.Template.Spec
	case "StatefulSet":
		var d appsv1.StatefulSet
		decodeInto(t, o, &d)
		return &d.Spec.Template.Spec
	case "Job":
		var j batchv1.Job
		decodeInto(t, o, &j)
		return &j.Spec.Template.Spec
	case "CronJob":
		var j batchv1.CronJob
		decodeInto(t, o, &j)
		return &j.Spec.JobTemplate.Spec.Template.Spec
	}
	return nil
}

func releases(h *homelab.Homelab) []*flux.HelmRelease {
	var out []*flux.HelmRelease
	for _, r := range []*flux.HelmRelease{h.Longhorn.Release, h.NFS.Release, h.Nginx.Release, h.Monitoring.Release} {
		if r != nil {
			out = append(out, r)
		}
	}
	if h.CertManager != nil {
		out = append(out, h.CertManager.Release)
	}
	if h.Loki != nil {
		out = append(out, h.Loki.Release)
	}
	if h.Tempo != nil {
		out = append(out, h.Tempo.Release)
	}
	if h.Collector != nil {
		out = append(out, h.Collector.Release)
	}
	return out
}

// noChartValue are the containers whose chart has no value for their
// resources and that no post-renderer patch reaches: none since
// storage.Longhorn patches its chart's.
var noChartValue = map[string]bool{}

// TestRenderedContainersHaveRequests renders every chart of the tree with
// its values: each container gets a memory request and limit, except
// those whose chart offers no value for it (and that list is exact).
func TestRenderedContainersHaveRequests(t *testing.T) {
	_, h := homelab.NewApp(nil)
	seen := map[string]bool{}
	for _, rel := range releases(h) {
		for _, o := range testenv.RenderRelease(t, rel) {
			spec := podSpec(t, o)
			if spec == nil {
				continue
			}
			for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
				key := o.GetNamespace() + "/" + o.GetName() + "/" + c.Name
				_, req := c.Resources.Requests[corev1.ResourceMemory]
				_, lim := c.Resources.Limits[corev1.ResourceMemory]
				if noChartValue[key] {
					seen[key] = true
					if req || lim {
						t.Errorf("%s now has resources: take it off the noChartValue list and count it in the capacity check", key)
					}
					continue
				}
				if !req || !lim {
					t.Errorf("%s: %s %s container %s has memory request %v, limit %v; set them through the chart's values", rel.Info().Path(), o.GetKind(), key, c.Name, req, lim)
				}
			}
		}
	}
	for key := range noChartValue {
		if !seen[key] {
			t.Errorf("%s is no longer rendered: take it off the noChartValue list", key)
		}
	}
}

// TestCapacityCountsWhatChartsRequest compares, per chart, the memory the
// capacity check counts (its declared workloads, estimates aside) with
// what the rendered chart requests: every long-running pod's containers
// (DaemonSets once per node, like the check) and the pods
// prometheus-operator makes from the Prometheus and Alertmanager
// resources. A value changed in one place and not the other shows here.
func TestCapacityCountsWhatChartsRequest(t *testing.T) {
	app, h := homelab.NewApp(nil)
	for _, rel := range releases(h) {
		source := rel.Info().Path()[:strings.LastIndex(rel.Info().Path(), "/")]
		var declared int64
		for _, w := range core.Workloads.Of(app.Tree()).All() {
			if w.Source != source || strings.Contains(w.Name, "(estimate)") {
				continue
			}
			n := int64(w.Replicas)
			if w.PerNode || n == 0 {
				n = 1
			}
			declared += w.Memory.Value() * n
		}
		var rendered int64
		objs := testenv.RenderRelease(t, rel)
		// prometheus-operator adds a config-reloader container to every
		// Prometheus and Alertmanager pod, with the requests its
		// --config-reloader-memory-request flag gives (prometheus-operator
		// v0.93.1 cmd/operator/main.go:163; 0 when unset).
		var reloader int64
		for _, o := range objs {
			if o.GetKind() != "Deployment" {
				continue
			}
			for _, c := range podSpec(t, o).Containers {
				for _, a := range c.Args {
					if v, ok := strings.CutPrefix(a, "--config-reloader-memory-request="); ok {
						q := resource.MustParse(v)
						reloader = q.Value()
					}
				}
			}
		}
		for _, o := range objs {
			replicas := int64(1)
			if r, ok, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); ok {
				replicas = r
			}
			switch o.GetKind() {
			case "Deployment", "DaemonSet", "StatefulSet":
				if replicas == 0 {
					continue
				}
				spec := podSpec(t, o)
				for _, c := range spec.Containers {
					if noChartValue[o.GetNamespace()+"/"+o.GetName()+"/"+c.Name] {
						continue
					}
					q := c.Resources.Requests[corev1.ResourceMemory]
					rendered += q.Value() * replicas
				}
			case "Prometheus", "Alertmanager":
				var r corev1.ResourceRequirements
				raw, _, _ := unstructured.NestedMap(o.Object, "spec", "resources")
				decodeInto(t, &unstructured.Unstructured{Object: raw}, &r)
				q := r.Requests[corev1.ResourceMemory]
				rendered += (q.Value() + reloader) * replicas
			}
		}
		t.Logf("%s: %d MiB", source, rendered>>20)
		if declared == 0 || declared != rendered {
			t.Errorf("%s: the capacity check counts %d MiB, the rendered chart requests %d MiB", source, declared>>20, rendered>>20)
		}
	}
}
