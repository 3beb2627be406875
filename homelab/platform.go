package homelab

import (
	"cmp"
	"fmt"
	"maps"
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
	"sigs.k8s.io/yaml"
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

// DefaultPlatform returns the memo's platform values.
func DefaultPlatform() *Platform {
	return &Platform{
		Domain:              "funoffshore.com",
		TunnelID:            ExampleTunnelID,
		NFSServer:           ExampleNFSServer,
		NFSPath:             "/volume1/k8s",
		BackupTarget:        "nfs://" + ExampleNFSServer + ":/volume1/longhorn-backups",
		PrometheusRetention: "7d",
		PrometheusVolume:    "10Gi",
		Alerts:              monitoring.TelegramReceiver(ExampleTelegramChatID, "alertmanager-telegram"),
	}
}

// Example site values: DefaultPlatform uses them where the memo gives no
// value. A tree that still holds them renders and validates, but
// `homelab validate` lists them as blocking and deploy will not bootstrap
// Flux onto it: the tunnel would never connect, the NFS class never bind.
const (
	ExampleTunnelID  = "6f1c2f5e-3a4b-4c8d-9e0f-1a2b3c4d5e6f"
	ExampleNFSServer = "192.168.1.20"
	// ExampleTelegramChatID is a placeholder chat for the alerts.
	ExampleTelegramChatID = -1001234567890
)

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

// DefaultApps returns the core homelab apps for a domain: an echo service
// to check the ingress path end to end, Uptime Kuma on a Longhorn volume,
// and a Homepage dashboard linking the platform UIs and the apps.
func DefaultApps() []apps.AppProps {
	return []apps.AppProps{
		{
			Name: "echo", Host: "echo", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
			Args: []string{"netexec", "--http-port=8080"}, Port: 8080, HealthPath: "/healthz",
			Resources: apps.Resources{CPU: "10m", Memory: "16Mi", MemoryLimit: "32Mi"},
		},
		{
			Name: "uptime-kuma", Host: "status", Image: "louislam/uptime-kuma:2.5.5", Port: 3001, RunAsUser: 1000,
			VolumePath: "/app/data", ScratchPaths: []string{"/tmp"},
			Resources: apps.Resources{CPU: "50m", Memory: "128Mi", MemoryLimit: "256Mi"},
		},
		{
			Name: "homepage", Host: "home", Image: "ghcr.io/gethomepage/homepage:v1.13.2", Port: 3000, RunAsUser: 1000,
			FilesPath: "/app/config", ScratchPaths: []string{"/app/.next/cache", "/tmp"},
			Resources: apps.Resources{CPU: "20m", Memory: "96Mi", MemoryLimit: "192Mi"},
		},
	}
}

// homepageService is an entry of Homepage's services.yaml.
type homepageService struct {
	Href        string `json:"href"`
	Description string `json:"description"`
}

// wireApps resolves the apps' short hosts against the domain, gives Uptime
// Kuma its Longhorn volume, and writes Homepage's links.
func (h *Homelab) wireApps(list []apps.AppProps, domain string) []apps.AppProps {
	out := make([]apps.AppProps, len(list))
	// Only public hosts: Homepage's links open in the browser, which cannot
	// reach in-cluster Services (Grafana has no public host yet).
	var links []map[string]homepageService
	for i, a := range list {
		if a.Host != "" && !strings.Contains(a.Host, ".") {
			a.Host = a.Host + "." + domain
		}
		if a.Host != "" {
			a.Tunnel = h.Tunnel
			if a.Name != "homepage" {
				links = append(links, map[string]homepageService{a.Name: {Href: "https://" + a.Host, Description: a.Image}})
			}
		}
		if a.Name == "uptime-kuma" && a.Volume == nil {
			a.Volume = &storage.Volume{Class: h.Longhorn.Class, Size: "1Gi"}
		}
		out[i] = a
	}
	// The apps' links sorted by name: the order of the app list has no
	// meaning.
	slices.SortStableFunc(links, func(a, b map[string]homepageService) int {
		return cmp.Compare(slices.Collect(maps.Keys(a))[0], slices.Collect(maps.Keys(b))[0])
	})
	for i, a := range out {
		if a.Name == "homepage" && a.Files == nil {
			services, err := yaml.Marshal([]map[string][]map[string]homepageService{{"Homelab": links}})
			if err != nil {
				panic(fmt.Errorf("homepage services: %w", err))
			}
			settings, err := yaml.Marshal(map[string]string{"title": "Funoffshore homelab"})
			if err != nil {
				panic(fmt.Errorf("homepage settings: %w", err))
			}
			out[i].Files = map[string]string{"services.yaml": string(services), "settings.yaml": string(settings)}
			out[i].Env = append(out[i].Env, corev1.EnvVar{Name: "HOMEPAGE_ALLOWED_HOSTS", Value: a.Host})
		}
	}
	return out
}

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
