package homelab

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/siderolabs/talos/pkg/machinery/constants"

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
	"github.com/funoffshore/homelab/constructs/talos"

	corev1 "k8s.io/api/core/v1"
)

// Platform holds the platform's values: the domain and tunnel every
// public app goes through, and the parts to run besides ingress-nginx and
// the tunnel. A part left nil is not run: none of its charts, namespace,
// Secrets, monitors, policies or node needs (Longhorn's extensions) are
// rendered.
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

// siteValues records the site values still at their examples.
func (h *Homelab) siteValues(p *Platform) {
	t := h.Platform.Info().Tree()
	if p.Tunnel != nil && p.Tunnel.ID == ExampleTunnelID {
		t.AddBlocker(core.Blocker{Source: h.Tunnel.Info().Path(),
			What: fmt.Sprintf("Platform.Tunnel.ID is the example %q", p.Tunnel.ID),
			Fix:  "set it to your tunnel's ID (`cloudflared tunnel list`) and its credentials with `go run . secrets set cloudflared/cloudflared-credentials credentials.json < ~/.cloudflared/<ID>.json`"})
	}
	if m := p.Monitoring; m != nil && m.Alerts.String() == monitoring.TelegramReceiver(ExampleTelegramChatID, "").String() {
		t.AddBlocker(core.Blocker{Source: h.Alerting.Info().Path(),
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
		t.AddBlocker(core.Blocker{Source: source,
			What: fmt.Sprintf("Platform.NFS.Server (or the Longhorn BackupTarget on it) is the example address %s", ExampleNFSServer),
			Fix:  "set Platform.NFS and Platform.Longhorn.BackupTarget to your NAS's address and exports"})
	}
}

// platform builds cluster/kubernetes/platform and platform-config, with
// the parts p chooses.
func (h *Homelab) platform(p *Platform) {
	repos := kube.NewGroup(h.Platform, "repositories")
	repo := func(id, url string) *flux.HelmRepository {
		return flux.NewHelmRepository(repos, id, &flux.HelmRepositoryProps{URL: url})
	}
	var longhornRepo, nfsRepo, promRepo *flux.HelmRepository
	if p.Longhorn != nil {
		longhornRepo = repo("longhorn", "https://charts.longhorn.io")
	}
	if p.NFS != nil {
		nfsRepo = repo("nfs-subdir-external-provisioner", "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner")
	}
	nginxRepo := repo("ingress-nginx", "https://kubernetes.github.io/ingress-nginx")
	if p.Monitoring != nil {
		promRepo = repo("prometheus-community", "https://prometheus-community.github.io/helm-charts")
	}

	if p.Longhorn != nil || p.NFS != nil {
		storageChart := kube.NewChart(h.Platform, "storage", &kube.ChartProps{Dir: "kubernetes/platform/storage"})
		if p.Longhorn != nil {
			h.Longhorn = storage.NewLonghorn(storageChart, "longhorn", longhornRepo, &storage.LonghornProps{
				BackupTarget: p.Longhorn.BackupTarget, Replicas: p.Longhorn.Replicas, DiskGiB: p.Longhorn.DiskGiB,
			})
		}
		if p.NFS != nil {
			h.NFS = storage.NewNFS(storageChart, "nfs", nfsRepo, &storage.NFSProps{Server: p.NFS.Server, Path: p.NFS.Path})
		}
	}

	ingressChart := kube.NewChart(h.Platform, "ingress", &kube.ChartProps{Dir: "kubernetes/platform/ingress"})
	h.ingressChart = ingressChart
	if p.Tunnel != nil {
		h.Nginx = ingress.NewNginx(ingressChart, "ingress-nginx", nginxRepo, nil)
		h.Tunnel = ingress.NewTunnel(ingressChart, "cloudflared", &ingress.TunnelProps{Domain: p.Domain, TunnelID: p.Tunnel.ID, Origin: h.Nginx})
	} else {
		h.Nginx = ingress.NewNginx(ingressChart, "ingress-nginx", nginxRepo, &ingress.NginxProps{LAN: &ingress.NodePorts{}})
	}

	if m := p.Monitoring; m != nil {
		monChart := kube.NewChart(h.Platform, "monitoring", &kube.ChartProps{Dir: "kubernetes/platform/monitoring"})
		h.monitoringChart = monChart
		h.Monitoring = monitoring.NewStack(monChart, "kube-prometheus-stack", promRepo, &monitoring.StackProps{
			Retention: m.Retention,
			Volume:    storage.Volume{Class: cmp.Or(m.Class, h.DefaultClass()), Size: m.Volume},
			Ephemeral: m.Ephemeral,
		})
	}

	if h.NFS != nil {
		// The snapshots go off the nodes, to the NAS.
		backupChart := kube.NewChart(h.Platform, "backup", &kube.ChartProps{Dir: "kubernetes/platform/backup"})
		var cp string
		if cps := h.Cluster.ControlPlanes(); len(cps) > 0 {
			cp = cps[0].IP.String()
		}
		h.Snapshots = backup.NewEtcdSnapshots(backupChart, "etcd-snapshots", &backup.EtcdSnapshotsProps{
			Volume: storage.Volume{Class: h.NFS.Class, Size: "5Gi"}, Node: cp, TalosVersion: h.Cluster.TalosVersion,
			Recipients: h.operators,
		})
	}
	h.isolation()

	// Custom resources of the charts' CRDs: applied once platform (and
	// with it every HelmRelease) is ready.
	h.PlatformConfig = kube.NewChart(h.app, "platform-config", &kube.ChartProps{Dir: "kubernetes/platform-config"})
	if h.Monitoring != nil {
		targets := []monitoring.Target{
			{Name: "flux-controllers", Namespace: "flux-system", Pod: true, Port: "http-prom", Selector: map[string]string{"app.kubernetes.io/part-of": "flux"}},
		}
		if h.Longhorn != nil {
			targets = append(targets, monitoring.Target{Name: "longhorn", Namespace: h.Longhorn.Namespace, Port: "manager", Selector: map[string]string{"app": "longhorn-manager"}})
		}
		targets = append(targets, monitoring.Target{Name: "ingress-nginx", Namespace: h.Nginx.Namespace, Port: "metrics", Selector: map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}})
		if h.Tunnel != nil {
			targets = append(targets, monitoring.Target{Name: "cloudflared", Namespace: h.Tunnel.Namespace, Port: "metrics", Selector: map[string]string{"app.kubernetes.io/name": "cloudflared"}})
		}
		monitoring.NewMonitors(h.PlatformConfig, "monitors", h.Monitoring.Namespace, targets)
	}
	if h.Longhorn != nil && p.Longhorn.BackupTarget != "" {
		h.Longhorn.RecurringBackup(h.PlatformConfig, "backup-daily", core.Cron("0 3 * * *"), 7)
	}
	if h.Monitoring != nil {
		h.Alerting = monitoring.NewAlerting(h.PlatformConfig, "alerting", h.Monitoring, &monitoring.AlertingProps{Receiver: p.Monitoring.Alerts})
	}
}

// isolation renders the NetworkPolicies of the apps and of the parts run.
func (h *Homelab) isolation() {
	secChart := kube.NewChart(h.Platform, "security", &kube.ChartProps{Dir: "kubernetes/platform/security"})
	nodes := h.Cluster.Subnet()
	// Talos' own pods, from one render of the control-plane config.
	system := h.Cluster.SystemPods()
	// Egress to the internet leaves the pod network out.
	internet := security.Internet(h.Cluster.PodNetwork())
	security.NewIsolation(secChart, "apps", &security.IsolationProps{
		Namespace: "apps",
		Ingress:   []security.Peer{security.Namespace(h.Nginx.Namespace), security.OwnNamespace()},
		Egress:    []security.Peer{security.DNS(), security.OwnNamespace(), internet.On(security.TCP(443))},
	})
	if h.Tunnel != nil {
		var scrapes []security.Peer
		if h.Monitoring != nil {
			scrapes = []security.Peer{security.Namespace(h.Monitoring.Namespace).On(security.TCP(h.Tunnel.MetricsPort))}
		}
		security.NewIsolation(secChart, "cloudflared", &security.IsolationProps{
			Namespace: h.Tunnel.Namespace,
			Ingress:   scrapes,
			Egress: []security.Peer{security.DNS(),
				security.Namespace(h.Nginx.Namespace).On(security.TCP(80)),
				// The Cloudflare edge: QUIC or HTTP/2 on 7844, the API on 443.
				internet.On(security.TCP(7844), security.UDP(7844), security.TCP(443)),
			},
		})
	}
	// The API server, on the control planes, reaches the namespaces'
	// pods at the addresses of its nodes and the pod network (see the
	// webhook note below).
	apiServer := security.Prefix(nodes).On(security.TCP(6443))
	// ingress-nginx: admits the tunnel (or, on node ports, the LAN),
	// Prometheus' scrapes and the API server's calls of its admission
	// webhook; reaches the backends of Ingresses in any namespace but the
	// platform's internal ones, the cluster DNS and the API server, not
	// the internet.
	var web []security.Peer
	if h.Tunnel != nil {
		web = append(web, security.Namespace(h.Tunnel.Namespace).On(security.TCP(80)))
	}
	if h.Nginx.LAN != nil {
		// kube-proxy forwards node-port clients with their own address.
		web = append(web, security.CIDR("0.0.0.0/0").On(security.TCP(80), security.TCP(443)))
	}
	if h.Monitoring != nil {
		web = append(web, security.Namespace(h.Monitoring.Namespace).On(security.TCP(h.Nginx.MetricsPort)))
	}
	security.NewIsolation(secChart, "ingress-nginx", &security.IsolationProps{
		Namespace: h.Nginx.Namespace,
		Ingress:   append(web, h.webhookCallers(h.Nginx.WebhookPort)...),
		Egress:    []security.Peer{security.DNS(), security.AllNamespacesExcept(h.internalNamespaces()...), apiServer},
	})
	if h.NFS != nil {
		// The provisioner talks to the API server only: the kubelet
		// mounts the export for it, from the node.
		security.NewIsolation(secChart, "nfs-provisioner", &security.IsolationProps{
			Namespace: h.NFS.Namespace,
			Egress:    []security.Peer{security.DNS(), apiServer},
		})
	}
	if h.Snapshots != nil {
		// The snapshot job holds a Talos credential in kube-system: it
		// takes no connections and makes only its own, to the Talos API
		// of the control planes (the Service talos.default, which Talos
		// points at their apid port) and DNS.
		snap := security.NewPodPolicy(secChart, "etcd-snapshot", &security.PodPolicyProps{
			Name: "etcd-snapshot", Namespace: h.Snapshots.Namespace, Pods: backup.PodLabels(),
		})
		snap.AllowTo(security.DNS())
		snap.AllowTo(security.Prefix(nodes).On(security.TCP(constants.ApidPort)))
	}
	h.clusterDNS(secChart, system, apiServer)
	if h.Longhorn != nil {
		h.longhornIsolation(secChart, apiServer)
	}
	if h.Monitoring == nil {
		return
	}
	if h.Longhorn != nil {
		// Longhorn's chart admits into longhorn-manager only Longhorn's
		// own pods (networkPolicies.restrictInternalTraffic, on by
		// default): admit Prometheus' scrapes of its metrics port.
		security.NewPodPolicy(secChart, "longhorn-metrics", &security.PodPolicyProps{
			Name: "allow-metrics-scrapes", Namespace: h.Longhorn.Namespace, Pods: map[string]string{"app": "longhorn-manager"},
		}).Allow(prometheusPods(h.Monitoring.Namespace).On(security.TCP(storage.ManagerAPIPort)))
	}
	// The API server calls the operator's admission webhook for
	// PrometheusRules and AlertmanagerConfigs (the chart's port 10250).
	security.NewIsolation(secChart, "monitoring", &security.IsolationProps{
		Namespace: h.Monitoring.Namespace,
		Ingress:   append([]security.Peer{security.OwnNamespace()}, h.webhookCallers(10250)...),
		// Scrapes and queries in any namespace but the platform's, where
		// only the metrics ports are reached.
		Egress: append(h.scrapesOfPlatform(system), security.DNS(), security.AllNamespacesExcept(h.platformNamespaces()...),
			// Scrapes of host-network targets and the API server on the nodes.
			security.Prefix(nodes).On(security.TCP(6443), security.TCP(9100), security.TCP(10250), security.TCP(10257), security.TCP(10259), security.TCP(2381)),
			// Alertmanager's receivers (Telegram, Discord, webhooks on
			// HTTPS; mail on submission ports) and grafana.com, for the
			// dashboards pinned by id.
			internet.On(security.TCP(443), security.TCP(587), security.TCP(465)),
		),
	})
}

// internalNamespaces are the platform's namespaces that serve no
// Ingress and no dashboard: the ones the ingress controller and the
// monitoring stack, which reach every other namespace, do not reach
// (beyond DNS and metrics ports), so that a compromise of either, the
// parts closest to the internet, does not reach storage, Flux or the
// cluster's system pods.
func (h *Homelab) internalNamespaces() []string {
	out := []string{"kube-system", "flux-system"}
	if h.Longhorn != nil {
		out = append(out, h.Longhorn.Namespace)
	}
	if h.NFS != nil {
		out = append(out, h.NFS.Namespace)
	}
	return out
}

// platformNamespaces are the namespaces of the platform the monitoring
// stack reaches on metrics ports only: the internal ones and the edge
// (ingress-nginx, whose admission webhook a pod must not reach: an
// injection there ran code in the controller, CVE-2025-1974; and the
// tunnel).
func (h *Homelab) platformNamespaces() []string {
	out := append(h.internalNamespaces(), h.Nginx.Namespace)
	if h.Tunnel != nil {
		out = append(out, h.Tunnel.Namespace)
	}
	return out
}

// scrapesOfPlatform are the metrics ports Prometheus scrapes in the
// platform's namespaces: the cluster DNS', Longhorn manager's, Flux
// controllers', the ingress controller's and the tunnel's.
func (h *Homelab) scrapesOfPlatform(system []talos.SystemPod) []security.Peer {
	var out []security.Peer
	for _, sp := range system {
		for _, p := range sp.Ports {
			if p.ContainerPort != 53 {
				out = append(out, security.Pods("kube-system", sp.Labels).On(security.TCP(p.ContainerPort)))
			}
		}
	}
	if h.Longhorn != nil {
		out = append(out, security.Pods(h.Longhorn.Namespace, map[string]string{"app": "longhorn-manager"}).On(security.TCP(storage.ManagerAPIPort)))
	}
	out = append(out, security.Namespace("flux-system").On(security.TCP(8080)),
		security.Namespace(h.Nginx.Namespace).On(security.TCP(h.Nginx.MetricsPort)))
	if h.Tunnel != nil {
		out = append(out, security.Namespace(h.Tunnel.Namespace).On(security.TCP(h.Tunnel.MetricsPort)))
	}
	return out
}

// longhornIsolation isolates longhorn-system. Its ingress stays with the
// chart's policies (networkPolicies.restrictInternalTraffic: the
// manager, instance managers, webhooks and recovery backend admit
// Longhorn's own components) and the pod policies here for the pods
// Longhorn makes at run time that serve others; everything else (the
// UI, the CSI pods, the driver deployer) admits nothing, so a pod of
// another namespace cannot drive Longhorn's API through its UI. A
// namespace-wide ingress rule would undo the chart's, so there is none.
// Egress: the cluster DNS, Longhorn's own pods (the manager drives the
// instance managers, replicas stream to each other on ports of a range),
// the API server and the backup target.
func (h *Homelab) longhornIsolation(secChart constructs.Construct, apiServer security.Peer) {
	l := h.Longhorn
	egress := []security.Peer{security.DNS(), security.OwnNamespace(), apiServer}
	if dest, port, ok := l.BackupTargetEndpoint(); ok {
		egress = append(egress, security.Prefix(dest).On(security.TCP(port)))
	}
	security.NewIsolation(secChart, "longhorn-system", &security.IsolationProps{Namespace: l.Namespace, Egress: egress})
	for _, rp := range l.RuntimePods() {
		switch rp.Name {
		case "share-manager":
			// The manager drives it; the node of a pod that mounts the
			// ReadWriteMany volume mounts its NFS export from the host
			// (csi/node_server.go:1084-1092, nsmounter): from the node's
			// address, or masqueraded into the pod network.
			sm := security.NewPodPolicy(secChart, "longhorn-share-manager", &security.PodPolicyProps{
				Name: "share-manager", Namespace: l.Namespace, Pods: map[string]string{"longhorn.io/component": "share-manager"}})
			sm.Allow(security.Pods("", map[string]string{"app": "longhorn-manager"}).On(security.TCP(storage.ShareManagerPort)))
			for _, p := range h.hostCallers(storage.NFSPort) {
				sm.Allow(p)
			}
		case "support-bundle-manager":
			// The manager fetches the bundle; the bundle's node agents
			// upload to it.
			security.NewPodPolicy(secChart, "longhorn-support-bundle", &security.PodPolicyProps{
				Name: "support-bundle-manager", Namespace: l.Namespace, Pods: map[string]string{"app": "support-bundle-manager"},
			}).Allow(security.OwnNamespace().On(security.TCP(storage.SupportBundlePort)))
		}
	}
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
func (h *Homelab) clusterDNS(secChart constructs.Construct, system []talos.SystemPod, apiServer security.Peer) {
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
		if h.Monitoring != nil {
			dns.Allow(prometheusPods(h.Monitoring.Namespace).On(metrics...))
		}
		dns.AllowTo(apiServer)
		for _, up := range h.Cluster.DNSUpstreams() {
			dns.AllowTo(security.Prefix(netip.PrefixFrom(up, up.BitLen())).On(answers...))
		}
	}
}

// prometheusPods are Prometheus' pods, as prometheus-operator labels them.
func prometheusPods(namespace string) security.Peer {
	return security.Pods(namespace, map[string]string{"app.kubernetes.io/name": "prometheus"})
}

// webhookCallers admits the API server (host network on the control
// planes) to an admission webhook listening on port, called through its
// Service (see hostCallers); only a control plane that runs pods can be
// the webhook pod's own node.
func (h *Homelab) webhookCallers(port int32) []security.Peer {
	return h.callersFromHosts(port, h.Cluster.SchedulesOnControlPlanes())
}

// hostCallers admits host processes of any node (the kernel's NFS
// client, say) to a pod's port through its Service.
func (h *Homelab) hostCallers(port int32) []security.Peer {
	return h.callersFromHosts(port, true)
}

// callersFromHosts admits host processes to a pod's port through its
// Service. From another node than the pod's, which only a cluster of more
// than one node has, they arrive masqueraded into the pod network
// (flannel.1's address: flannel --ip-masq, and kube-proxy's masquerade
// of off-cluster clients); from the pod's own node (sameNode), the policy
// engine sees the node's address, before source NAT (pkg/oracle/netpol).
func (h *Homelab) callersFromHosts(port int32, sameNode bool) []security.Peer {
	var out []security.Peer
	if len(h.Cluster.Nodes()) > 1 {
		out = append(out, security.Prefix(h.Cluster.PodNetwork()).On(security.TCP(port)))
	}
	if sameNode {
		out = append(out, security.Prefix(h.Cluster.Subnet()).On(security.TCP(port)))
	}
	return out
}

// namespaces are the namespaces of the parts run, with the Pod Security
// level each needs (Longhorn's and the monitoring stack's node agents run
// privileged), kube-system (labelled, never deleted) and apps.
func (h *Homelab) namespaces() []Namespace {
	out := []Namespace{{Name: "kube-system", Existing: true}}
	if h.Longhorn != nil {
		out = append(out, Namespace{Name: h.Longhorn.Namespace, PodSecurity: "privileged"})
	}
	if h.NFS != nil {
		out = append(out, Namespace{Name: h.NFS.Namespace, PodSecurity: "baseline"})
	}
	out = append(out, Namespace{Name: h.Nginx.Namespace, PodSecurity: "baseline"})
	if h.Tunnel != nil {
		out = append(out, Namespace{Name: h.Tunnel.Namespace, PodSecurity: "restricted"})
	}
	if h.Monitoring != nil {
		out = append(out, Namespace{Name: h.Monitoring.Namespace, PodSecurity: "privileged"})
	}
	return append(out, Namespace{Name: "apps", PodSecurity: "restricted"})
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
		if a.Host != "" && h.Tunnel != nil {
			a.Tunnel = h.Tunnel
		} else if a.Host != "" {
			a.LAN = true
		}
		if a.Host != "" && a.Ingress == nil && a.IngressClass == "" {
			a.Ingress = h.Nginx
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
// on ingress-nginx's HTTP node port in the LAN.
func (h *Homelab) URL(host string) string {
	if h.Tunnel == nil && h.Nginx.LAN != nil {
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
func (h *Homelab) DefaultClass() *storage.StorageClass {
	switch {
	case h.Longhorn != nil:
		return h.Longhorn.Class
	case h.NFS != nil:
		return h.NFS.Class
	}
	return nil
}

// secrets declares every Secret the platform needs; their values come
// encrypted from src (`homelab secrets set NAMESPACE/NAME KEY`).
func (h *Homelab) secrets(src secret.Source, p *Platform) {
	if h.Monitoring != nil {
		if name, keys := p.Monitoring.Alerts.Secret(); name != "" {
			h.Secrets = append(h.Secrets, secret.New(h.monitoringChart, name, &secret.Props{
				Namespace: h.Monitoring.Namespace, Name: name, Keys: keys, Source: src,
			}))
		}
	}
	if h.Tunnel != nil {
		h.Secrets = append(h.Secrets, secret.New(h.ingressChart, "cloudflared-credentials", &secret.Props{
			Namespace: h.Tunnel.Namespace, Name: h.Tunnel.CredentialsSecret(), Keys: []string{"credentials.json"}, Source: src,
		}))
	}
	if h.Monitoring != nil {
		h.Secrets = append(h.Secrets, secret.New(h.monitoringChart, "grafana-admin", &secret.Props{
			Namespace: h.Monitoring.Namespace, Name: h.Monitoring.AdminSecret, Keys: []string{"admin-user", "admin-password"}, Source: src,
		}))
	}
	// The Flux Git credentials: applied by the deployer before Flux can
	// read the repository, so never rendered into it.
	h.Secrets = append(h.Secrets, secret.New(h.Flux, "flux-git-credentials", &secret.Props{
		Namespace: "flux-system", Name: "flux-system", Keys: []string{"identity", "identity.pub", "known_hosts"}, Source: src, Bootstrap: true,
	}))
}
