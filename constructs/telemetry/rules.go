package telemetry

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/monitoring"
)

// LogRule is an alerting rule on the logs, which Loki's ruler evaluates
// and sends to Alertmanager: it fires when, over Window, the streams of
// Selector had lines matching Match.
type LogRule struct {
	// Alert is the alert's name.
	Alert string
	// Selector are the stream's labels (those the collector sets: job,
	// namespace, pod, container, app, node, service).
	Selector map[string]string
	// Match is an RE2 regular expression a line must match (LogQL's |~,
	// Go's regexp syntax).
	Match string
	// Window is the range counted ("10m"). Default: "10m".
	Window string
	// By are the labels the alert is per ("node", "service").
	By []string
	// For is how long the condition holds before the alert fires.
	// Default: "0m".
	For string
	// Severity ("critical", "warning", "info") and Summary (a template
	// over the By labels).
	Severity, Summary string
}

// Expr is the rule's LogQL: the count of matching lines over the window,
// per By, above zero.
func (r LogRule) Expr() string {
	var sel []string
	for _, k := range slices.Sorted(maps.Keys(r.Selector)) {
		sel = append(sel, fmt.Sprintf("%s=%s", k, strconv.Quote(r.Selector[k])))
	}
	window := r.Window
	if window == "" {
		window = "10m"
	}
	by := ""
	if len(r.By) > 0 {
		by = " by (" + strings.Join(r.By, ", ") + ")"
	}
	return fmt.Sprintf("sum%s (count_over_time({%s} |~ %s [%s])) > 0", by, strings.Join(sel, ", "), "`"+r.Match+"`", window)
}

// validate refuses a rule Loki's ruler would not load or that matches
// nothing: a line pattern that is no RE2 expression (or holds a
// backtick, which ends LogQL's raw string), an empty selector (LogQL
// needs a matcher), a window or For that is no duration.
func (r LogRule) validate(path string) []error {
	var errs []error
	if r.Alert == "" || !model.LabelName(r.Alert).IsValid() {
		errs = append(errs, core.Errorf(path, "name the alert like a metric (letters, digits, underscores)", "log rule alert %q is no valid name", r.Alert))
	}
	if len(r.Selector) == 0 {
		errs = append(errs, core.Errorf(path, `set LogRule.Selector to the stream's labels ({"job": "talos"})`, "log rule %s selects no stream", r.Alert))
	}
	for k := range r.Selector {
		if !model.LabelName(k).IsValid() {
			errs = append(errs, core.Errorf(path, "use label names of letters, digits and underscores", "log rule %s: %q is no label name", r.Alert, k))
		}
	}
	if _, err := regexp.Compile(r.Match); err != nil || strings.Contains(r.Match, "`") {
		errs = append(errs, core.Errorf(path, "write LogRule.Match in Go's regexp syntax (RE2), without backticks", "log rule %s: %q is no line pattern: %v", r.Alert, r.Match, err))
	}
	for _, d := range []struct{ name, v string }{{"Window", r.Window}, {"For", r.For}} {
		if d.v == "" {
			continue
		}
		if _, err := model.ParseDuration(d.v); err != nil {
			errs = append(errs, core.Errorf(path, fmt.Sprintf(`set LogRule.%s to a duration such as "10m"`, d.name), "log rule %s: %s %q is no duration", r.Alert, d.name, d.v))
		}
	}
	return errs
}

// RuleGroup is the rule group the rules render to (Prometheus' rule file
// format, which Loki's ruler reads).
func RuleGroup(name string, rules []LogRule) monitoringv1.RuleGroup {
	g := monitoringv1.RuleGroup{Name: name}
	for _, r := range rules {
		rule := monitoringv1.Rule{Alert: r.Alert, Expr: intstr.FromString(r.Expr()),
			Labels: map[string]string{"severity": r.Severity}, Annotations: map[string]string{"summary": r.Summary}}
		if r.For != "" {
			d := monitoringv1.Duration(r.For)
			rule.For = &d
		}
		g.Rules = append(g.Rules, rule)
	}
	return g
}

// newRules adds the ConfigMap of rules the chart's sidecar writes into the
// ruler's directory for the tenant.
func newRules(scope constructs.Construct, id, namespace string, rules []LogRule) {
	info := core.InfoOf(scope)
	path := info.Path() + "/" + id
	data, err := yaml.Marshal(struct {
		Groups []monitoringv1.RuleGroup `json:"groups"`
	}{[]monitoringv1.RuleGroup{RuleGroup("homelab", rules)}})
	if err != nil {
		panic(fmt.Sprintf("%s: encoding rules: %v", path, err)) // typed values always encode
	}
	kube.NewObject(scope, id, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "loki-rules-homelab", Namespace: namespace,
			Labels:      map[string]string{RuleLabel: "1"},
			Annotations: map[string]string{FolderAnnotation: RulesDir + "/" + tenant}},
		Data: map[string]string{"homelab.yaml": string(data)},
	})
	info.Tree().AddValidation(func() []error {
		var errs []error
		for _, r := range rules {
			errs = append(errs, r.validate(path)...)
		}
		return errs
	})
}

// HomelabLogRules are the log alerts every homelab with Loki gets, on the
// streams the collector labels:
//   - TalosServiceFailed: machined logs each service state change as
//     "service[<id>](<state>): <message>" (Talos v1.13.9
//     internal/app/machined/pkg/system/service_runner.go:92, the state
//     "Failed" from system/events/events.go:52), into its own log
//     ("machined", v1alpha1_controller.go:73), which the node sends;
//   - KernelOOMKill: the kernel's OOM killer logs "<constraint>: Killed
//     process <pid> (<name>)" where the constraint is "Out of memory" or
//     "Memory cgroup out of memory" (Linux mm/oom_kill.c);
//   - FluxReconcileErrors: the Flux controllers log JSON lines with
//     "level":"error" when a reconciliation fails.
func HomelabLogRules() []LogRule {
	return []LogRule{
		{Alert: "TalosServiceFailed", Selector: map[string]string{"job": "talos", "service": "machined"}, Match: `service\[[^\]]+\]\(Failed\)`,
			By: []string{"node"}, Severity: "warning",
			Summary: "a Talos service failed on {{ $labels.node }}: talosctl -n {{ $labels.node }} services; talosctl -n {{ $labels.node }} logs <service>"},
		{Alert: "KernelOOMKill", Selector: map[string]string{"job": "talos", "service": "kernel"}, Match: `[Oo]ut of memory: Killed process`,
			By: []string{"node"}, Severity: "warning",
			Summary: "the kernel killed a process for memory on {{ $labels.node }}: talosctl -n {{ $labels.node }} dmesg | grep -i 'killed process'"},
		{Alert: "FluxReconcileErrors", Selector: map[string]string{"namespace": "flux-system"}, Match: `"level":"error"`, Window: "15m",
			By: []string{"pod"}, For: "15m", Severity: "warning",
			Summary: "{{ $labels.pod }} logs reconciliation errors for 15 minutes: flux get all -A --status-selector ready=false"},
	}
}

// LogsDashboard is the homelab's logs dashboard in Grafana, on the Loki
// datasource: lines per namespace, error lines per app, the Talos
// services' errors per node, and the nodes' Talos and kernel lines.
func LogsDashboard() monitoring.GrafanaDashboard {
	ds := map[string]any{"type": "loki", "uid": LokiDatasourceUID}
	panel := func(id int, typ, title string, x, y, w int, expr, legend string) monitoring.Panel {
		return monitoring.Panel{ID: id, Type: typ, Title: title, GridPos: monitoring.GridPos{H: 8, W: w, X: x, Y: y}, Datasource: ds,
			Targets: []monitoring.PanelTarget{{Expr: expr, LegendFormat: legend, RefID: "A"}}}
	}
	return monitoring.GrafanaDashboard{
		UID: "homelab-logs", Title: "Logs", Tags: []string{"logs", "homelab"},
		SchemaVersion: 39, Refresh: "1m", Time: map[string]any{"from": "now-6h", "to": "now"},
		Panels: []monitoring.Panel{
			panel(1, "timeseries", "Log lines per namespace", 0, 0, 12, `sum by (namespace) (count_over_time({namespace=~".+"} [5m]))`, "{{namespace}}"),
			panel(2, "timeseries", "Error lines per app", 12, 0, 12, "sum by (namespace, app) (count_over_time({namespace=~\".+\"} |~ `(?i)\\b(error|fatal|panic)\\b` [5m]))", "{{namespace}}/{{app}}"),
			panel(3, "timeseries", "Talos service errors per node", 0, 8, 24, `sum by (node, service) (count_over_time({job="talos", level="error"} [5m]))`, "{{node}} {{service}}"),
			panel(4, "logs", "Talos services and kernel", 0, 16, 24, `{job="talos"}`, ""),
		},
	}
}

// newDashboard adds the logs dashboard as a ConfigMap Grafana's sidecar
// loads (it searches every namespace).
func newDashboard(scope constructs.Construct, id, namespace string) {
	dash, err := json.Marshal(LogsDashboard())
	if err != nil {
		panic(err) // a struct of strings and numbers always marshals
	}
	kube.NewObject(scope, id, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "logs-dashboard", Namespace: namespace, Labels: map[string]string{monitoring.DashboardLabel: "1"}},
		Data:       map[string]string{"logs.json": string(dash)},
	})
}
