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

// NewMonitors adds monitors for targets, the alert rules (Flux's and
// alerts, the parts') and the Flux dashboard below scope, in namespace
// (the stack's).
func NewMonitors(scope constructs.Construct, id, namespace string, targets []Target, alerts []platform.AlertGroup) *Monitors {
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
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: Rules(alerts)},
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

func rule(a platform.Alert) monitoringv1.Rule {
	d := monitoringv1.Duration(a.For)
	return monitoringv1.Rule{
		Alert: a.Name, Expr: intstr.FromString(a.Expr), For: &d,
		Labels:      map[string]string{"severity": a.Severity},
		Annotations: map[string]string{"summary": a.Summary},
	}
}

// FluxAlerts are the alerts on Flux, which every homelab runs: a
// Kustomization or HelmRelease not ready for 15 minutes.
func FluxAlerts() platform.AlertGroup {
	return platform.AlertGroup{Name: "flux", Alerts: []platform.Alert{
		{Name: "FluxKustomizationNotReady", Expr: `max by (exported_namespace, name) (gotk_resource_info{customresource_kind="Kustomization", ready="False"}) > 0`, For: "15m", Severity: "warning",
			Summary: "Flux Kustomization {{ $labels.exported_namespace }}/{{ $labels.name }} is not ready"},
		{Name: "FluxHelmReleaseNotReady", Expr: `max by (exported_namespace, name) (gotk_resource_info{customresource_kind="HelmRelease", ready="False"}) > 0`, For: "15m", Severity: "warning",
			Summary: "Flux HelmRelease {{ $labels.exported_namespace }}/{{ $labels.name }} is not ready"},
	}}
}

// Rules returns the homelab's alerts beyond kube-prometheus-stack's own
// (which already covers nodes, pods and the control plane): Flux's, then
// the groups of the parts that run (platform.Alerted: Longhorn's degraded
// or faulted volumes, the etcd snapshots' age, ...).
func Rules(alerts []platform.AlertGroup) []monitoringv1.RuleGroup {
	var out []monitoringv1.RuleGroup
	for _, g := range append([]platform.AlertGroup{FluxAlerts()}, alerts...) {
		rg := monitoringv1.RuleGroup{Name: g.Name}
		for _, a := range g.Alerts {
			rg.Rules = append(rg.Rules, rule(a))
		}
		out = append(out, rg)
	}
	return out
}
