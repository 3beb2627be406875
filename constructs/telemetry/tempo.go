package telemetry

import (
	"cmp"
	"fmt"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/storage"
)

// TempoChart is the pinned tempo chart (Tempo 2.10.8, monolithic), from
// the Grafana community's repository.
// renovate: datasource=helm
var TempoChart = flux.Chart{Repository: "https://grafana-community.github.io/helm-charts", Name: "tempo", Version: "2.2.4", RepositoryName: "grafana-community"}

// TempoProps configure Tempo.
type TempoProps struct {
	// Namespace of Tempo. Default: "tempo".
	Namespace string
	// Volume holds the traces and the write-ahead log. Required; a
	// Volume without a class gets the platform's default class.
	Volume storage.Volume
	// Retention is how long traces are kept ("7d"). Default: "7d".
	Retention string
	// DailyVolume is what a day of traces takes on the volume ("200Mi").
	// Default: "200Mi".
	DailyVolume string
}

// Tempo is Tempo installed by its chart as one pod (monolithic), on a
// volume, receiving OTLP.
type Tempo struct {
	constructs.Construct
	info *core.Info

	// Release is the HelmRelease; Namespace after defaults.
	Release   *flux.HelmRelease
	Namespace string
	// Service is Tempo's Service: its query API on HTTPPort (Grafana's
	// datasource), OTLP over gRPC on OTLPPort (the collector's exporter).
	Service            string
	HTTPPort, OTLPPort int32
}

// URL is Tempo's query API inside the cluster.
func (t *Tempo) URL() string {
	return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d", t.Service, t.Namespace, t.HTTPPort)
}

// OTLPEndpoint is Tempo's OTLP gRPC host:port inside the cluster.
func (t *Tempo) OTLPEndpoint() string {
	return fmt.Sprintf("%s.%s.svc.cluster.local:%d", t.Service, t.Namespace, t.OTLPPort)
}

// tempoPods are Tempo's pods (the chart's selector).
func tempoPods() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "tempo", "app.kubernetes.io/instance": "tempo"}
}

type tempoValues struct {
	Tempo struct {
		Resources         corev1.ResourceRequirements `json:"resources"`
		Retention         string                      `json:"retention"`
		ReportingEnabled  bool                        `json:"reportingEnabled"`
		MemBallastSizeMbs int                         `json:"memBallastSizeMbs"`
		SecurityContext   corev1.SecurityContext      `json:"securityContext"`
		Receivers         map[string]any              `json:"receivers"`
	} `json:"tempo"`
	SecurityContext corev1.PodSecurityContext `json:"securityContext"`
	Persistence     struct {
		Enabled          bool   `json:"enabled"`
		Size             string `json:"size,omitempty"`
		StorageClassName string `json:"storageClassName,omitempty"`
	} `json:"persistence"`
}

// NewTempo adds Tempo below scope; repo is its chart repository.
func NewTempo(scope constructs.Construct, id string, repo *flux.HelmRepository, props *TempoProps) *Tempo {
	p := *cmp.Or(props, &TempoProps{})
	tp := &Tempo{Namespace: cmp.Or(p.Namespace, "tempo"), Service: "tempo", HTTPPort: 3200, OTLPPort: 4317}
	tp.info = core.Init(tp, scope, id)
	retention := cmp.Or(p.Retention, "7d")
	daily := cmp.Or(p.DailyVolume, "200Mi")

	var v tempoValues
	v.Tempo.Resources = kube.Requirements("50m", "192Mi", "1Gi")
	// Tempo's block_retention is a Go duration: days written in hours.
	if d, err := model.ParseDuration(retention); err == nil {
		v.Tempo.Retention = time.Duration(d).String()
	}
	v.Tempo.ReportingEnabled = false
	// The ballast (a heap reservation older Go needed) would count
	// against the limit: none.
	v.Tempo.MemBallastSizeMbs = 0
	// OTLP over gRPC (the collector's exporter). The chart's templates
	// need its Jaeger receivers' values, so those stay in the
	// configuration; no policy admits anything to their ports.
	v.Tempo.Receivers = map[string]any{"otlp": map[string]any{"protocols": map[string]any{
		"grpc": map[string]any{"endpoint": fmt.Sprintf("0.0.0.0:%d", tp.OTLPPort)},
		"http": nil, // null deletes the chart's default (Helm's coalescing)
	}}}
	// Restricted Pod Security: the chart sets the user only.
	v.Tempo.SecurityContext = corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	v.SecurityContext = corev1.PodSecurityContext{RunAsUser: ptr.To[int64](10001), RunAsGroup: ptr.To[int64](10001), FSGroup: ptr.To[int64](10001), RunAsNonRoot: ptr.To(true),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	v.Persistence.Enabled = true
	v.Persistence.Size, v.Persistence.StorageClassName = storeVolume(tp.info, "tempo", store{props: "TempoProps", what: "traces", name: "Tempo", retention: retention, daily: daily}, p.Volume)
	tp.Release = flux.NewHelmRelease(tp, "release", &flux.HelmReleaseProps{
		Name: "tempo", Namespace: tp.Namespace, Repository: repo, Chart: TempoChart.Name, Version: TempoChart.Version, Values: v,
	})
	t := tp.info.Tree()
	core.Workloads.Of(t).Add(kube.Workload(tp.info.Path(), "tempo", 1, false, v.Tempo.Resources))
	return tp
}

// Info returns the construct's place in the tree.
func (t *Tempo) Info() *core.Info { return t.info }

// ToString overrides the jsii method; it returns the construct path.
func (t *Tempo) ToString() *string { return core.PathString(t.info) }
