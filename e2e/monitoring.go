package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

var monitoringGroup = "monitoring.coreos.com"

func gvk(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: monitoringGroup, Version: "v1", Kind: kind}
}

// ScrapeProblems checks that the monitoring objects have an effect: every
// ServiceMonitor, PodMonitor and PrometheusRule is selected by a
// Prometheus (its selectors and namespace selectors, as the Prometheus
// operator reads them: a nil selector selects nothing, an empty one
// everything), every ServiceMonitor endpoint reaches a ready endpoint of a
// Service it selects through the named port, and every PodMonitor
// endpoint a running pod with that container port. It returns one line
// per problem, and how many targets it found.
func (c *Cluster) ScrapeProblems(ctx context.Context) (problems []string, targets int, err error) {
	proms, err := c.list(ctx, "Prometheus")
	if err != nil {
		return nil, 0, err
	}
	if len(proms) == 0 {
		return []string{"no Prometheus in the cluster"}, 0, nil
	}
	for _, kind := range []struct{ kind, selector, nsSelector string }{
		{"ServiceMonitor", "serviceMonitorSelector", "serviceMonitorNamespaceSelector"},
		{"PodMonitor", "podMonitorSelector", "podMonitorNamespaceSelector"},
		{"PrometheusRule", "ruleSelector", "ruleNamespaceSelector"},
	} {
		objs, err := c.list(ctx, kind.kind)
		if err != nil {
			return nil, 0, err
		}
		for _, o := range objs {
			id := fmt.Sprintf("%s %s/%s", kind.kind, o.GetNamespace(), o.GetName())
			selected, err := c.selectedByAny(ctx, proms, o, kind.selector, kind.nsSelector)
			if err != nil {
				return nil, 0, err
			}
			if !selected {
				problems = append(problems, id+": no Prometheus selects it (its labels or namespace do not match any Prometheus' "+kind.selector+")")
			}
			switch kind.kind {
			case "ServiceMonitor":
				n, p, err := c.serviceTargets(ctx, o)
				if err != nil {
					return nil, 0, err
				}
				targets += n
				problems = append(problems, prefixed(id, p)...)
			case "PodMonitor":
				n, p, err := c.podTargets(ctx, o)
				if err != nil {
					return nil, 0, err
				}
				targets += n
				problems = append(problems, prefixed(id, p)...)
			}
		}
	}
	slices.Sort(problems)
	return problems, targets, nil
}

func prefixed(id string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = id + ": " + l
	}
	return out
}

func (c *Cluster) list(ctx context.Context, kind string) ([]unstructured.Unstructured, error) {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(gvk(kind + "List"))
	if err := c.Client.List(ctx, l); err != nil {
		return nil, fmt.Errorf("listing %s: %w", kind, err)
	}
	return l.Items, nil
}

// selector reads a label selector at path of o; ok is false when absent.
func selector(o map[string]any, path ...string) (labels.Selector, bool, error) {
	m, found, err := unstructured.NestedMap(o, path...)
	if err != nil || !found {
		return nil, false, err
	}
	ls := &metav1.LabelSelector{}
	if err := runtimeFromMap(m, ls); err != nil {
		return nil, false, err
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	return sel, true, err
}

func (c *Cluster) selectedByAny(ctx context.Context, proms []unstructured.Unstructured, o unstructured.Unstructured, selKey, nsKey string) (bool, error) {
	ns := &corev1.Namespace{}
	if err := c.Client.Get(ctx, client.ObjectKey{Name: o.GetNamespace()}, ns); err != nil {
		return false, err
	}
	for _, p := range proms {
		sel, ok, err := selector(p.Object, "spec", selKey)
		if err != nil {
			return false, err
		}
		if !ok || !sel.Matches(labels.Set(o.GetLabels())) {
			continue
		}
		nsSel, ok, err := selector(p.Object, "spec", nsKey)
		if err != nil {
			return false, err
		}
		// No namespace selector: the Prometheus' own namespace only.
		if (!ok && o.GetNamespace() == p.GetNamespace()) || (ok && nsSel.Matches(labels.Set(ns.Labels))) {
			return true, nil
		}
	}
	return false, nil
}

// namespaces returns the namespaces a monitor's namespaceSelector names
// (its own when none).
func namespaces(o unstructured.Unstructured) []string {
	names, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "namespaceSelector", "matchNames")
	if len(names) == 0 {
		return []string{o.GetNamespace()}
	}
	return names
}

func (c *Cluster) serviceTargets(ctx context.Context, o unstructured.Unstructured) (int, []string, error) {
	sel, ok, err := selector(o.Object, "spec", "selector")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, []string{"no selector"}, nil
	}
	endpoints, _, _ := unstructured.NestedSlice(o.Object, "spec", "endpoints")
	var problems []string
	targets := 0
	for _, ns := range namespaces(o) {
		var svcs corev1.ServiceList
		if err := c.Client.List(ctx, &svcs, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return 0, nil, err
		}
		if len(svcs.Items) == 0 {
			problems = append(problems, fmt.Sprintf("selects no Service in namespace %s (selector %s)", ns, sel))
			continue
		}
		for _, e := range endpoints {
			port, _, _ := unstructured.NestedString(e.(map[string]any), "port")
			n, err := c.readyEndpoints(ctx, svcs.Items, port)
			if err != nil {
				return 0, nil, err
			}
			if n == 0 {
				problems = append(problems, fmt.Sprintf("port %q has no ready endpoint in the Services it selects in %s", port, ns))
			}
			targets += n
		}
	}
	return targets, problems, nil
}

func (c *Cluster) readyEndpoints(ctx context.Context, svcs []corev1.Service, port string) (int, error) {
	n := 0
	for _, s := range svcs {
		var slices discoveryv1.EndpointSliceList
		if err := c.Client.List(ctx, &slices, client.InNamespace(s.Namespace), client.MatchingLabels{discoveryv1.LabelServiceName: s.Name}); err != nil {
			return 0, err
		}
		for _, sl := range slices.Items {
			hasPort := false
			for _, p := range sl.Ports {
				hasPort = hasPort || (p.Name != nil && *p.Name == port)
			}
			if !hasPort {
				continue
			}
			for _, e := range sl.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					n++
				}
			}
		}
	}
	return n, nil
}

func (c *Cluster) podTargets(ctx context.Context, o unstructured.Unstructured) (int, []string, error) {
	sel, ok, err := selector(o.Object, "spec", "selector")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, []string{"no selector"}, nil
	}
	endpoints, _, _ := unstructured.NestedSlice(o.Object, "spec", "podMetricsEndpoints")
	var problems []string
	targets := 0
	for _, ns := range namespaces(o) {
		var pods corev1.PodList
		if err := c.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return 0, nil, err
		}
		for _, e := range endpoints {
			port, _, _ := unstructured.NestedString(e.(map[string]any), "port")
			n := 0
			for _, p := range pods.Items {
				if p.Status.Phase != corev1.PodRunning {
					continue
				}
				for _, ctr := range p.Spec.Containers {
					for _, cp := range ctr.Ports {
						if cp.Name == port {
							n++
						}
					}
				}
			}
			if n == 0 {
				problems = append(problems, fmt.Sprintf("port %q is on no running pod it selects in %s (selector %s)", port, ns, sel))
			}
			targets += n
		}
	}
	return targets, problems, nil
}

func runtimeFromMap(m map[string]any, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(m, into)
}

// OperatorProblems checks what the Prometheus operator made of the
// monitoring objects, the way Prometheus and Alertmanager will read it:
// every Prometheus and Alertmanager is Reconciled; the generated
// Prometheus configuration has a scrape job for every endpoint of every
// ServiceMonitor and PodMonitor, and its rule files every PrometheusRule;
// the generated Alertmanager configuration has every receiver of every
// AlertmanagerConfig; and the operator rejected no object (its
// InvalidConfiguration events). It returns one line per problem.
func (c *Cluster) OperatorProblems(ctx context.Context) ([]string, error) {
	var problems []string
	jobs, rules, receivers := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, kind := range []string{"Prometheus", "Alertmanager"} {
		objs, err := c.list(ctx, kind)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			id := fmt.Sprintf("%s %s/%s", kind, o.GetNamespace(), o.GetName())
			if !conditionTrue(o, "Reconciled") {
				problems = append(problems, id+": not Reconciled by the operator")
			}
			var err error
			if kind == "Prometheus" {
				err = c.promGenerated(ctx, o, jobs, rules)
			} else {
				err = c.alertmanagerGenerated(ctx, o, receivers)
			}
			if err != nil {
				problems = append(problems, id+": "+err.Error())
			}
		}
	}
	for _, m := range []struct{ kind, endpoints, job string }{{"ServiceMonitor", "endpoints", "serviceMonitor"}, {"PodMonitor", "podMetricsEndpoints", "podMonitor"}} {
		objs, err := c.list(ctx, m.kind)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			eps, _, _ := unstructured.NestedSlice(o.Object, "spec", m.endpoints)
			for i := range eps {
				job := fmt.Sprintf("%s/%s/%s/%d", m.job, o.GetNamespace(), o.GetName(), i)
				if !jobs[job] {
					problems = append(problems, fmt.Sprintf("%s %s/%s: endpoint %d is in no generated Prometheus configuration (no job %s)", m.kind, o.GetNamespace(), o.GetName(), i, job))
				}
			}
		}
	}
	prs, err := c.list(ctx, "PrometheusRule")
	if err != nil {
		return nil, err
	}
	for _, o := range prs {
		if !rules[o.GetNamespace()+"-"+o.GetName()+"-"+string(o.GetUID())+".yaml"] {
			problems = append(problems, fmt.Sprintf("PrometheusRule %s/%s: in no Prometheus' rule files", o.GetNamespace(), o.GetName()))
		}
	}
	acs := &unstructured.UnstructuredList{}
	acs.SetGroupVersionKind(schema.GroupVersionKind{Group: monitoringGroup, Version: "v1alpha1", Kind: "AlertmanagerConfigList"})
	if err := c.Client.List(ctx, acs); err != nil {
		return nil, err
	}
	for _, o := range acs.Items {
		rs, _, _ := unstructured.NestedSlice(o.Object, "spec", "receivers")
		for _, r := range rs {
			name, _, _ := unstructured.NestedString(r.(map[string]any), "name")
			if full := o.GetNamespace() + "/" + o.GetName() + "/" + name; !receivers[full] {
				problems = append(problems, fmt.Sprintf("AlertmanagerConfig %s/%s: receiver %q is in no generated Alertmanager configuration", o.GetNamespace(), o.GetName(), name))
			}
		}
	}
	var events corev1.EventList
	if err := c.Client.List(ctx, &events); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range events.Items {
		if e.Reason != "InvalidConfiguration" {
			continue
		}
		line := fmt.Sprintf("%s %s/%s: rejected by the operator: %s", e.InvolvedObject.Kind, e.InvolvedObject.Namespace, e.InvolvedObject.Name, e.Message)
		if !seen[line] {
			seen[line] = true
			problems = append(problems, line)
		}
	}
	slices.Sort(problems)
	return problems, nil
}

func conditionTrue(o unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

// gunzipKey returns the gunzipped value of key in the Secret ns/name.
func (c *Cluster) gunzipKey(ctx context.Context, ns, name, key string) ([]byte, error) {
	s := &corev1.Secret{}
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		return nil, fmt.Errorf("generated configuration: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(s.Data[key]))
	if err != nil {
		return nil, fmt.Errorf("generated configuration %s/%s %s: %w", ns, name, key, err)
	}
	return io.ReadAll(zr)
}

func (c *Cluster) promGenerated(ctx context.Context, p unstructured.Unstructured, jobs, rules map[string]bool) error {
	data, err := c.gunzipKey(ctx, p.GetNamespace(), "prometheus-"+p.GetName(), "prometheus.yaml.gz")
	if err != nil {
		return err
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName string `json:"job_name"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("generated configuration: %w", err)
	}
	for _, s := range cfg.ScrapeConfigs {
		jobs[s.JobName] = true
	}
	var cms corev1.ConfigMapList
	if err := c.Client.List(ctx, &cms, client.InNamespace(p.GetNamespace()), client.MatchingLabels{"prometheus-name": p.GetName()}); err != nil {
		return err
	}
	for _, cm := range cms.Items {
		for k := range cm.Data {
			rules[k] = true
		}
	}
	return nil
}

func (c *Cluster) alertmanagerGenerated(ctx context.Context, a unstructured.Unstructured, receivers map[string]bool) error {
	data, err := c.gunzipKey(ctx, a.GetNamespace(), "alertmanager-"+a.GetName()+"-generated", "alertmanager.yaml.gz")
	if err != nil {
		return err
	}
	var cfg struct {
		Receivers []struct {
			Name string `json:"name"`
		} `json:"receivers"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("generated configuration: %w", err)
	}
	for _, r := range cfg.Receivers {
		receivers[r.Name] = true
	}
	return nil
}
