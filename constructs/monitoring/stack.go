package monitoring

import (
	"cmp"
	"encoding/json"
	"github.com/prometheus/common/model"
	"slices"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/constructs/storage"
)

// Dashboard is a grafana.com dashboard pinned by id and revision.
type Dashboard = platform.Dashboard

// DefaultDashboards returns the memo's dashboards of the cluster itself
// that grafana.com provides (the parts bring their own: Longhorn's, see
// platform.Dashboarded); the Flux one is built in Go (FluxDashboard).
func DefaultDashboards() []Dashboard {
	return []Dashboard{
		{Name: "talos-nodes", GnetID: 1860, Revision: 37},         // Node Exporter Full: the Talos nodes
		{Name: "kubernetes-cluster", GnetID: 15757, Revision: 37}, // Kubernetes / Views / Global
	}
}

// StackProps configures Stack.
type StackProps struct {
	// Namespace of the stack. Default: "monitoring".
	Namespace string
	// Retention of Prometheus data. Default: "7d".
	Retention string
	// Volume holds Prometheus' data. Required (the memo: on Longhorn),
	// on a block class: Prometheus does not support NFS.
	Volume storage.Volume
	// Ephemeral keeps Prometheus' data in an emptyDir on the node instead
	// of a volume (Volume.Size bounds it; Volume.Class is not used): for a
	// homelab without block storage, such as one whose only storage is
	// NFS. The metrics are lost whenever the pod is deleted or moves to
	// another node (a drain, an upgrade that replaces the pod, the node's
	// loss); alerts keep working.
	Ephemeral bool
	// GrafanaAdminSecret holds keys "admin-user" and "admin-password".
	// Default: "grafana-admin".
	GrafanaAdminSecret string
	// Dashboards from grafana.com. Default: DefaultDashboards().
	Dashboards []Dashboard
}

// Stack is kube-prometheus-stack installed by a HelmRelease. It asks the
// Talos nodes to serve control-plane metrics on their addresses.
type Stack struct {
	constructs.Construct
	info *core.Info

	// Release is the HelmRelease; Namespace and AdminSecret (Grafana's
	// admin credentials) after defaults.
	Release                *flux.HelmRelease
	Namespace, AdminSecret string

	values       *stackValues
	datasources  []Datasource
	alertSenders []security.Peer
}

// AcceptAlertsFrom admits from (another part's pods: Loki's ruler) to
// the stack's Alertmanager (the stack's Isolate).
func (s *Stack) AcceptAlertsFrom(from security.Peer) {
	s.alertSenders = append(s.alertSenders, from)
}

// AlertSenders are the peers AcceptAlertsFrom admitted.
func (s *Stack) AlertSenders() []security.Peer { return slices.Clone(s.alertSenders) }

// PrometheusDatasourceUID is the uid of the stack's Prometheus
// datasource in Grafana (the chart's grafana.sidecar.datasources.uid).
const PrometheusDatasourceUID = "prometheus"

// Datasource is a Grafana datasource another part brings (Loki, Tempo).
type Datasource struct {
	// Name shown in Grafana; UID the stable id other datasources and
	// dashboards refer to it by; Type the plugin ("loki", "tempo").
	Name, UID, Type string
	// URL Grafana's server queries (access "proxy").
	URL string
	// JSONData are the plugin's settings (correlations, say).
	JSONData map[string]any
	// To are the pods and port behind URL, which Grafana's egress
	// admits.
	To security.Peer
}

type grafanaDatasource struct {
	Name     string         `json:"name"`
	UID      string         `json:"uid"`
	Type     string         `json:"type"`
	URL      string         `json:"url"`
	Access   string         `json:"access"`
	JSONData map[string]any `json:"jsonData,omitempty"`
}

// AddDatasource provisions d in the stack's Grafana and admits Grafana to
// it (the stack's Isolate).
func (s *Stack) AddDatasource(d Datasource) {
	s.datasources = append(s.datasources, d)
	s.values.Grafana.AdditionalDataSources = append(s.values.Grafana.AdditionalDataSources,
		grafanaDatasource{Name: d.Name, UID: d.UID, Type: d.Type, URL: d.URL, Access: "proxy", JSONData: d.JSONData})
}

// Datasources are the datasources other parts added.
func (s *Stack) Datasources() []Datasource { return slices.Clone(s.datasources) }

// AlertmanagerURL is the stack's Alertmanager inside the cluster (the
// Service prometheus-operator makes for every Alertmanager,
// "alertmanager-operated", port "web").
func (s *Stack) AlertmanagerURL() string {
	return "http://alertmanager-operated." + s.Namespace + ".svc.cluster.local:9093"
}

// AlertmanagerPods are the stack's Alertmanager pods, on the port other
// senders of alerts reach.
func (s *Stack) AlertmanagerPods() security.Peer {
	return security.Pods(s.Namespace, map[string]string{"app.kubernetes.io/name": "alertmanager"}).On(security.TCP(9093))
}

// stackValues are the chart values this construct sets.
type stackValues struct {
	PrometheusOperator struct {
		Resources         corev1.ResourceRequirements `json:"resources"`
		AdmissionWebhooks struct {
			Patch struct {
				Resources corev1.ResourceRequirements `json:"resources"`
			} `json:"patch"`
		} `json:"admissionWebhooks"`
		// The config-reloader sidecar the operator adds to the
		// Prometheus and Alertmanager pods (the chart passes it as the
		// operator's --config-reloader-* flags; unset, they are 0).
		PrometheusConfigReloader struct {
			Resources corev1.ResourceRequirements `json:"resources"`
		} `json:"prometheusConfigReloader"`
	} `json:"prometheusOperator"`
	Prometheus struct {
		PrometheusSpec struct {
			Retention                               string                      `json:"retention"`
			Resources                               corev1.ResourceRequirements `json:"resources"`
			ServiceMonitorSelectorNilUsesHelmValues bool                        `json:"serviceMonitorSelectorNilUsesHelmValues"`
			PodMonitorSelectorNilUsesHelmValues     bool                        `json:"podMonitorSelectorNilUsesHelmValues"`
			RuleSelectorNilUsesHelmValues           bool                        `json:"ruleSelectorNilUsesHelmValues"`
			StorageSpec                             struct {
				VolumeClaimTemplate *struct {
					Spec corev1.PersistentVolumeClaimSpec `json:"spec"`
				} `json:"volumeClaimTemplate,omitempty"`
				EmptyDir *corev1.EmptyDirVolumeSource `json:"emptyDir,omitempty"`
			} `json:"storageSpec"`
		} `json:"prometheusSpec"`
	} `json:"prometheus"`
	Alertmanager struct {
		AlertmanagerSpec struct {
			Resources corev1.ResourceRequirements `json:"resources"`
			// AlertmanagerConfiguration names the AlertmanagerConfig that
			// is Alertmanager's whole configuration (see Alerting).
			AlertmanagerConfiguration *struct {
				Name string `json:"name"`
			} `json:"alertmanagerConfiguration,omitempty"`
		} `json:"alertmanagerSpec"`
	} `json:"alertmanager"`
	Grafana struct {
		Admin struct {
			ExistingSecret string `json:"existingSecret"`
			UserKey        string `json:"userKey"`
			PasswordKey    string `json:"passwordKey"`
		} `json:"admin"`
		Resources          corev1.ResourceRequirements               `json:"resources"`
		DashboardProviders map[string]dashboardProviders             `json:"dashboardProviders"`
		Dashboards         map[string]map[string]grafanaNetDashboard `json:"dashboards"`
		DownloadDashboards struct {
			Resources corev1.ResourceRequirements `json:"resources"`
		} `json:"downloadDashboards"`
		// AdditionalDataSources are provisioned beside the stack's
		// Prometheus and Alertmanager (AddDatasource).
		AdditionalDataSources []grafanaDatasource `json:"additionalDataSources,omitempty"`
		Sidecar               struct {
			// Resources of both sidecars (dashboards, datasources).
			Resources  corev1.ResourceRequirements `json:"resources"`
			Dashboards struct {
				Enabled         bool   `json:"enabled"`
				Label           string `json:"label"`
				LabelValue      string `json:"labelValue"`
				SearchNamespace string `json:"searchNamespace"`
			} `json:"dashboards"`
		} `json:"sidecar"`
	} `json:"grafana"`
	KubeStateMetrics struct {
		Resources corev1.ResourceRequirements `json:"resources"`
		RBAC      struct {
			ExtraRules []rbacv1.PolicyRule `json:"extraRules"`
		} `json:"rbac"`
		CustomResourceState struct {
			Enabled bool      `json:"enabled"`
			Config  ksmConfig `json:"config"`
		} `json:"customResourceState"`
	} `json:"kube-state-metrics"`
	NodeExporter struct {
		Resources corev1.ResourceRequirements `json:"resources"`
		PodLabels map[string]string           `json:"podLabels,omitempty"`
	} `json:"prometheus-node-exporter"`
	KubeControllerManager *controlPlaneComponent `json:"kubeControllerManager,omitempty"`
	KubeScheduler         *controlPlaneComponent `json:"kubeScheduler,omitempty"`
	KubeEtcd              struct {
		// Endpoints are the control-plane addresses: etcd is no pod
		// on Talos, so the chart's Service gets explicit endpoints.
		Endpoints []string `json:"endpoints,omitempty"`
		Service   struct {
			Port       int `json:"port"`
			TargetPort int `json:"targetPort"`
		} `json:"service"`
	} `json:"kubeEtcd"`
	KubeProxy struct {
		Enabled bool `json:"enabled"`
	} `json:"kubeProxy"`
}

// controlPlaneComponent points the chart's Service for a control-plane
// component at the pods the OS layer runs.
type controlPlaneComponent struct {
	Service struct {
		Selector   map[string]string `json:"selector,omitempty"`
		Port       int               `json:"port,omitempty"`
		TargetPort int               `json:"targetPort,omitempty"`
	} `json:"service"`
}

func component(t core.MetricsTarget) *controlPlaneComponent {
	c := &controlPlaneComponent{}
	c.Service.Selector, c.Service.Port, c.Service.TargetPort = t.Labels, t.Port, t.Port
	return c
}

// lazyValues marshals the stack's values when the HelmRelease renders,
// after every node and the OS layer's metrics endpoints are known.
type lazyValues struct{ s *Stack }

func (l lazyValues) MarshalJSON() ([]byte, error) {
	v := *l.s.values
	t := l.s.info.Tree()
	if m, ok := core.ControlPlaneMetricsOf.Of(t).Get(); ok {
		v.KubeControllerManager, v.KubeScheduler = component(m.ControllerManager), component(m.Scheduler)
		v.KubeEtcd.Service.Port, v.KubeEtcd.Service.TargetPort = m.EtcdPort, m.EtcdPort
		v.KubeEtcd.Endpoints = nil
		for _, n := range core.Nodes.Of(t).All() {
			if n.Role == core.ControlPlane && n.IP.IsValid() {
				v.KubeEtcd.Endpoints = append(v.KubeEtcd.Endpoints, n.IP.String())
			}
		}
	}
	return json.Marshal(v)
}

type dashboardProviders struct {
	APIVersion int                 `json:"apiVersion"`
	Providers  []dashboardProvider `json:"providers"`
}

type dashboardProvider struct {
	Name            string            `json:"name"`
	OrgID           int               `json:"orgId"`
	Folder          string            `json:"folder"`
	Type            string            `json:"type"`
	DisableDeletion bool              `json:"disableDeletion"`
	Editable        bool              `json:"editable"`
	Options         map[string]string `json:"options"`
}

type grafanaNetDashboard struct {
	GnetID     int    `json:"gnetId"`
	Revision   int    `json:"revision"`
	Datasource string `json:"datasource"`
}

// NewStack adds kube-prometheus-stack below scope.
func NewStack(scope constructs.Construct, id string, repo *flux.HelmRepository, props *StackProps) *Stack {
	props = cmp.Or(props, &StackProps{})
	s := &Stack{Namespace: props.Namespace}
	s.Namespace = cmp.Or(s.Namespace, "monitoring")
	retention := cmp.Or(props.Retention, "7d")
	secret := cmp.Or(props.GrafanaAdminSecret, "grafana-admin")
	dashboards := props.Dashboards
	if dashboards == nil {
		dashboards = DefaultDashboards()
	}
	s.info = core.Init(s, scope, id)

	var v stackValues
	v.PrometheusOperator.Resources = kube.Requirements("50m", "96Mi", "192Mi")
	// The admission webhook's certificate jobs run once per install/upgrade.
	v.PrometheusOperator.AdmissionWebhooks.Patch.Resources = kube.Requirements("10m", "32Mi", "64Mi")
	reloader := kube.Requirements("10m", "24Mi", "48Mi")
	v.PrometheusOperator.PrometheusConfigReloader.Resources = reloader
	ps := &v.Prometheus.PrometheusSpec
	ps.Retention = retention
	ps.Resources = kube.Requirements("200m", "768Mi", "1536Mi")
	// Pick up every ServiceMonitor, PodMonitor and PrometheusRule, not only
	// those labelled for this release.
	ps.ServiceMonitorSelectorNilUsesHelmValues, ps.PodMonitorSelectorNilUsesHelmValues, ps.RuleSelectorNilUsesHelmValues = false, false, false
	volume := props.Volume.Parse()
	if props.Ephemeral {
		ps.StorageSpec.EmptyDir = &corev1.EmptyDirVolumeSource{}
		if volume.Err == nil {
			ps.StorageSpec.EmptyDir.SizeLimit = &volume.Quantity
		}
	} else {
		claim := corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}
		if props.Volume.Class != nil {
			claim.StorageClassName = &props.Volume.Class.Name
		}
		if volume.Err == nil {
			claim.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: volume.Quantity}
			if props.Volume.Class != nil {
				props.Volume.Class.Reserve(s.info.Path()+"/prometheus", volume.Quantity)
			}
		}
		ps.StorageSpec.VolumeClaimTemplate = &struct {
			Spec corev1.PersistentVolumeClaimSpec `json:"spec"`
		}{Spec: claim}
	}
	v.Alertmanager.AlertmanagerSpec.Resources = kube.Requirements("10m", "32Mi", "64Mi")
	g := &v.Grafana
	g.Admin.ExistingSecret, g.Admin.UserKey, g.Admin.PasswordKey = secret, "admin-user", "admin-password"
	g.Resources = kube.Requirements("50m", "128Mi", "256Mi")
	g.Sidecar.Resources = kube.Requirements("10m", "48Mi", "96Mi")
	g.DownloadDashboards.Resources = kube.Requirements("10m", "32Mi", "64Mi")
	g.DashboardProviders = map[string]dashboardProviders{"dashboardproviders.yaml": {APIVersion: 1, Providers: []dashboardProvider{{
		Name: "homelab", OrgID: 1, Folder: "Homelab", Type: "file", DisableDeletion: true, Editable: false,
		Options: map[string]string{"path": "/var/lib/grafana/dashboards/homelab"},
	}}}}
	g.Dashboards = map[string]map[string]grafanaNetDashboard{"homelab": {}}
	for _, d := range dashboards {
		g.Dashboards["homelab"][d.Name] = grafanaNetDashboard{GnetID: d.GnetID, Revision: d.Revision, Datasource: "Prometheus"}
	}
	g.Sidecar.Dashboards.Enabled, g.Sidecar.Dashboards.Label, g.Sidecar.Dashboards.LabelValue = true, DashboardLabel, "1"
	g.Sidecar.Dashboards.SearchNamespace = "ALL"
	v.KubeStateMetrics.Resources = kube.Requirements("10m", "64Mi", "128Mi")
	v.KubeStateMetrics.RBAC.ExtraRules, v.KubeStateMetrics.CustomResourceState.Config = fluxStateMetrics()
	v.KubeStateMetrics.CustomResourceState.Enabled = true
	v.NodeExporter.Resources = kube.Requirements("10m", "24Mi", "48Mi")
	// node-exporter runs on the host network: marked so that no
	// NetworkPolicy selects it (core.HostNetworkLabel).
	v.NodeExporter.PodLabels = map[string]string{core.HostNetworkLabel: "true"}
	// The control plane's scrape targets (selectors, ports, etcd's
	// addresses) come from the OS layer when the release renders (see
	// lazyValues); kube-proxy's metrics stay on localhost.
	v.KubeProxy.Enabled = false
	s.values = &v

	s.Release = flux.NewHelmRelease(s, "release", &flux.HelmReleaseProps{
		Name: "kube-prometheus-stack", Namespace: s.Namespace, Repository: repo, Chart: StackChart.Name,
		Version: StackChart.Version, Values: lazyValues{s}, CRDGroups: []string{"monitoring.coreos.com"}, Timeout: 0,
	})
	t := s.info.Tree()
	for _, k := range []string{g.Admin.UserKey, g.Admin.PasswordKey} {
		core.Secrets.Of(t).Refer(core.SecretRef{Namespace: s.Namespace, Name: secret, Key: k, Source: s.info.Path()})
	}
	s.AdminSecret = secret
	core.NodeNeeds.Of(t).Add(core.NodeNeed{Source: s.info.Path(), Role: core.ControlPlane, ControlPlaneMetrics: true})
	core.HostNetwork.Of(t).Add(core.HostNetworkPods{Source: s.info.Path(), Name: "node-exporter", Namespace: s.Namespace,
		Labels: map[string]string{"app.kubernetes.io/name": "prometheus-node-exporter", core.HostNetworkLabel: "true"}})
	for _, w := range []struct {
		name    string
		r       corev1.ResourceRequirements
		perNode bool
	}{
		{"prometheus-operator", v.PrometheusOperator.Resources, false},
		{"prometheus", ps.Resources, false},
		{"alertmanager", v.Alertmanager.AlertmanagerSpec.Resources, false},
		{"prometheus config-reloader", reloader, false},
		{"alertmanager config-reloader", reloader, false},
		{"grafana", g.Resources, false},
		{"grafana-sc-dashboard", g.Sidecar.Resources, false},
		{"grafana-sc-datasources", g.Sidecar.Resources, false},
		{"kube-state-metrics", v.KubeStateMetrics.Resources, false},
		{"node-exporter", v.NodeExporter.Resources, true},
	} {
		core.Workloads.Of(t).Add(core.Workload{Source: s.info.Path(), Name: w.name, Replicas: 1, PerNode: w.perNode,
			CPU: w.r.Requests[corev1.ResourceCPU], Memory: w.r.Requests[corev1.ResourceMemory], MemoryLimit: w.r.Limits[corev1.ResourceMemory]})
	}
	t.AddValidation(func() []error {
		var errs []error
		switch {
		case props.Ephemeral:
			if volume.Err != nil || volume.Quantity.Sign() <= 0 {
				errs = append(errs, core.Errorf(s.info.Path(), `set StackProps.Volume.Size to the most Prometheus may keep on the node, such as "10Gi"`, "Prometheus' emptyDir size %q is not a positive quantity", props.Volume.Size))
			}
		case props.Volume.Class == nil:
			return []error{core.Errorf(s.info.Path(), "set StackProps.Volume to a volume on a block class such as longhorn, or StackProps.Ephemeral", "Prometheus has no volume")}
		default:
			errs = volume.Validate(s.info)
			if c := props.Volume.Class; c.NetworkFilesystem {
				// prometheus.io/docs/prometheus/latest/storage: NFS is not supported.
				errs = append(errs, core.Errorf(s.info.Path(), "put Prometheus on a block class such as longhorn, or keep its data in an emptyDir with StackProps.Ephemeral (Platform.Monitoring.Ephemeral in the homelab composition; lost when the pod moves)",
					"Prometheus' volume is on %s, a network file system: Prometheus does not support NFS (its TSDB may be corrupted beyond recovery)", c.Name))
			}
		}
		if d, err := model.ParseDuration(retention); err != nil {
			errs = append(errs, core.Errorf(s.info.Path(), `use a Prometheus duration such as "7d" or "12h"`, "retention %q does not parse: %v", retention, err))
		} else if d == 0 {
			// Prometheus reads a zero retention as "not set": it keeps
			// its default (15d), not nothing.
			errs = append(errs, core.Errorf(s.info.Path(), `use a positive duration such as "7d"; leave Retention empty for the default`, "retention %q is zero, which Prometheus reads as unset (its default, 15d), not as keeping nothing", retention))
		}
		return errs
	})
	return s
}

// Info returns the construct's place in the tree.
func (s *Stack) Info() *core.Info { return s.info }

// ToString overrides the jsii method; it returns the construct path.
func (s *Stack) ToString() *string { return core.PathString(s.info) }

// DashboardLabel marks ConfigMaps Grafana's sidecar loads as dashboards.
const DashboardLabel = "grafana_dashboard"
