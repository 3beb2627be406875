package homelab_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	k8sres "github.com/siderolabs/talos/pkg/machinery/resources/k8s"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
)

// find returns the rendered object of kind, namespace and name, or nil.
func find(objs []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	return nil
}

// TestControlPlaneScrapeTargets renders kube-prometheus-stack with the
// tree's values and checks that its control-plane Services select what
// Talos runs: static pods labelled as Talos labels them, and etcd on the
// control-plane addresses at the port its machine config listens on.
func TestControlPlaneScrapeTargets(t *testing.T) {
	app, h := homelab.NewApp(nil)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	objs := testenv.RenderRelease(t, h.Monitoring.Release)

	// Talos' static pods carry these labels (its ControlPlaneStaticPod
	// controller: tier=control-plane, k8s-app=<component ID>).
	for _, c := range []struct{ service, id string }{
		{"kube-prometheus-stack-kube-controller-manager", k8sres.ControllerManagerID},
		{"kube-prometheus-stack-kube-scheduler", k8sres.SchedulerID},
	} {
		svc := find(objs, "Service", "kube-system", c.service)
		if svc == nil {
			t.Fatalf("the chart renders no Service %s", c.service)
		}
		sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
		pod := labels.Set{"tier": "control-plane", "k8s-app": c.id}
		if len(sel) == 0 || !labels.SelectorFromSet(sel).Matches(pod) {
			t.Errorf("Service %s selects %v, which does not match Talos' %s pods %v", c.service, sel, c.id, pod)
		}
	}

	// etcd is a host service on Talos: the Service needs endpoints, at the
	// addresses of the control planes and the port etcd listens on for
	// metrics in the machine config the nodes get.
	cfg, err := configloader.NewFromBytes(files["talos/controlplane.yaml"])
	require.NoError(t, err)
	url := cfg.Cluster().Etcd().ExtraArgs()["listen-metrics-urls"]
	_, portStr, ok := strings.Cut(strings.TrimPrefix(strings.Join(url, ""), "http://"), ":")
	port, _ := strconv.ParseInt(portStr, 10, 64)
	if !ok || port == 0 {
		t.Fatalf("the control plane config serves no etcd metrics (listen-metrics-urls %q)", url)
	}
	ep := find(objs, "Endpoints", "kube-system", "kube-prometheus-stack-kube-etcd")
	if ep == nil {
		t.Fatal("the chart renders no Endpoints for etcd")
	}
	var endpoints corev1.Endpoints
	decodeInto(t, ep, &endpoints)
	var addrs []string
	var ports []int64
	for _, s := range endpoints.Subsets {
		for _, a := range s.Addresses {
			addrs = append(addrs, a.IP)
		}
		for _, p := range s.Ports {
			ports = append(ports, int64(p.Port))
		}
	}
	var want []string
	for _, n := range h.Cluster.ControlPlanes() {
		want = append(want, n.IP.String())
	}
	if !slices.Equal(addrs, want) || !slices.Contains(ports, port) {
		t.Errorf("etcd endpoints %v ports %v, want %v port %d", addrs, ports, want, port)
	}
}

// decodeInto decodes a rendered object into its typed form.
func decodeInto(t *testing.T, o *unstructured.Unstructured, typed any) {
	t.Helper()
	raw, err := json.Marshal(o.Object)
	require.NoError(t, err)
	if err := json.Unmarshal(raw, typed); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

// TestNetworkPoliciesAreEnforced resolves the machine configs the way
// Talos does: with NetworkPolicies in the tree, every node runs Flannel
// with kube-network-policies, or the policies would be accepted and do
// nothing.
func TestNetworkPoliciesAreEnforced(t *testing.T) {
	app, _ := homelab.NewApp(nil)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	policies := 0
	for _, o := range app.Tree().Objects() {
		if o.Identity().Kind == "NetworkPolicy" {
			policies++
		}
	}
	if policies == 0 {
		t.Fatal("the Funoffshore tree holds no NetworkPolicy")
	}
	for _, f := range []string{"talos/controlplane.yaml", "talos/worker.yaml"} {
		cfg, err := configloader.NewFromBytes(files[f])
		require.NoError(t, err)
		cni := cfg.Cluster().Network().CNI()
		if cni.Name() != "flannel" || !cni.Flannel().KubeNetworkPoliciesEnabled() {
			t.Errorf("%s: CNI %q with kube-network-policies %v: the tree's %d NetworkPolicies would not be enforced", f, cni.Name(), cni.Flannel().KubeNetworkPoliciesEnabled(), policies)
		}
	}
	if !strings.Contains(string(files["talos/talconfig.yaml"]), "kubeNetworkPoliciesEnabled: true") {
		t.Error("talconfig.yaml (the talhelper route) does not enable NetworkPolicy enforcement")
	}
}

// TestRolloutsDoNotHang checks the Deployments as the API server gets
// them: an app on a ReadWriteOnce volume is replaced (Recreate), since a
// rolling update's second pod could never attach the volume on another
// node; Homepage can write into its config directory; its links are URLs
// a browser can open.
func TestRolloutsDoNotHang(t *testing.T) {
	app, h := homelab.NewApp(nil)
	if _, err := synth.Render(app.Tree()); err != nil {
		t.Fatal(err)
	}
	deployments := map[string]*appsv1.Deployment{}
	for _, o := range app.Tree().Objects() {
		if o.Identity().Kind != "Deployment" {
			continue
		}
		m, err := o.Manifest()
		require.NoError(t, err)
		d := &appsv1.Deployment{}
		decodeInto(t, &unstructured.Unstructured{Object: m}, d)
		deployments[d.Name] = d
	}
	for _, a := range h.AppConstructs {
		d := deployments[a.Name]
		if d == nil {
			t.Fatalf("app %s renders no Deployment", a.Name)
		}
		var claims []string
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				claims = append(claims, v.PersistentVolumeClaim.ClaimName)
			}
		}
		if len(claims) > 0 && (d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || *d.Spec.Replicas != 1) {
			t.Errorf("%s mounts claims %v (ReadWriteOnce) with strategy %q and %d replicas: a rollout would hang on Multi-Attach", a.Name, claims, d.Spec.Strategy.Type, *d.Spec.Replicas)
		}
	}

	home := deployments["homepage"]
	c := home.Spec.Template.Spec.Containers[0]
	var dirWritable bool
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/app/config" && !m.ReadOnly && m.SubPath == "" {
			dirWritable = true
		}
		if strings.HasPrefix(m.MountPath, "/app/config/") && m.SubPath != "" && !m.ReadOnly {
			t.Errorf("given file %s is writable", m.MountPath)
		}
	}
	if !dirWritable {
		t.Errorf("Homepage cannot write its skeleton files into /app/config: mounts %+v", c.VolumeMounts)
	}
	for _, o := range app.Tree().Objects() {
		if id := o.Identity(); id.Kind == "ConfigMap" && id.Name == "homepage" {
			m, _ := o.Manifest()
			services, _, _ := unstructured.NestedString(m, "data", "services.yaml")
			for _, line := range strings.Split(services, "\n") {
				if href, ok := strings.CutPrefix(strings.TrimSpace(line), "href: "); ok && !strings.HasPrefix(href, "https://") {
					t.Errorf("Homepage links to %s, which a browser cannot open", href)
				}
			}
		}
	}
}

// TestFluxDashboardAsGrafanaReadsIt decodes the synthesized dashboard the
// way Grafana's frontend reads it, with case-sensitive keys (Go's
// encoding/json would accept "H" for "h" and hide the bug): every panel
// has a position on the 24-column grid, and no two overlap.
func TestFluxDashboardAsGrafanaReadsIt(t *testing.T) {
	app, _ := homelab.NewApp(nil)
	var dash string
	for _, o := range app.Tree().Objects() {
		if id := o.Identity(); id.Kind == "ConfigMap" && id.Name == "flux-dashboard" {
			m, _ := o.Manifest()
			dash, _, _ = unstructured.NestedString(m, "data", "flux.json")
		}
	}
	var model map[string]any
	if err := json.Unmarshal([]byte(dash), &model); err != nil {
		t.Fatalf("flux.json: %v", err)
	}
	panels, _ := model["panels"].([]any)
	if len(panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	type rect struct{ x, y, w, h float64 }
	var placed []rect
	for i, p := range panels {
		pos, _ := p.(map[string]any)["gridPos"].(map[string]any)
		r := rect{}
		for key, dst := range map[string]*float64{"x": &r.x, "y": &r.y, "w": &r.w, "h": &r.h} {
			v, ok := pos[key].(float64)
			if !ok {
				t.Fatalf("panel %d: gridPos %v has no %q", i, pos, key)
			}
			*dst = v
		}
		if r.w <= 0 || r.h <= 0 || r.x+r.w > 24 {
			t.Errorf("panel %d is off the grid: %+v", i, r)
		}
		for j, q := range placed {
			if r.x < q.x+q.w && q.x < r.x+r.w && r.y < q.y+q.h && q.y < r.y+r.h {
				t.Errorf("panels %d and %d overlap: %+v %+v", j, i, q, r)
			}
		}
		placed = append(placed, r)
	}
}

// metricNames returns the metric names a PromQL expression selects.
func metricNames(expr string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(expr, func(r rune) bool { return !(r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
		if strings.Count(f, "_") >= 2 && !strings.HasPrefix(f, "_") {
			out = append(out, f)
		}
	}
	return out
}

// TestRulesAddToTheChart renders kube-prometheus-stack's rules and checks
// that the homelab's own alerts watch what the chart does not (a second
// alert on the same metric only doubles the pages), and that the
// snapshot alert stays quiet on a fresh install until a run was due.
func TestRulesAddToTheChart(t *testing.T) {
	app, h := homelab.NewApp(nil)
	chartMetrics := map[string]string{}
	for _, o := range testenv.RenderRelease(t, h.Monitoring.Release) {
		if o.GetKind() != "PrometheusRule" {
			continue
		}
		groups, _, _ := unstructured.NestedSlice(o.Object, "spec", "groups")
		for _, g := range groups {
			rules, _ := g.(map[string]any)["rules"].([]any)
			for _, r := range rules {
				rm := r.(map[string]any)
				alert, _ := rm["alert"].(string)
				expr, _ := rm["expr"].(string)
				for _, m := range metricNames(expr) {
					if alert != "" {
						chartMetrics[m] = alert
					}
				}
			}
		}
	}
	if len(chartMetrics) < 50 {
		t.Fatalf("found only %d metrics in the chart's alerts", len(chartMetrics))
	}
	for _, o := range app.Tree().Objects() {
		if o.Identity().Kind != "PrometheusRule" {
			continue
		}
		m, _ := o.Manifest()
		groups, _, _ := unstructured.NestedSlice(m, "spec", "groups")
		for _, g := range groups {
			rules, _ := g.(map[string]any)["rules"].([]any)
			for _, r := range rules {
				rm := r.(map[string]any)
				alert, expr := rm["alert"].(string), rm["expr"].(string)
				for _, metric := range metricNames(expr) {
					if other, dup := chartMetrics[metric]; dup {
						t.Errorf("%s watches %s, which the chart's %s already alerts on", alert, metric, other)
					}
				}
				if alert == "EtcdSnapshotMissing" {
					if strings.Contains(expr, "absent(kube_cronjob_status_last_successful_time") || !strings.Contains(expr, "time() - max(kube_cronjob_created") {
						t.Errorf("EtcdSnapshotMissing fires before the first snapshot was due: %s", expr)
					}
				}
			}
		}
	}
}

// routeOf walks an Alertmanager route tree the way Alertmanager does (the
// first child whose matchers all match takes the alert, else the node's
// receiver) and returns the receiver for labels.
func routeOf(t *testing.T, r monitoringv1alpha1.Route, labels map[string]string) string {
	t.Helper()
	for _, raw := range r.Routes {
		var child monitoringv1alpha1.Route
		require.NoError(t, json.Unmarshal(raw.Raw, &child))
		match := true
		for _, m := range child.Matchers {
			switch m.MatchType {
			case monitoringv1alpha1.MatchEqual, "":
				match = match && labels[m.Name] == m.Value
			case monitoringv1alpha1.MatchNotEqual:
				match = match && labels[m.Name] != m.Value
			default:
				t.Fatalf("matcher type %q is not simulated", m.MatchType)
			}
		}
		if match {
			if child.Receiver == "" {
				child.Receiver = r.Receiver
			}
			return routeOf(t, child, labels)
		}
	}
	return r.Receiver
}

// TestAlertsReachSomeone routes alerts through the synthesized
// Alertmanager configuration, and checks that the chart's Alertmanager
// uses it and may reach the receiver through the network policies.
func TestAlertsReachSomeone(t *testing.T) {
	app, h := homelab.NewApp(nil)
	cfg := h.Alerting.Config
	receivers := map[string]monitoringv1alpha1.Receiver{}
	for _, r := range cfg.Spec.Receivers {
		receivers[r.Name] = r
	}
	critical := routeOf(t, *cfg.Spec.Route, map[string]string{"alertname": "KubeNodeNotReady", "severity": "critical", "namespace": "kube-system"})
	r, ok := receivers[critical]
	if !ok || len(r.TelegramConfigs) != 1 {
		t.Fatalf("a critical alert goes to %q (%+v), want the Telegram receiver", critical, r)
	}
	token := r.TelegramConfigs[0].BotToken
	declared := false
	for _, d := range core.Secrets.Of(app.Tree()).All() {
		declared = declared || d.Namespace == cfg.Namespace && d.Name == token.Name && slices.Contains(d.Keys, token.Key)
	}
	if !declared {
		t.Errorf("the bot token %s/%s key %s is declared nowhere", cfg.Namespace, token.Name, token.Key)
	}
	if got := routeOf(t, *cfg.Spec.Route, map[string]string{"alertname": "Watchdog", "severity": "none"}); got != "null" || len(receivers[got].TelegramConfigs) != 0 {
		t.Errorf("Watchdog goes to %q, want the null receiver", got)
	}

	var am *unstructured.Unstructured
	for _, o := range testenv.RenderRelease(t, h.Monitoring.Release) {
		if o.GetKind() == "Alertmanager" {
			am = o
		}
	}
	if am == nil {
		t.Fatal("the chart renders no Alertmanager")
	}
	name, _, _ := unstructured.NestedString(am.Object, "spec", "alertmanagerConfiguration", "name")
	if name != cfg.Name || am.GetNamespace() != cfg.Namespace {
		t.Errorf("the chart's Alertmanager %s/%s uses configuration %q, want %s/%s", am.GetNamespace(), am.GetName(), name, cfg.Namespace, cfg.Name)
	}

	// With the monitoring namespace isolated, Alertmanager must still reach
	// Telegram's API over HTTPS.
	egress443 := false
	for _, o := range app.Tree().Objects() {
		if id := o.Identity(); id.Kind != "NetworkPolicy" || id.Namespace != cfg.Namespace {
			continue
		}
		m, _ := o.Manifest()
		var np networkingv1.NetworkPolicy
		decodeInto(t, &unstructured.Unstructured{Object: m}, &np)
		for _, e := range np.Spec.Egress {
			for _, to := range e.To {
				if to.IPBlock == nil || to.IPBlock.CIDR != "0.0.0.0/0" {
					continue
				}
				for _, p := range e.Ports {
					egress443 = egress443 || p.Port != nil && p.Port.IntValue() == 443
				}
			}
		}
	}
	if !egress443 {
		t.Error("the monitoring namespace's policies block Alertmanager's HTTPS egress to its receiver")
	}
}
