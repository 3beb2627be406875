package telemetry

import (
	"cmp"
	"fmt"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/storage"
)

// LokiChart is the pinned loki chart (Loki 3.7.6), from the Grafana
// community's repository.
// renovate: datasource=helm
var LokiChart = flux.Chart{Repository: "https://grafana-community.github.io/helm-charts", Name: "loki", Version: "18.11.0", RepositoryName: "grafana-community"}

// LokiProps configure Loki.
type LokiProps struct {
	// Namespace of Loki. Default: "loki".
	Namespace string
	// Volume holds the logs. Required; a Volume without a class gets the
	// platform's default class. Size bounds what Retention can keep.
	Volume storage.Volume
	// Retention is how long logs are kept (a Prometheus duration: "14d").
	// Default: "14d".
	Retention string
	// DailyVolume is what a day of logs takes on the volume, compressed
	// ("300Mi", a homelab of a few dozen pods): the capacity rule asks
	// the volume to hold Retention of it. Default: "300Mi".
	DailyVolume string
	// Alertmanager is the URL Loki's ruler sends alerts to; the part sets
	// the monitoring stack's.
	Alertmanager string
	// Rules are alerting rules on the logs; the part adds the homelab's.
	Rules []LogRule
}

// Loki is Loki installed by its chart in single-binary mode, on a
// volume, with its ruler.
type Loki struct {
	constructs.Construct
	info *core.Info

	// Release is the HelmRelease; Namespace after defaults.
	Release   *flux.HelmRelease
	Namespace string
	// Service is the Service of Loki's API (push, query, rules) on Port.
	Service string
	Port    int32
}

// URL is Loki's base URL inside the cluster.
func (l *Loki) URL() string {
	return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d", l.Service, l.Namespace, l.Port)
}

// PushURL is where collectors push logs.
func (l *Loki) PushURL() string { return l.URL() + "/loki/api/v1/push" }

// lokiPods are Loki's pods (the chart's single-binary selector).
func lokiPods() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "loki", "app.kubernetes.io/instance": "loki", "app.kubernetes.io/component": "single-binary"}
}

// RulesDir is where the chart's rules sidecar writes the rule files Loki's
// ruler reads, per tenant ("fake" without multi-tenancy).
const RulesDir = "/rules"

// RuleLabel marks the ConfigMaps the rules sidecar loads.
const RuleLabel = "loki_rule"

type lokiValues struct {
	DeploymentMode string `json:"deploymentMode"`
	Loki           struct {
		AuthEnabled  bool `json:"auth_enabled"`
		CommonConfig struct {
			ReplicationFactor    int    `json:"replication_factor"`
			CompactorGRPCAddress string `json:"compactor_grpc_address"`
			Ring                 struct {
				KVStore struct {
					Store string `json:"store"`
				} `json:"kvstore"`
			} `json:"ring"`
		} `json:"commonConfig"`
		MemberlistConfig map[string]any `json:"memberlistConfig"`
		Storage          struct {
			Type string `json:"type"`
		} `json:"storage"`
		SchemaConfig struct {
			Configs []lokiSchema `json:"configs"`
		} `json:"schemaConfig"`
		LimitsConfig struct {
			RetentionPeriod string `json:"retention_period"`
		} `json:"limits_config"`
		Compactor struct {
			RetentionEnabled   bool   `json:"retention_enabled"`
			DeleteRequestStore string `json:"delete_request_store"`
		} `json:"compactor"`
		RulerConfig struct {
			AlertmanagerURL string `json:"alertmanager_url,omitempty"`
			EnableAPI       bool   `json:"enable_api"`
			Storage         struct {
				Type  string `json:"type"`
				Local struct {
					Directory string `json:"directory"`
				} `json:"local"`
			} `json:"storage"`
		} `json:"rulerConfig"`
	} `json:"loki"`
	SingleBinary struct {
		Replicas    int `json:"replicas"`
		Persistence struct {
			Size         string `json:"size"`
			StorageClass string `json:"storageClass,omitempty"`
		} `json:"persistence"`
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"singleBinary"`
	Sidecar struct {
		Resources corev1.ResourceRequirements `json:"resources"`
		Rules     struct {
			Label            string `json:"label"`
			Folder           string `json:"folder"`
			FolderAnnotation string `json:"folderAnnotation"`
		} `json:"rules"`
	} `json:"sidecar"`
	Ruler        enabled  `json:"ruler"`
	Gateway      enabled  `json:"gateway"`
	ChunksCache  enabled  `json:"chunksCache"`
	ResultsCache enabled  `json:"resultsCache"`
	LokiCanary   enabled  `json:"lokiCanary"`
	Test         enabled  `json:"test"`
	Minio        enabled  `json:"minio"`
	Backend      replicas `json:"backend"`
	Read         replicas `json:"read"`
	Write        replicas `json:"write"`
}

type enabled struct {
	Enabled bool `json:"enabled"`
}

type replicas struct {
	Replicas int `json:"replicas"`
}

type lokiSchema struct {
	From        string `json:"from"`
	Store       string `json:"store"`
	ObjectStore string `json:"object_store"`
	Schema      string `json:"schema"`
	Index       struct {
		Prefix string `json:"prefix"`
		Period string `json:"period"`
	} `json:"index"`
}

// FolderAnnotation is the annotation of a rules ConfigMap that names the
// directory the sidecar writes it to (the tenant's, below RulesDir).
const FolderAnnotation = "k8s-sidecar-target-directory"

// tenant is Loki's tenant without multi-tenancy (auth_enabled false).
const tenant = "fake"

// NewLoki adds Loki below scope; repo is its chart repository.
func NewLoki(scope constructs.Construct, id string, repo *flux.HelmRepository, props *LokiProps) *Loki {
	p := *cmp.Or(props, &LokiProps{})
	l := &Loki{Namespace: cmp.Or(p.Namespace, "loki"), Service: "loki", Port: 3100}
	l.info = core.Init(l, scope, id)
	retention := cmp.Or(p.Retention, "14d")
	daily := cmp.Or(p.DailyVolume, "300Mi")

	var v lokiValues
	v.DeploymentMode = "SingleBinary"
	v.Loki.AuthEnabled = false
	v.Loki.CommonConfig.ReplicationFactor = 1
	// One process: its ring in memory, the compactor's client on
	// loopback (not through the Service back to itself), no memberlist
	// peers to join.
	v.Loki.CommonConfig.Ring.KVStore.Store = "inmemory"
	v.Loki.CommonConfig.CompactorGRPCAddress = "127.0.0.1:9095"
	v.Loki.MemberlistConfig = map[string]any{"abort_if_cluster_join_fails": false}
	v.Loki.Storage.Type = "filesystem"
	schema := lokiSchema{From: "2026-01-01", Store: "tsdb", ObjectStore: "filesystem", Schema: "v13"}
	schema.Index.Prefix, schema.Index.Period = "index_", "24h"
	v.Loki.SchemaConfig.Configs = []lokiSchema{schema}
	// Retention is the compactor's: it deletes chunks older than the
	// period (the table manager's retention is for the old stores).
	v.Loki.LimitsConfig.RetentionPeriod = retention
	v.Loki.Compactor.RetentionEnabled, v.Loki.Compactor.DeleteRequestStore = true, "filesystem"
	rc := &v.Loki.RulerConfig
	rc.AlertmanagerURL, rc.EnableAPI = p.Alertmanager, true
	rc.Storage.Type, rc.Storage.Local.Directory = "local", RulesDir
	v.Ruler.Enabled = true
	v.Sidecar.Rules.Label, v.Sidecar.Rules.Folder, v.Sidecar.Rules.FolderAnnotation = RuleLabel, RulesDir, FolderAnnotation
	v.Sidecar.Resources = kube.Requirements("10m", "48Mi", "96Mi")
	sb := &v.SingleBinary
	sb.Replicas = 1
	sb.Resources = kube.Requirements("100m", "256Mi", "1Gi")
	sb.Persistence.Size, sb.Persistence.StorageClass = storeVolume(l.info, "loki", store{props: "LokiProps", what: "logs", name: "Loki", retention: retention, daily: daily}, p.Volume)
	// The scalable targets, caches, gateway, canary and object store are
	// for bigger installs: one pod here.
	v.Backend.Replicas, v.Read.Replicas, v.Write.Replicas = 0, 0, 0

	l.Release = flux.NewHelmRelease(l, "release", &flux.HelmReleaseProps{
		Name: "loki", Namespace: l.Namespace, Repository: repo, Chart: LokiChart.Name, Version: LokiChart.Version, Values: v,
	})
	if len(p.Rules) > 0 {
		newRules(l, "rules", l.Namespace, p.Rules)
	}
	t := l.info.Tree()
	w := core.Workloads.Of(t)
	w.Add(kube.Workload(l.info.Path(), "loki", 1, false, sb.Resources))
	w.Add(kube.Workload(l.info.Path(), "loki-sc-rules", 1, false, v.Sidecar.Resources))
	return l
}

// Info returns the construct's place in the tree.
func (l *Loki) Info() *core.Info { return l.info }

// ToString overrides the jsii method; it returns the construct path.
func (l *Loki) ToString() *string { return core.PathString(l.info) }
