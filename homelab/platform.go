package homelab

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/backup"
	"github.com/funoffshore/homelab/constructs/certs"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/externalsecrets"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/monitoring"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/constructs/telemetry"

	corev1 "k8s.io/api/core/v1"
)

// Platform holds the platform's values: the domain and tunnel every
// public app goes through, and the parts to run besides ingress-nginx.
// A part left nil is not run: none of its charts, namespace, Secrets,
// monitors, policies or node needs (Longhorn's extensions) are rendered.
type Platform struct {
	// Domain the apps live under.
	Domain string
	// Tunnel routes the apps' hosts from the Cloudflare edge to
	// ingress-nginx. Nil: no tunnel; ingress-nginx listens on node ports
	// 30080 (HTTP) and 30443 (HTTPS) of every node for the LAN.
	Tunnel *TunnelOptions
	// Longhorn runs Longhorn: replicated volumes on the nodes' disks, the
	// homelab's default class.
	Longhorn *LonghornOptions
	// NFS runs the NFS provisioner on a NAS share (class nfs-storage; the
	// default class without Longhorn; where the etcd snapshots go).
	NFS *NFSOptions
	// Monitoring runs kube-prometheus-stack with the homelab's monitors,
	// rules and alerting; its volume is of the default class.
	Monitoring *MonitoringOptions
	// Certs runs cert-manager with the homelab's issuers: every exposed
	// app is then served over HTTPS by ingress-nginx with a certificate
	// from the issuer that serves its host (a publicly trusted one
	// first), and the tunnel reaches ingress-nginx over TLS.
	Certs *CertsOptions
	// Vault runs the External Secrets Operator with a ClusterSecretStore
	// for this Vault (or OpenBao) server: a Secret declared with
	// secret.Props.External naming the store comes from it, not from the
	// SOPS store. See docs/secrets.md.
	Vault *externalsecrets.VaultProps
	// Telemetry keeps the logs (Loki) and traces (Tempo) beside the
	// metrics, collected on every node by Grafana Alloy: every pod's log,
	// the cluster's events, each node's Talos and kernel logs, a span per
	// request through ingress-nginx and the traces of apps with Traces.
	// See docs/logs.md.
	Telemetry *TelemetryOptions
	// Parts are further platform parts (a library user's own), built after
	// those above, in order: each one line, `Parts: []platform.Part{
	// mine.Part(...)}`. See docs/architecture.md, "Adding a platform
	// part".
	Parts []platform.Part
}

// TunnelOptions name the Cloudflare Tunnel.
type TunnelOptions struct {
	// ID is the tunnel's UUID (public; its credentials are in the Secret
	// "cloudflared-credentials"). Required.
	ID string
}

// LonghornOptions configure Longhorn.
type LonghornOptions struct {
	// BackupTarget is where Longhorn backs up to (daily, 7 kept); empty
	// for no backups.
	BackupTarget string
	// Replicas of each volume (default 2) and DiskGiB, the Longhorn disk
	// of each node that runs workloads (default 50): see
	// storage.LonghornProps.
	Replicas, DiskGiB int
}

// NFSOptions name the NAS share.
type NFSOptions struct {
	// Server and Path of the export. Required.
	Server, Path string
}

// CertsOptions configure cert-manager's issuers (docs/tls.md); at least
// one of the two.
type CertsOptions struct {
	// CADomains are the LAN domains the homelab's own CA issues for
	// ("home.arpa"); its root is the SOPS Secret
	// cert-manager/homelab-ca (tls.crt, tls.key). Empty: no CA.
	CADomains []string
	// ACMEEmail is the Let's Encrypt account's contact; set, it runs the
	// ACME issuer with the DNS-01 challenge in ACMEZones (default: the
	// homelab's Domain) through Cloudflare's API, its token the SOPS
	// Secret cert-manager/cloudflare-api-token (api-token). Empty: no ACME.
	ACMEEmail string
	ACMEZones []string
	// Staging uses Let's Encrypt's staging directory (untrusted
	// certificates, generous rate limits) to try the setup.
	Staging bool
}

// MonitoringOptions configure the monitoring stack.
type MonitoringOptions struct {
	// Retention and Volume size Prometheus' data. Default: 7d, required.
	Retention, Volume string
	// Class of Prometheus' volume, a block class (Prometheus does not
	// support NFS). Default: the default class (longhorn when it runs).
	Class *storage.StorageClass
	// Ephemeral keeps Prometheus' data in an emptyDir on its node, at most
	// Volume, instead of a volume: monitoring for a homelab without block
	// storage (NFS only). The metrics are lost whenever the pod is
	// replaced or moves (monitoring.StackProps.Ephemeral).
	Ephemeral bool
	// Alerts is where Alertmanager sends alerts: monitoring.TelegramReceiver,
	// DiscordReceiver, EmailReceiver or WebhookReceiver; its Secret (in the
	// monitoring namespace) is declared for the store. Required.
	Alerts monitoring.Receiver
}

// TelemetryOptions configure the logs and traces (package telemetry);
// their volumes are of the default class.
type TelemetryOptions struct {
	// LogRetention is how long logs are kept (default "14d"); LogVolume
	// the size of Loki's volume, which must hold LogRetention of
	// LogDailyVolume (default "300Mi" a day). LogVolume is required.
	LogRetention, LogVolume, LogDailyVolume string
	// TraceRetention is how long traces are kept (default "7d");
	// TraceVolume the size of Tempo's volume, which must hold
	// TraceRetention of TraceDailyVolume (default "200Mi" a day). Empty
	// TraceVolume: no Tempo, no traces.
	TraceRetention, TraceVolume, TraceDailyVolume string
}

// siteValues records the site values still at their examples.
func (h *Homelab) siteValues(p *Platform) {
	t := h.Platform.Info().Tree()
	if p.Tunnel != nil && p.Tunnel.ID == ExampleTunnelID {
		core.Blockers.Of(t).Add(core.Blocker{Source: h.Tunnel.Info().Path(),
			What: fmt.Sprintf("Platform.Tunnel.ID is the example %q", p.Tunnel.ID),
			Fix:  "set it to your tunnel's ID (`cloudflared tunnel list`) and its credentials with `go run . secrets set cloudflared/cloudflared-credentials credentials.json < ~/.cloudflared/<ID>.json`"})
	}
	if m := p.Monitoring; m != nil && m.Alerts.String() == monitoring.TelegramReceiver(ExampleTelegramChatID, "").String() {
		core.Blockers.Of(t).Add(core.Blocker{Source: h.Alerting.Info().Path(),
			What: fmt.Sprintf("Platform.Monitoring.Alerts is the example Telegram chat %d", int64(ExampleTelegramChatID)),
			Fix:  "set Platform.Monitoring.Alerts to your receiver (monitoring.TelegramReceiver with your chat ID, DiscordReceiver, EmailReceiver or WebhookReceiver) and its Secret with `go run . secrets set`"})
	}
	nfs := p.NFS != nil && p.NFS.Server == ExampleNFSServer
	backups := p.Longhorn != nil && strings.Contains(p.Longhorn.BackupTarget, "//"+ExampleNFSServer+":")
	if nfs || backups {
		var source string
		if nfs {
			source = h.NFS.Info().Path()
		} else {
			source = h.Longhorn.Info().Path()
		}
		core.Blockers.Of(t).Add(core.Blocker{Source: source,
			What: fmt.Sprintf("Platform.NFS.Server (or the Longhorn BackupTarget on it) is the example address %s", ExampleNFSServer),
			Fix:  "set Platform.NFS and Platform.Longhorn.BackupTarget to your NAS's address and exports"})
	}
}

// parts are the platform parts p runs, in build order: storage first
// (the others' volumes take its classes), cert-manager, the external
// secrets operator, the edge, the
// monitoring stack, the logs and traces,
// the etcd snapshots (onto the NFS share), then p.Parts. This is the one
// place where an option left nil leaves its part out.
func (h *Homelab) parts(p *Platform) []platform.Part {
	var out []platform.Part
	if o := p.Longhorn; o != nil {
		// Without the NAS, Longhorn's class is the cluster's default.
		out = append(out, storage.LonghornPart(&storage.LonghornProps{BackupTarget: o.BackupTarget, Replicas: o.Replicas, DiskGiB: o.DiskGiB, Default: p.NFS == nil}))
	}
	if o := p.NFS; o != nil {
		out = append(out, storage.NFSPart(&storage.NFSProps{Server: o.Server, Path: o.Path}))
	}
	if o := p.Certs; o != nil {
		cp := &certs.CertManagerProps{}
		if len(o.CADomains) > 0 {
			cp.CA = &certs.CAIssuerProps{Domains: o.CADomains}
		}
		if o.ACMEEmail != "" {
			zones := o.ACMEZones
			if len(zones) == 0 {
				zones = []string{p.Domain}
			}
			cp.ACME = &certs.ACMEIssuerProps{Email: o.ACMEEmail, Zones: zones, Staging: o.Staging}
		}
		out = append(out, certs.CertManagerPart(cp))
	}
	if o := p.Vault; o != nil {
		out = append(out, externalsecrets.Part(&externalsecrets.Props{Vault: o}))
	}
	if o := p.Tunnel; o != nil {
		out = append(out, ingress.NginxPart(nil), ingress.TunnelPart(&ingress.TunnelProps{Domain: p.Domain, TunnelID: o.ID, OriginTLS: p.Certs != nil}))
	} else {
		out = append(out, ingress.NginxPart(&ingress.NginxProps{LAN: &ingress.NodePorts{}}))
	}
	if o := p.Monitoring; o != nil {
		out = append(out, monitoring.StackPart(&monitoring.PartProps{
			Stack:  monitoring.StackProps{Retention: o.Retention, Volume: storage.Volume{Class: o.Class, Size: o.Volume}, Ephemeral: o.Ephemeral},
			Alerts: o.Alerts,
		}))
	}
	if o := p.Telemetry; o != nil {
		out = append(out, telemetry.LokiPart(&telemetry.LokiProps{Retention: o.LogRetention, DailyVolume: o.LogDailyVolume, Volume: storage.Volume{Size: o.LogVolume}}))
		if o.TraceVolume != "" {
			out = append(out, telemetry.TempoPart(&telemetry.TempoProps{Retention: o.TraceRetention, DailyVolume: o.TraceDailyVolume, Volume: storage.Volume{Size: o.TraceVolume}}))
		}
		out = append(out, telemetry.CollectorPart(nil))
	}
	if p.NFS != nil {
		var cp string
		if cps := h.Cluster.ControlPlanes(); len(cps) > 0 {
			cp = cps[0].IP.String()
		}
		out = append(out, backup.EtcdSnapshotsPart(&backup.EtcdSnapshotsProps{
			Volume: storage.Volume{Size: "5Gi"}, Node: cp, TalosVersion: h.Cluster.TalosVersion, Recipients: h.operators,
		}))
	}
	return append(out, p.Parts...)
}

// platform builds cluster/kubernetes/platform and platform-config from
// the parts p runs: their repositories and constructs, the policies of
// the cluster's own pods and of every part, and the parts' custom
// resources.
func (h *Homelab) platform(p *Platform, src secret.Source) {
	// Talos' own pods, from one render of the control-plane config.
	system := h.Cluster.SystemPods()
	h.plat = platform.New(h.Platform, &platform.Props{Cluster: h.clusterFacts(system), Secrets: src, Parts: h.parts(p)})
	h.plat.Build()
	h.Longhorn, _ = platform.Find[*storage.Longhorn](h.plat)
	h.NFS, _ = platform.Find[*storage.NFS](h.plat)
	h.Nginx, _ = platform.Find[*ingress.Nginx](h.plat)
	h.Tunnel, _ = platform.Find[*ingress.Tunnel](h.plat)
	h.Monitoring, _ = platform.Find[*monitoring.Stack](h.plat)
	h.Snapshots, _ = platform.Find[*backup.EtcdSnapshots](h.plat)
	h.CertManager, _ = platform.Find[*certs.CertManager](h.plat)

	secChart := h.plat.Chart("security")
	h.isolation(secChart, system)
	h.plat.Isolate(secChart)

	// Custom resources of the charts' CRDs: applied once platform (and
	// with it every HelmRelease) is ready.
	h.PlatformConfig = kube.NewChart(h.app, "platform-config", &kube.ChartProps{Dir: "kubernetes/platform-config"})
	h.plat.Configure(h.PlatformConfig)
	h.Alerting, _ = platform.Find[*monitoring.Alerting](h.plat)
	h.Issuers, _ = platform.Find[certs.Issuers](h.plat)
	h.Loki, _ = platform.Find[*telemetry.Loki](h.plat)
	h.Tempo, _ = platform.Find[*telemetry.Tempo](h.plat)
	h.Collector, _ = platform.Find[*telemetry.Collector](h.plat)
	h.Secrets = h.plat.Secrets()
}

// clusterFacts are what the parts' policies need of the cluster: its
// networks and nodes, its own namespaces, and its own metrics endpoints
// (the cluster DNS', scraped by the stack's own monitor, and the Flux
// controllers').
func (h *Homelab) clusterFacts(system []talos.SystemPod) platform.Cluster {
	c := platform.Cluster{
		Nodes: h.Cluster.Subnet(), Pods: h.Cluster.PodNetwork(), NodeCount: len(h.Cluster.Nodes()),
		ControlPlanesRunPods: h.Cluster.SchedulesOnControlPlanes(),
		Namespaces:           []string{"kube-system", "flux-system"},
	}
	for _, sp := range system {
		for _, p := range sp.Ports {
			if p.ContainerPort != 53 {
				c.Scrapes = append(c.Scrapes, platform.Scrape{To: security.Pods("kube-system", sp.Labels).On(security.TCP(p.ContainerPort))})
			}
		}
	}
	c.Scrapes = append(c.Scrapes, platform.Scrape{
		To: security.Namespace("flux-system").On(security.TCP(8080)),
		Monitor: &platform.Monitor{Name: "flux-controllers", Namespace: "flux-system", Pod: true, Port: "http-prom",
			Selector: map[string]string{"app.kubernetes.io/part-of": "flux"}},
	})
	return c
}

// isolation renders the NetworkPolicies of the apps and of the cluster's
// own pods; each part renders its own (platform.Isolated).
func (h *Homelab) isolation(secChart constructs.Construct, system []talos.SystemPod) {
	security.NewIsolation(secChart, "apps", &security.IsolationProps{
		Namespace: "apps",
		Ingress:   []security.Peer{security.Namespace(h.Nginx.Namespace), security.OwnNamespace()},
		Egress:    []security.Peer{security.DNS(), security.OwnNamespace(), h.plat.Internet().On(security.TCP(443))},
	})
	h.clusterDNS(secChart, system)
}

// clusterDNS isolates the cluster DNS in kube-system: it answers every
// pod, takes Prometheus' scrapes of its metrics, and reaches only the API
// server and the servers it forwards to. kube-system gets no
// namespace-wide policy: the rest of Talos' components there (the
// control plane's static pods, kube-proxy, flannel) run on the host
// network without core.HostNetworkLabel, and a policy selecting one would
// make kube-network-policies v1.1.0 judge its node's own traffic (see
// core.HostNetworkLabel). Every pod-network pod Talos or the tree runs
// there has a policy of its own: this one and the etcd snapshot job's.
func (h *Homelab) clusterDNS(secChart constructs.Construct, system []talos.SystemPod) {
	for _, sp := range system {
		if len(sp.Ports) == 0 {
			continue
		}
		dns := security.NewPodPolicy(secChart, sp.Name, &security.PodPolicyProps{Name: sp.Name, Namespace: "kube-system", Pods: sp.Labels})
		var answers, metrics []security.Port
		for _, p := range sp.Ports {
			if p.ContainerPort == 53 {
				answers = append(answers, security.Port{Protocol: p.Protocol, Port: p.ContainerPort})
			} else {
				metrics = append(metrics, security.Port{Protocol: p.Protocol, Port: p.ContainerPort})
			}
		}
		dns.Allow(security.AllNamespaces().On(answers...))
		for _, s := range h.plat.ScrapedOn(metrics...) {
			dns.Allow(s)
		}
		dns.AllowTo(h.plat.APIServer())
		for _, up := range h.Cluster.DNSUpstreams() {
			dns.AllowTo(security.Prefix(netip.PrefixFrom(up, up.BitLen())).On(answers...))
		}
	}
}

// namespaces are the namespaces of the parts run, with the Pod Security
// level each needs, kube-system (labelled, never deleted) and apps.
func (h *Homelab) namespaces() []Namespace {
	out := []Namespace{{Name: "kube-system", Existing: true}}
	out = append(out, h.plat.Namespaces()...)
	return append(out, Namespace{Name: "apps", PodSecurity: "restricted"})
}

// wireApps resolves the apps' short hosts against the domain, routes
// them through the tunnel, serves them over TLS when cert-manager runs,
// gives a volume without a class the homelab's
// default class, and adds the dashboard, if any, with the links of the
// apps that have a public host.
func (h *Homelab) wireApps(list []apps.AppProps, d *Dashboard, domain string) []apps.AppProps {
	issuers := h.Issuers
	wire := func(a apps.AppProps) apps.AppProps {
		if a.Host != "" && !strings.Contains(a.Host, ".") {
			a.Host = a.Host + "." + domain
		}
		if a.Host != "" && h.Tunnel != nil {
			a.Tunnel = h.Tunnel
		} else if a.Host != "" {
			a.LAN = true
		}
		if a.Host != "" && a.Ingress == nil && a.IngressClass == "" {
			a.Ingress = h.Nginx
		}
		if a.Host != "" && a.TLS == nil && len(issuers) > 0 {
			// None serving the host: the first, so that the
			// Certificate's validation names the host and the fix.
			a.TLS = cmp.Or(certs.Choose(issuers, a.Host), issuers[0])
		}
		if a.Traces && a.Collector == nil && h.Collector != nil && h.Collector.OTLPEndpoint() != "" {
			a.Collector = h.Collector
		}
		if a.Volume != nil && a.Volume.Class == nil && a.Volume.Export == nil {
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
	files, err := d.files(out, h.URL)
	if err != nil {
		panic(err) // marshalling plain maps of strings cannot fail
	}
	a.Files = files
	// The Host header the browser sends: with the port off the tunnel.
	allowed := strings.TrimPrefix(strings.TrimPrefix(h.URL(a.Host), "https://"), "http://")
	a.Env = append(slices.Clip(a.Env), corev1.EnvVar{Name: "HOMEPAGE_ALLOWED_HOSTS", Value: allowed})
	return append(out, a)
}

// URL is where a browser reaches host: through the tunnel on HTTPS, or
// on ingress-nginx's node port in the LAN (HTTPS when cert-manager
// serves certificates).
func (h *Homelab) URL(host string) string {
	if h.Tunnel == nil && h.Nginx.LAN != nil {
		if len(h.Issuers) > 0 {
			return fmt.Sprintf("https://%s:%d", host, h.Nginx.LAN.HTTPS)
		}
		return fmt.Sprintf("http://%s:%d", host, h.Nginx.LAN.HTTP)
	}
	return "https://" + host
}

// App returns the app construct named name, or nil: the handle for its
// wiring methods (h.App("uptime-kuma").AllowFrom(...)).
func (h *Homelab) App(name string) *apps.App {
	for _, a := range h.AppConstructs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// DefaultClass is the storage class a volume without one gets:
// Longhorn's, else NFS's, else none (such a volume is then a validation
// error naming it).
func (h *Homelab) DefaultClass() *storage.StorageClass { return storage.DefaultClass(h.plat) }
