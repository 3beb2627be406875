package telemetry_test

import (
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/constructs/telemetry"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func convert[T any](t *testing.T, o *unstructured.Unstructured) *T {
	t.Helper()
	var v T
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &v))
	return &v
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// service resolves url (http://name.ns.svc...:port or name.ns.svc...:port)
// to the rendered Service's container port behind it, or fails.
func service(t *testing.T, objs []*unstructured.Unstructured, addr string, pods []corev1.PodTemplateSpec) int32 {
	t.Helper()
	hostport := addr
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		hostport = u.Host
	}
	host, p, err := net.SplitHostPort(hostport)
	require.NoError(t, err)
	port, err := strconv.Atoi(p)
	require.NoError(t, err)
	name := strings.Split(host, ".")[0]
	o := find(objs, "Service", name)
	require.NotNil(t, o, "%s: the chart renders no Service %s", addr, name)
	svc := convert[corev1.Service](t, o)
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) != port {
			continue
		}
		for _, pod := range pods {
			sel := true
			for k, v := range svc.Spec.Selector {
				sel = sel && pod.Labels[k] == v
			}
			for _, c := range pod.Spec.Containers {
				for _, cp := range c.Ports {
					if sel && (cp.Name == sp.TargetPort.String() || strconv.Itoa(int(cp.ContainerPort)) == sp.TargetPort.String()) {
						return cp.ContainerPort
					}
				}
			}
		}
		t.Fatalf("%s: Service %s port %d targets %s, which no pod it selects has", addr, name, port, sp.TargetPort.String())
	}
	t.Fatalf("%s: Service %s has no port %d", addr, name, port)
	return 0
}

// podsOf are the pod templates of the workloads among objs.
func podsOf(t *testing.T, objs []*unstructured.Unstructured) []corev1.PodTemplateSpec {
	var out []corev1.PodTemplateSpec
	for _, o := range objs {
		switch o.GetKind() {
		case "StatefulSet":
			out = append(out, convert[appsv1.StatefulSet](t, o).Spec.Template)
		case "Deployment":
			out = append(out, convert[appsv1.Deployment](t, o).Spec.Template)
		case "DaemonSet":
			out = append(out, convert[appsv1.DaemonSet](t, o).Spec.Template)
		}
	}
	return out
}

// admitted checks every pod against the namespace's Pod Security level
// with Kubernetes' own pod-security-admission code, and that every
// container requests memory.
func admitted(t *testing.T, level string, pods []corev1.PodTemplateSpec) {
	t.Helper()
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	lv, err := psaapi.ParseLevel(level)
	require.NoError(t, err)
	for _, p := range pods {
		res := policy.AggregateCheckResults(eval.EvaluatePod(psaapi.LevelVersion{Level: lv, Version: psaapi.LatestVersion()}, &p.ObjectMeta, &p.Spec))
		assert.True(t, res.Allowed, "%v: %s", p.Labels, res.ForbiddenDetail())
		for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) {
			assert.False(t, c.Resources.Requests.Memory().IsZero(), "%v container %s requests no memory", p.Labels, c.Name)
		}
	}
}

// TestLokiRendersOneProcessOnItsVolume renders the loki chart with the
// HelmRelease's values and checks what it makes: one StatefulSet (no
// scalable targets, caches, gateway, canary or object store), on a claim
// of the volume's size and class, its Service reaching the port the
// collector pushes to and Grafana queries, the configuration keeping
// Retention and sending the ruler's alerts to the stack's Alertmanager,
// the rules sidecar writing where the ruler reads, and restricted Pod
// Security.
func TestLokiRendersOneProcessOnItsVolume(t *testing.T) {
	_, h := homelab.NewApp(nil)
	l := h.Loki
	objs := testenv.RenderRelease(t, l.Release)
	var workloads []string
	for _, o := range objs {
		switch o.GetKind() {
		case "StatefulSet", "Deployment", "DaemonSet":
			workloads = append(workloads, o.GetKind()+"/"+o.GetName())
		}
	}
	assert.Equal(t, []string{"StatefulSet/loki"}, workloads)
	sts := convert[appsv1.StatefulSet](t, find(objs, "StatefulSet", "loki"))
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	claim := sts.Spec.VolumeClaimTemplates[0].Spec
	assert.Equal(t, "5Gi", claim.Resources.Requests.Storage().String())
	assert.Equal(t, h.Longhorn.Class.Name, *claim.StorageClassName)
	pods := podsOf(t, objs)
	assert.Equal(t, l.Port, service(t, objs, l.PushURL(), pods), "the push URL reaches Loki's API port")

	var cfg struct {
		Common struct {
			CompactorGRPCAddress string `json:"compactor_grpc_address"`
		} `json:"common"`
		LimitsConfig struct {
			RetentionPeriod string `json:"retention_period"`
		} `json:"limits_config"`
		Compactor struct {
			RetentionEnabled bool `json:"retention_enabled"`
		} `json:"compactor"`
		Ruler struct {
			AlertmanagerURL string `json:"alertmanager_url"`
			Storage         struct {
				Local struct {
					Directory string `json:"directory"`
				} `json:"local"`
			} `json:"storage"`
		} `json:"ruler"`
		Memberlist struct {
			JoinMembers []string `json:"join_members"`
		} `json:"memberlist"`
	}
	cm := convert[corev1.ConfigMap](t, find(objs, "ConfigMap", "loki"))
	require.NoError(t, yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &cfg))
	assert.Equal(t, "14d", cfg.LimitsConfig.RetentionPeriod)
	assert.True(t, cfg.Compactor.RetentionEnabled, "the compactor applies the retention")
	assert.Equal(t, h.Monitoring.AlertmanagerURL(), cfg.Ruler.AlertmanagerURL)
	assert.Equal(t, "127.0.0.1:9095", cfg.Common.CompactorGRPCAddress, "the compactor's client stays on loopback")
	assert.Empty(t, cfg.Memberlist.JoinMembers, "one process joins no peers")

	// The sidecar loads ConfigMaps with the rules label into the folder
	// their annotation names, below the ruler's directory.
	var sidecar *corev1.Container
	for i, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == "loki-sc-rules" {
			sidecar = &sts.Spec.Template.Spec.Containers[i]
		}
	}
	require.NotNil(t, sidecar)
	env := map[string]string{}
	for _, e := range sidecar.Env {
		env[e.Name] = e.Value
	}
	assert.Equal(t, telemetry.RuleLabel, env["LABEL"])
	assert.Equal(t, telemetry.FolderAnnotation, env["FOLDER_ANNOTATION"])
	assert.Equal(t, cfg.Ruler.Storage.Local.Directory, env["FOLDER"])
	admitted(t, "restricted", pods)
}

// TestTempoRendersOneProcessOnItsVolume: one StatefulSet on a claim of
// the volume, OTLP over gRPC on the port the collector exports to and
// nothing else received, the query API Grafana uses, the retention in
// the compactor's configuration, restricted Pod Security.
func TestTempoRendersOneProcessOnItsVolume(t *testing.T) {
	_, h := homelab.NewApp(nil)
	tp := h.Tempo
	objs := testenv.RenderRelease(t, tp.Release)
	sts := convert[appsv1.StatefulSet](t, find(objs, "StatefulSet", "tempo"))
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	assert.Equal(t, "2Gi", sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String())
	pods := podsOf(t, objs)
	assert.Equal(t, tp.OTLPPort, service(t, objs, tp.OTLPEndpoint(), pods))
	assert.Equal(t, tp.HTTPPort, service(t, objs, tp.URL(), pods))
	var cfg struct {
		Compactor struct {
			Compaction struct {
				BlockRetention string `json:"block_retention"`
			} `json:"compaction"`
		} `json:"compactor"`
		Distributor struct {
			Receivers map[string]any `json:"receivers"`
		} `json:"distributor"`
	}
	cm := find(objs, "ConfigMap", "tempo")
	require.NotNil(t, cm)
	require.NoError(t, yaml.Unmarshal([]byte(convert[corev1.ConfigMap](t, cm).Data["tempo.yaml"]), &cfg))
	assert.Equal(t, "168h0m0s", cfg.Compactor.Compaction.BlockRetention)
	otlp, _ := cfg.Distributor.Receivers["otlp"].(map[string]any)
	protocols, _ := otlp["protocols"].(map[string]any)
	assert.Equal(t, []string{"grpc"}, slices.Sorted(maps.Keys(protocols)), "OTLP over gRPC only")
	assert.Equal(t, map[string]any{"endpoint": "0.0.0.0:" + strconv.Itoa(int(tp.OTLPPort))}, protocols["grpc"])
	admitted(t, "restricted", pods)
}

// TestCollectorRendersADaemonSet: the collector runs on every node (the
// control planes too), reads the nodes' /var/log, listens on the host
// port the nodes send their logs to, serves OTLP through its Service,
// runs the generated configuration at the stability level it needs, and
// every node's Talos config (machinery's loader reading what the
// deployer applies) sends its services' and kernel's logs to that host
// port on its own address.
func TestCollectorRendersADaemonSet(t *testing.T) {
	_, h := homelab.NewApp(nil)
	c := h.Collector
	objs := testenv.RenderRelease(t, c.Release)
	ds := convert[appsv1.DaemonSet](t, find(objs, "DaemonSet", "alloy"))
	spec := ds.Spec.Template.Spec
	assert.True(t, slices.ContainsFunc(spec.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Key == "node-role.kubernetes.io/control-plane" && tl.Operator == corev1.TolerationOpExists
	}), "runs on the control planes")
	var hostLog bool
	for _, v := range spec.Volumes {
		if v.HostPath != nil && v.HostPath.Path == "/var/log" {
			hostLog = true
		}
	}
	assert.True(t, hostLog, "mounts the nodes' /var/log (the pods' logs are in %s)", telemetry.PodLogDir)
	var hostPorts []int32
	var args []string
	for _, ct := range spec.Containers {
		if ct.Name != "alloy" {
			continue
		}
		args = ct.Args
		for _, p := range ct.Ports {
			if p.HostPort != 0 {
				hostPorts = append(hostPorts, p.HostPort)
			}
		}
	}
	assert.Equal(t, []int32{int32(c.NodeLogPort)}, hostPorts)
	assert.Contains(t, args, "--stability.level=experimental", "the raw syslog format needs it")
	cm := convert[corev1.ConfigMap](t, find(objs, "ConfigMap", "alloy"))
	assert.Equal(t, string(c.Config), cm.Data["config.alloy"])
	pods := podsOf(t, objs)
	u, err := url.Parse(c.OTLPEndpoint())
	require.NoError(t, err)
	assert.Equal(t, c.OTLPHTTPPort, service(t, objs, u.Host, pods))
	admitted(t, "privileged", pods)

	for _, n := range h.Cluster.Nodes() {
		cfg, err := h.Cluster.NodeConfig(n, talos.PlaceholderBundle())
		require.NoError(t, err)
		data, err := cfg.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled))
		require.NoError(t, err)
		loaded, err := configloader.NewFromBytes(data)
		require.NoError(t, err, "machinery loads %s's config", n.Hostname)
		want := "tcp://" + net.JoinHostPort(n.IP.String(), strconv.Itoa(int(c.NodeLogPort))) + "/"
		var dests []string
		for _, d := range loaded.Machine().Logging().Destinations() {
			dests = append(dests, d.Endpoint().String()+" "+d.Format())
		}
		assert.Equal(t, []string{want + " json_lines"}, dests, "%s sends its services' logs to its own address", n.Hostname)
		var kmsg []string
		for _, k := range loaded.Runtime().KmsgLogURLs() {
			kmsg = append(kmsg, k.String())
		}
		assert.Equal(t, []string{want}, kmsg, "%s sends its kernel log there", n.Hostname)
	}
}

// TestLogRules: the rules the ruler loads select streams the collector
// labels so, and their patterns match the lines Talos and the kernel
// write (the formats cited on HomelabLogRules) and not the healthy ones.
func TestLogRules(t *testing.T) {
	rules := map[string]telemetry.LogRule{}
	for _, r := range telemetry.HomelabLogRules() {
		rules[r.Alert] = r
	}
	for _, c := range []struct {
		alert, line string
		fires       bool
	}{
		// service_runner.go:92: "service[%s](%s): %s".
		{"TalosServiceFailed", "service[etcd](Failed): Failed to run service: exit status 1", true},
		{"TalosServiceFailed", "service[etcd](Running): Health check successful", false},
		{"KernelOOMKill", "Out of memory: Killed process 4242 (loki) total-vm:2097152kB", true},
		{"KernelOOMKill", "Memory cgroup out of memory: Killed process 4242 (loki)", true},
		{"KernelOOMKill", "oom_reaper: reaped process 4242 (loki)", false},
		{"FluxReconcileErrors", `{"level":"error","ts":"2026-12-04T10:00:00Z","msg":"Reconciler error"}`, true},
		{"FluxReconcileErrors", `{"level":"info","msg":"server-side apply completed"}`, false},
	} {
		r, ok := rules[c.alert]
		require.True(t, ok, c.alert)
		assert.Equal(t, c.fires, regexp.MustCompile(r.Match).MatchString(c.line), "%s on %q", c.alert, c.line)
	}
	// The expression holds the selector, the pattern as a raw string and
	// the window.
	assert.Equal(t, "sum by (node) (count_over_time({job=\"talos\", service=\"machined\"} |~ `service\\[[^\\]]+\\]\\(Failed\\)` [10m])) > 0",
		rules["TalosServiceFailed"].Expr())
}

// TestDatasourcesCorrelate renders the monitoring stack's chart: Grafana
// is provisioned with Loki and Tempo at their Services, a log line's
// trace ID opens Tempo, a trace opens its logs in Loki and its metrics in
// Prometheus.
func TestDatasourcesCorrelate(t *testing.T) {
	_, h := homelab.NewApp(nil)
	objs := testenv.RenderRelease(t, h.Monitoring.Release)
	cm := find(objs, "ConfigMap", "kube-prometheus-stack-grafana-datasource")
	require.NotNil(t, cm)
	var ds struct {
		Datasources []struct {
			Name, UID, Type, URL string
			JSONData             map[string]any `json:"jsonData"`
		} `json:"datasources"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(convert[corev1.ConfigMap](t, cm).Data["datasource.yaml"]), &ds))
	byUID := map[string]int{}
	for i, d := range ds.Datasources {
		byUID[d.UID] = i
	}
	for _, uid := range []string{"prometheus", telemetry.LokiDatasourceUID, telemetry.TempoDatasourceUID} {
		require.Contains(t, byUID, uid, "datasource %s", uid)
	}
	loki, tempo := ds.Datasources[byUID["loki"]], ds.Datasources[byUID["tempo"]]
	assert.Equal(t, h.Loki.URL(), loki.URL)
	assert.Equal(t, h.Tempo.URL(), tempo.URL)
	ref := func(v any, path ...string) string {
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return ""
			}
			v = m[p]
		}
		s, _ := v.(string)
		return s
	}
	fields, _ := loki.JSONData["derivedFields"].([]any)
	require.Len(t, fields, 1)
	assert.Equal(t, telemetry.TempoDatasourceUID, ref(fields[0], "datasourceUid"))
	matcher := regexp.MustCompile(ref(fields[0], "matcherRegex"))
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", matcher.FindStringSubmatch(`level=info msg="GET /" trace_id=4bf92f3577b34da6a3ce929d0e0e4736`)[1])
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", matcher.FindStringSubmatch(`{"msg":"GET /","traceID":"4bf92f3577b34da6a3ce929d0e0e4736"}`)[1])
	assert.Equal(t, telemetry.LokiDatasourceUID, ref(tempo.JSONData, "tracesToLogsV2", "datasourceUid"))
	assert.Equal(t, "prometheus", ref(tempo.JSONData, "tracesToMetrics", "datasourceUid"))
	raw, err := json.Marshal(tempo.JSONData)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"filterByTraceID":true`)
}

// TestIngressControllerSendsSpans: the ingress-nginx chart's controller
// ConfigMap turns on its OpenTelemetry module towards the collector's
// OTLP gRPC port.
func TestIngressControllerSendsSpans(t *testing.T) {
	_, h := homelab.NewApp(nil)
	objs := testenv.RenderRelease(t, h.Nginx.Release)
	cm := convert[corev1.ConfigMap](t, find(objs, "ConfigMap", "ingress-nginx-controller"))
	assert.Equal(t, "true", cm.Data["enable-opentelemetry"])
	assert.Equal(t, "alloy.alloy.svc.cluster.local", cm.Data["otlp-collector-host"])
	assert.Equal(t, strconv.Itoa(int(h.Collector.OTLPGRPCPort)), cm.Data["otlp-collector-port"])
	alloy := testenv.RenderRelease(t, h.Collector.Release)
	assert.Equal(t, h.Collector.OTLPGRPCPort, service(t, alloy, net.JoinHostPort(cm.Data["otlp-collector-host"], cm.Data["otlp-collector-port"]), podsOf(t, alloy)))
}

func volume(size string) storage.Volume { return storage.Volume{Size: size} }
