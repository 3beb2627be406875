package monitoring

import (
	"encoding/json"

	"github.com/aws/constructs-go/constructs/v10"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/platform"
)

// Target is something to scrape: pods or a Service selected by labels.
type Target = platform.Monitor

// Monitors are the ServiceMonitors, PodMonitors, PrometheusRules and the
// Flux dashboard. They are custom resources of the stack's CRDs, so they
// belong in a chart applied after the stack is ready.
type Monitors struct {
	constructs.Construct
	info *core.Info
}

// NewMonitors adds monitors for targets, the homelab's alert rules and the
// Flux dashboard below scope, in namespace (the stack's).
func NewMonitors(scope constructs.Construct, id, namespace string, targets []Target) *Monitors {
	m := &Monitors{}
	m.info = core.Init(m, scope, id)
	for _, t := range targets {
		sel := metav1.LabelSelector{MatchLabels: t.Selector}
		ns := monitoringv1.NamespaceSelector{MatchNames: []string{t.Namespace}}
		meta := metav1.ObjectMeta{Name: t.Name, Namespace: namespace}
		if t.Pod {
			kube.NewObject(m, t.Name, &monitoringv1.PodMonitor{ObjectMeta: meta, Spec: monitoringv1.PodMonitorSpec{
				Selector: sel, NamespaceSelector: ns,
				PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{Port: ptr.To(t.Port)}},
			}})
			continue
		}
		kube.NewObject(m, t.Name, &monitoringv1.ServiceMonitor{ObjectMeta: meta, Spec: monitoringv1.ServiceMonitorSpec{
			Selector: sel, NamespaceSelector: ns,
			Endpoints: []monitoringv1.Endpoint{{Port: t.Port}},
		}})
	}
	kube.NewObject(m, "homelab-rules", &monitoringv1.PrometheusRule{
		ObjectMeta: metav1.ObjectMeta{Name: "homelab", Namespace: namespace},
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: Rules()},
	})
	dash, err := json.Marshal(FluxDashboard())
	if err != nil {
		panic(err) // a struct of strings and numbers always marshals
	}
	kube.NewObject(m, "flux-dashboard", &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-dashboard", Namespace: namespace, Labels: map[string]string{DashboardLabel: "1"}},
		Data:       map[string]string{"flux.json": string(dash)},
	})
	return m
}

// Info returns the construct's place in the tree.
func (m *Monitors) Info() *core.Info { return m.info }

// ToString overrides the jsii method; it returns the construct path.
func (m *Monitors) ToString() *string { return core.PathString(m.info) }

func rule(name, expr, forDur, severity, summary string) monitoringv1.Rule {
	d := monitoringv1.Duration(forDur)
	return monitoringv1.Rule{
		Alert: name, Expr: intstr.FromString(expr), For: &d,
		Labels:      map[string]string{"severity": severity},
		Annotations: map[string]string{"summary": summary},
	}
}

// Rules returns the homelab's alerts beyond kube-prometheus-stack's own
// (which already covers nodes, pods and the control plane): Flux objects
// not ready, a degraded or faulted Longhorn volume, no etcd snapshot in
// 25 hours.
func Rules() []monitoringv1.RuleGroup {
	const (
		lastSuccess = `kube_cronjob_status_last_successful_time{namespace="kube-system", cronjob="etcd-snapshot"}`
		created     = `kube_cronjob_created{namespace="kube-system", cronjob="etcd-snapshot"}`
		// A day plus an hour of slack for the daily schedule.
		maxAge = "90000"
	)
	return []monitoringv1.RuleGroup{
		{Name: "flux", Rules: []monitoringv1.Rule{
			rule("FluxKustomizationNotReady", `max by (exported_namespace, name) (gotk_resource_info{customresource_kind="Kustomization", ready="False"}) > 0`, "15m", "warning",
				"Flux Kustomization {{ $labels.exported_namespace }}/{{ $labels.name }} is not ready"),
			rule("FluxHelmReleaseNotReady", `max by (exported_namespace, name) (gotk_resource_info{customresource_kind="HelmRelease", ready="False"}) > 0`, "15m", "warning",
				"Flux HelmRelease {{ $labels.exported_namespace }}/{{ $labels.name }} is not ready"),
		}},
		{Name: "storage", Rules: []monitoringv1.Rule{
			rule("LonghornVolumeDegraded", `longhorn_volume_robustness == 2`, "10m", "warning", "Longhorn volume {{ $labels.volume }} is degraded"),
			rule("LonghornVolumeFaulted", `longhorn_volume_robustness == 3`, "2m", "critical", "Longhorn volume {{ $labels.volume }} is faulted"),
		}},
		{Name: "backups", Rules: []monitoringv1.Rule{
			// The last success is too old; or there never was one although
			// the CronJob has existed for longer than a day (a fresh install
			// is quiet until its first run is due); or the CronJob is gone.
			rule("EtcdSnapshotMissing",
				`(time() - max(`+lastSuccess+`) > `+maxAge+`)`+
					` or (time() - max(`+created+`) > `+maxAge+` unless max(`+lastSuccess+`))`+
					` or absent(`+created+`)`,
				"1h", "critical", "No etcd snapshot was taken in the last 25 hours"),
		}},
	}
}
