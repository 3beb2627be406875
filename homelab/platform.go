package homelab

import (
	"fmt"
	"slices"
	"strings"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/backup"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/monitoring"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/constructs/storage"

	corev1 "k8s.io/api/core/v1"
)

// Platform holds the platform's values.
type Platform struct {
	// Domain the apps live under.
	Domain string
	// TunnelID is the Cloudflare Tunnel's UUID (public; its credentials
	// are in the Secret "cloudflared-credentials").
	TunnelID string
	// NFSServer and NFSPath are the Synology share for nfs-storage.
	NFSServer, NFSPath string
	// BackupTarget is where Longhorn backs up to.
	BackupTarget string
	// PrometheusRetention and PrometheusVolume size Prometheus' data.
	PrometheusRetention, PrometheusVolume string
	// Alerts is where Alertmanager sends alerts: monitoring.TelegramReceiver,
	// DiscordReceiver, EmailReceiver or WebhookReceiver; its Secret (in the
	// monitoring namespace) is declared for the store.
	Alerts monitoring.Receiver
}

// siteValues records the site values still at their examples.
func (h *Homelab) siteValues(p *Platform) {
	t := h.Platform.Info().Tree()
	if p.TunnelID == ExampleTunnelID {
		t.AddBlocker(core.Blocker{Source: h.Tunnel.Info().Path(),
			What: fmt.Sprintf("Platform.TunnelID is the example %q", p.TunnelID),
			Fix:  "set it to your tunnel's ID (`cloudflared tunnel list`) and its credentials with `go run . secrets set cloudflared/cloudflared-credentials credentials.json < ~/.cloudflared/<ID>.json`"})
	}
	if p.Alerts.String() == monitoring.TelegramReceiver(ExampleTelegramChatID, "").String() {
		t.AddBlocker(core.Blocker{Source: h.Alerting.Info().Path(),
			What: fmt.Sprintf("Platform.Alerts is the example Telegram chat %d", int64(ExampleTelegramChatID)),
			Fix:  "set Platform.Alerts to your receiver (monitoring.TelegramReceiver with your chat ID, DiscordReceiver, EmailReceiver or WebhookReceiver) and its Secret with `go run . secrets set`"})
	}
	if p.NFSServer == ExampleNFSServer || strings.Contains(p.BackupTarget, "//"+ExampleNFSServer+":") {
		t.AddBlocker(core.Blocker{Source: h.NFS.Info().Path(),
			What: fmt.Sprintf("Platform.NFSServer (and the Longhorn BackupTarget on it) is the example address %s", ExampleNFSServer),
			Fix:  "set Platform.NFSServer, NFSPath and BackupTarget to your NAS's address and exports"})
	}
}

// platform builds cluster/kubernetes/platform and platform-config.
func (h *Homelab) platform(p *Platform) {
	repos := kube.NewGroup(h.Platform, "repositories")
	repo := func(id, url string) *flux.HelmRepository {
		return flux.NewHelmRepository(repos, id, &flux.HelmRepositoryProps{URL: url})
	}
	longhornRepo := repo("longhorn", "https://charts.longhorn.io")
	nfsRepo := repo("nfs-subdir-external-provisioner", "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner")
	nginxRepo := repo("ingress-nginx", "https://kubernetes.github.io/ingress-nginx")
	promRepo := repo("prometheus-community", "https://prometheus-community.github.io/helm-charts")

	storageChart := kube.NewChart(h.Platform, "storage", &kube.ChartProps{Dir: "kubernetes/platform/storage"})
	h.Longhorn = storage.NewLonghorn(storageChart, "longhorn", longhornRepo, &storage.LonghornProps{BackupTarget: p.BackupTarget})
	h.NFS = storage.NewNFS(storageChart, "nfs", nfsRepo, &storage.NFSProps{Server: p.NFSServer, Path: p.NFSPath})

	ingressChart := kube.NewChart(h.Platform, "ingress", &kube.ChartProps{Dir: "kubernetes/platform/ingress"})
	h.ingressChart = ingressChart
	h.Nginx = ingress.NewNginx(ingressChart, "ingress-nginx", nginxRepo, nil)
	h.Tunnel = ingress.NewTunnel(ingressChart, "cloudflared", &ingress.TunnelProps{Domain: p.Domain, TunnelID: p.TunnelID, Origin: h.Nginx})

	monChart := kube.NewChart(h.Platform, "monitoring", &kube.ChartProps{Dir: "kubernetes/platform/monitoring"})
	h.monitoringChart = monChart
	h.Monitoring = monitoring.NewStack(monChart, "kube-prometheus-stack", promRepo, &monitoring.StackProps{
		Retention: p.PrometheusRetention,
		Volume:    storage.Volume{Class: h.Longhorn.Class, Size: p.PrometheusVolume},
	})

	secChart := kube.NewChart(h.Platform, "security", &kube.ChartProps{Dir: "kubernetes/platform/security"})
	nodes := h.Cluster.Subnet()
	security.NewIsolation(secChart, "apps", &security.IsolationProps{
		Namespace: "apps",
		Ingress:   []security.Peer{{Namespace: h.Nginx.Namespace}, {SameNamespace: true}},
		Egress:    []security.Peer{security.DNS(), {SameNamespace: true}, {CIDR: "0.0.0.0/0", Ports: []security.Port{security.TCP(443)}}},
	})
	security.NewIsolation(secChart, "cloudflared", &security.IsolationProps{
		Namespace: h.Tunnel.Namespace,
		Ingress:   []security.Peer{{Namespace: h.Monitoring.Namespace, Ports: []security.Port{security.TCP(h.Tunnel.MetricsPort)}}},
		Egress: []security.Peer{security.DNS(),
			{Namespace: h.Nginx.Namespace, Ports: []security.Port{security.TCP(80)}},
			// The Cloudflare edge: QUIC or HTTP/2 on 7844, the API on 443.
			{CIDR: "0.0.0.0/0", Ports: []security.Port{security.TCP(7844), security.UDP(7844), security.TCP(443)}},
		},
	})
	security.NewIsolation(secChart, "monitoring", &security.IsolationProps{
		Namespace: h.Monitoring.Namespace,
		Ingress: []security.Peer{{SameNamespace: true},
			// The API server (host network on the control planes) calls the
			// operator's admission webhook for PrometheusRules and
			// AlertmanagerConfigs (the chart's port 10250).
			{CIDR: nodes, Ports: []security.Port{security.TCP(10250)}}},
		Egress: []security.Peer{security.DNS(), {AnyNamespace: true},
			// Scrapes of host-network targets and the API server on the nodes.
			{CIDR: nodes, Ports: []security.Port{security.TCP(6443), security.TCP(9100), security.TCP(10250), security.TCP(10257), security.TCP(10259), security.TCP(2381)}},
			// Alertmanager's receivers (Telegram, Discord, webhooks on
			// HTTPS; mail on submission ports) and grafana.com dashboards.
			{CIDR: "0.0.0.0/0", Ports: []security.Port{security.TCP(443), security.TCP(587), security.TCP(465)}},
			// grafana.com, for the dashboards pinned by id.
			{CIDR: "0.0.0.0/0", Ports: []security.Port{security.TCP(443)}},
		},
	})

	backupChart := kube.NewChart(h.Platform, "backup", &kube.ChartProps{Dir: "kubernetes/platform/backup"})
	var cp string
	if cps := h.Cluster.ControlPlanes(); len(cps) > 0 {
		cp = cps[0].IP.String()
	}
	backup.NewEtcdSnapshots(backupChart, "etcd-snapshots", &backup.EtcdSnapshotsProps{
		Volume: storage.Volume{Class: h.NFS.Class, Size: "5Gi"}, Node: cp, TalosVersion: h.Cluster.TalosVersion,
	})

	// Custom resources of the charts' CRDs: applied once platform (and
	// with it every HelmRelease) is ready.
	h.PlatformConfig = kube.NewChart(h.app, "platform-config", &kube.ChartProps{Dir: "kubernetes/platform-config"})
	monitoring.NewMonitors(h.PlatformConfig, "monitors", h.Monitoring.Namespace, []monitoring.Target{
		{Name: "flux-controllers", Namespace: "flux-system", Pod: true, Port: "http-prom", Selector: map[string]string{"app.kubernetes.io/part-of": "flux"}},
		{Name: "longhorn", Namespace: h.Longhorn.Namespace, Port: "manager", Selector: map[string]string{"app": "longhorn-manager"}},
		{Name: "ingress-nginx", Namespace: h.Nginx.Namespace, Port: "metrics", Selector: map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}},
		{Name: "cloudflared", Namespace: h.Tunnel.Namespace, Port: "metrics", Selector: map[string]string{"app.kubernetes.io/name": "cloudflared"}},
	})
	if p.BackupTarget != "" {
		h.Longhorn.RecurringBackup(h.PlatformConfig, "backup-daily", "0 3 * * *", 7)
	}
	h.Alerting = monitoring.NewAlerting(h.PlatformConfig, "alerting", h.Monitoring, &monitoring.AlertingProps{Receiver: p.Alerts})
}

// wireApps resolves the apps' short hosts against the domain and routes
// them through the tunnel, gives a volume without a class the homelab's
// default class, and adds the dashboard, if any, with the links of the
// apps that have a public host.
func (h *Homelab) wireApps(list []apps.AppProps, d *Dashboard, domain string) []apps.AppProps {
	wire := func(a apps.AppProps) apps.AppProps {
		if a.Host != "" && !strings.Contains(a.Host, ".") {
			a.Host = a.Host + "." + domain
		}
		if a.Host != "" {
			a.Tunnel = h.Tunnel
		}
		if a.Volume != nil && a.Volume.Class == nil {
			v := *a.Volume
			v.Class = h.DefaultClass()
			a.Volume = &v
		}
		return a
	}
	out := make([]apps.AppProps, len(list))
	for i, a := range list {
		out[i] = wire(a)
	}
	if d == nil {
		return out
	}
	a := wire(d.App)
	files, err := d.files(out)
	if err != nil {
		panic(err) // marshalling plain maps of strings cannot fail
	}
	a.Files = files
	a.Env = append(slices.Clip(a.Env), corev1.EnvVar{Name: "HOMEPAGE_ALLOWED_HOSTS", Value: a.Host})
	return append(out, a)
}

// DefaultClass is the storage class a volume without one gets: Longhorn's.
func (h *Homelab) DefaultClass() *storage.StorageClass { return h.Longhorn.Class }

// secrets declares every Secret the platform needs; their values come
// encrypted from src (`homelab secrets set NAMESPACE/NAME KEY`).
func (h *Homelab) secrets(src secret.Source, alerts monitoring.Receiver) {
	if name, keys := alerts.Secret(); name != "" {
		h.Secrets = append(h.Secrets, secret.New(h.monitoringChart, name, &secret.Props{
			Namespace: h.Monitoring.Namespace, Name: name, Keys: keys, Source: src,
		}))
	}
	h.Secrets = append(h.Secrets,
		secret.New(h.ingressChart, "cloudflared-credentials", &secret.Props{
			Namespace: h.Tunnel.Namespace, Name: h.Tunnel.CredentialsSecret(), Keys: []string{"credentials.json"}, Source: src,
		}),
		secret.New(h.monitoringChart, "grafana-admin", &secret.Props{
			Namespace: h.Monitoring.Namespace, Name: h.Monitoring.AdminSecret, Keys: []string{"admin-user", "admin-password"}, Source: src,
		}),
		// The Flux Git credentials: applied by the deployer before Flux
		// can read the repository, so never rendered into it.
		secret.New(h.Flux, "flux-git-credentials", &secret.Props{
			Namespace: "flux-system", Name: "flux-system", Keys: []string{"identity", "identity.pub", "known_hosts"}, Source: src, Bootstrap: true,
		}),
	)
}
