package telemetry

import (
	"cmp"
	"fmt"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/security"
)

// AlloyChart is the pinned alloy chart (Grafana Alloy v1.18.1).
// renovate: datasource=helm
var AlloyChart = flux.Chart{Repository: "https://grafana.github.io/helm-charts", Name: "alloy", Version: "1.11.1", RepositoryName: "grafana"}

// PodLogDir is where the kubelet writes the pods' logs on every node;
// the collector mounts /var/log read-only (the chart's mounts.varlog).
const PodLogDir = "/var/log/pods"

// CollectorProps configure the collector.
type CollectorProps struct {
	// Namespace of the collector. Default: "alloy".
	Namespace string
	// NodeLogPort is the port on every node's address where the
	// collector receives Talos' service and kernel logs (a hostPort):
	// the nodes are configured to send there. Default: 6051; it needs
	// Loki.
	NodeLogPort uint16
	// OTLPGRPCPort and OTLPHTTPPort receive OTLP traces from the pods
	// (the Service "alloy"). Default: 4317 and 4318; they need Tempo.
	OTLPGRPCPort, OTLPHTTPPort int32
	// Metrics serves the collector's metrics for the monitoring stack;
	// the part sets it when the platform has a scraper.
	Metrics bool
}

// Collector is Grafana Alloy installed by its chart as a DaemonSet: on
// every node it reads the pods' log files and the cluster's events,
// receives the node's Talos logs and OTLP traces, and sends logs to Loki
// and traces to Tempo.
type Collector struct {
	constructs.Construct
	info *core.Info

	// Release is the HelmRelease; Namespace after defaults.
	Release   *flux.HelmRelease
	Namespace string
	// Service is the collector's Service: its HTTP server (metrics, UI)
	// on HTTPPort, OTLP on the OTLP ports.
	Service                              string
	HTTPPort, OTLPGRPCPort, OTLPHTTPPort int32
	// NodeLogPort is the hostPort Talos sends to; 0 without Loki.
	NodeLogPort uint16
	// Config is the Alloy configuration the chart runs.
	Config []byte

	loki  *Loki
	tempo *Tempo
}

// OTLPEndpoint is the OTLP/HTTP URL pods send traces to (the standard
// OTEL_EXPORTER_OTLP_ENDPOINT); empty without Tempo.
func (c *Collector) OTLPEndpoint() string {
	if c.tempo == nil {
		return ""
	}
	return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d", c.Service, c.Namespace, c.OTLPHTTPPort)
}

// OTLPPeer are the collector's pods on its OTLP/HTTP port, which an
// app's egress must admit.
func (c *Collector) OTLPPeer() security.Peer {
	return security.Pods(c.Namespace, collectorPods()).On(security.TCP(c.OTLPHTTPPort))
}

// collectorPods are the collector's pods (the chart's selector).
func collectorPods() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "alloy", "app.kubernetes.io/instance": "alloy"}
}

type alloyPort struct {
	Name       string          `json:"name"`
	Port       int32           `json:"port"`
	TargetPort int32           `json:"targetPort"`
	HostPort   int32           `json:"hostPort,omitempty"`
	Protocol   corev1.Protocol `json:"protocol"`
}

type alloyValues struct {
	Alloy struct {
		ConfigMap struct {
			Content string `json:"content"`
		} `json:"configMap"`
		StabilityLevel  string      `json:"stabilityLevel"`
		EnableReporting bool        `json:"enableReporting"`
		ExtraPorts      []alloyPort `json:"extraPorts"`
		Mounts          struct {
			Varlog bool `json:"varlog"`
		} `json:"mounts"`
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"alloy"`
	ConfigReloader struct {
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"configReloader"`
	Controller struct {
		Type        string              `json:"type"`
		Tolerations []corev1.Toleration `json:"tolerations"`
	} `json:"controller"`
	ServiceMonitor struct {
		Enabled bool `json:"enabled"`
	} `json:"serviceMonitor"`
	CRDs struct {
		Create bool `json:"create"`
	} `json:"crds"`
}

// NewCollector adds the collector below scope, sending to loki and tempo
// (either may be nil); repo is its chart repository.
func NewCollector(scope constructs.Construct, id string, repo *flux.HelmRepository, props *CollectorProps, loki *Loki, tempo *Tempo) *Collector {
	p := *cmp.Or(props, &CollectorProps{})
	c := &Collector{Namespace: cmp.Or(p.Namespace, "alloy"), Service: "alloy", HTTPPort: 12345,
		OTLPGRPCPort: cmp.Or(p.OTLPGRPCPort, 4317), OTLPHTTPPort: cmp.Or(p.OTLPHTTPPort, 4318), loki: loki, tempo: tempo}
	c.info = core.Init(c, scope, id)
	if loki != nil {
		c.NodeLogPort = cmp.Or(p.NodeLogPort, 6051)
	}
	c.Config = collectorConfig(c)

	var v alloyValues
	v.Alloy.ConfigMap.Content = string(c.Config)
	v.Alloy.EnableReporting = false
	v.Alloy.StabilityLevel = "generally-available"
	v.Alloy.Resources = kube.Requirements("50m", "128Mi", "512Mi")
	v.ConfigReloader.Resources = kube.Requirements("10m", "24Mi", "48Mi")
	v.Controller.Type = "daemonset"
	// On every node, the control planes too: their logs matter most.
	v.Controller.Tolerations = []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	// The chart's PodLogs CRD is for its own operator mode: not used.
	v.CRDs.Create = false
	if loki != nil {
		v.Alloy.Mounts.Varlog = true
		if c.NodeLogPort != 0 {
			// The raw line format of loki.source.syslog is available
			// only at the experimental stability level (Alloy v1.18.1
			// internal/component/loki/source/syslog/syslog.go:150).
			v.Alloy.StabilityLevel = "experimental"
			v.Alloy.ExtraPorts = append(v.Alloy.ExtraPorts, alloyPort{Name: "talos-logs", Port: int32(c.NodeLogPort), TargetPort: int32(c.NodeLogPort), HostPort: int32(c.NodeLogPort), Protocol: corev1.ProtocolTCP})
		}
	}
	if tempo != nil {
		v.Alloy.ExtraPorts = append(v.Alloy.ExtraPorts,
			alloyPort{Name: "otlp-grpc", Port: c.OTLPGRPCPort, TargetPort: c.OTLPGRPCPort, Protocol: corev1.ProtocolTCP},
			alloyPort{Name: "otlp-http", Port: c.OTLPHTTPPort, TargetPort: c.OTLPHTTPPort, Protocol: corev1.ProtocolTCP})
	}
	v.ServiceMonitor.Enabled = false
	c.Release = flux.NewHelmRelease(c, "release", &flux.HelmReleaseProps{
		Name: "alloy", Namespace: c.Namespace, Repository: repo, Chart: AlloyChart.Name, Version: AlloyChart.Version, Values: v,
	})
	t := c.info.Tree()
	w := core.Workloads.Of(t)
	w.Add(kube.Workload(c.info.Path(), "alloy", 1, true, v.Alloy.Resources))
	w.Add(kube.Workload(c.info.Path(), "alloy config-reloader", 1, true, v.ConfigReloader.Resources))
	if c.NodeLogPort != 0 {
		core.NodeNeeds.Of(t).Add(core.NodeNeed{Source: c.info.Path(), Role: core.AllNodes, LogPort: c.NodeLogPort})
	}
	return c
}

// Info returns the construct's place in the tree.
func (c *Collector) Info() *core.Info { return c.info }

// ToString overrides the jsii method; it returns the construct path.
func (c *Collector) ToString() *string { return core.PathString(c.info) }
