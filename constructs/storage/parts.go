package storage

import (
	"cmp"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/security"
)

// LonghornChart is the pinned Longhorn chart.
// renovate: datasource=helm
var LonghornChart = flux.Chart{Repository: "https://charts.longhorn.io", Name: "longhorn", Version: "1.12.1"}

// NFSChart is the pinned nfs-subdir-external-provisioner chart.
// renovate: datasource=helm
var NFSChart = flux.Chart{Repository: "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner", Name: "nfs-subdir-external-provisioner", Version: "4.0.18"}

// Dir is the directory of the storage parts below
// cluster/kubernetes/platform.
const Dir = "storage"

// LonghornPart runs Longhorn (NewLonghorn) as a platform part: in the
// privileged namespace it needs, isolated, scraped, and with a daily
// backup (7 kept) when props set a BackupTarget.
func LonghornPart(props *LonghornProps) platform.Part {
	lp := &longhornPart{props: *cmp.Or(props, &LonghornProps{})}
	lp.props.Namespace = cmp.Or(lp.props.Namespace, "longhorn-system")
	return lp
}

type longhornPart struct {
	props LonghornProps
	l     *Longhorn
}

func (lp *longhornPart) Charts() []flux.Chart { return []flux.Chart{LonghornChart} }

// Namespaces: Longhorn's node agents run privileged.
func (lp *longhornPart) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: lp.props.Namespace, PodSecurity: "privileged", Internal: true}}
}

func (lp *longhornPart) Build(p *platform.Platform) {
	lp.l = NewLonghorn(p.Chart(Dir), "longhorn", p.Repository(LonghornChart), &lp.props)
	p.Add(lp.l)
}

// managerPods are longhorn-manager's pods.
func managerPods() map[string]string { return map[string]string{"app": "longhorn-manager"} }

func (lp *longhornPart) Scrapes() []platform.Scrape {
	return []platform.Scrape{{
		To:      security.Pods(lp.l.Namespace, managerPods()).On(security.TCP(ManagerAPIPort)),
		Monitor: &platform.Monitor{Name: "longhorn", Namespace: lp.l.Namespace, Port: "manager", Selector: managerPods()},
	}}
}

// Dashboards: Longhorn's own, from grafana.com.
func (lp *longhornPart) Dashboards() []platform.Dashboard {
	return []platform.Dashboard{{Name: "longhorn", GnetID: 13032, Revision: 6}}
}

// Alerts: a degraded volume (a replica lost) and a faulted one (no
// healthy replica: its data unreachable).
func (lp *longhornPart) Alerts() []platform.AlertGroup {
	return []platform.AlertGroup{{Name: "storage", Alerts: []platform.Alert{
		{Name: "LonghornVolumeDegraded", Expr: `longhorn_volume_robustness == 2`, For: "10m", Severity: "warning", Summary: "Longhorn volume {{ $labels.volume }} is degraded"},
		{Name: "LonghornVolumeFaulted", Expr: `longhorn_volume_robustness == 3`, For: "2m", Severity: "critical", Summary: "Longhorn volume {{ $labels.volume }} is faulted"},
	}}}
}

func (lp *longhornPart) Configure(p *platform.Platform, scope constructs.Construct) {
	if lp.props.BackupTarget != "" {
		lp.l.RecurringBackup(scope, "backup-daily", core.Cron("0 3 * * *"), 7)
	}
}

// Isolate isolates longhorn-system. Its ingress stays with the chart's
// policies (networkPolicies.restrictInternalTraffic: the manager,
// instance managers, webhooks and recovery backend admit Longhorn's own
// components) and the pod policies here for the pods Longhorn makes at
// run time that serve others, and for the scrapes of the manager's
// metrics; everything else (the UI, the CSI pods, the driver deployer)
// admits nothing, so a pod of another namespace cannot drive Longhorn's
// API through its UI. A namespace-wide ingress rule would undo the
// chart's, so there is none. Egress: the cluster DNS, Longhorn's own
// pods (the manager drives the instance managers, replicas stream to
// each other on ports of a range), the API server and the backup target.
func (lp *longhornPart) Isolate(p *platform.Platform, scope constructs.Construct) {
	l := lp.l
	egress := []security.Peer{security.DNS(), security.OwnNamespace(), p.APIServer()}
	if dest, port, ok := l.BackupTargetEndpoint(); ok {
		egress = append(egress, security.Prefix(dest).On(security.TCP(port)))
	}
	security.NewIsolation(scope, "longhorn-system", &security.IsolationProps{Namespace: l.Namespace, Egress: egress})
	for _, rp := range l.RuntimePods() {
		switch rp.Name {
		case "share-manager":
			// The manager drives it; the node of a pod that mounts the
			// ReadWriteMany volume mounts its NFS export from the host
			// (csi/node_server.go:1084-1092, nsmounter): from the node's
			// address, or masqueraded into the pod network.
			sm := security.NewPodPolicy(scope, "longhorn-share-manager", &security.PodPolicyProps{
				Name: "share-manager", Namespace: l.Namespace, Pods: map[string]string{"longhorn.io/component": "share-manager"}})
			sm.Allow(security.Pods("", managerPods()).On(security.TCP(ShareManagerPort)))
			for _, c := range p.HostCallers(NFSPort) {
				sm.Allow(c)
			}
		case "support-bundle-manager":
			// The manager fetches the bundle; the bundle's node agents
			// upload to it.
			security.NewPodPolicy(scope, "longhorn-support-bundle", &security.PodPolicyProps{
				Name: "support-bundle-manager", Namespace: l.Namespace, Pods: map[string]string{"app": "support-bundle-manager"},
			}).Allow(security.OwnNamespace().On(security.TCP(SupportBundlePort)))
		}
	}
	// The chart admits into longhorn-manager only Longhorn's own pods
	// (networkPolicies.restrictInternalTraffic, on by default): admit
	// the scrapes of its metrics port.
	for _, s := range p.ScrapedOn(security.TCP(ManagerAPIPort)) {
		security.NewPodPolicy(scope, "longhorn-metrics", &security.PodPolicyProps{
			Name: "allow-metrics-scrapes", Namespace: l.Namespace, Pods: managerPods(),
		}).Allow(s)
	}
}

// NFSPart runs the NFS provisioner (NewNFS) as a platform part.
func NFSPart(props *NFSProps) platform.Part {
	np := &nfsPart{props: *cmp.Or(props, &NFSProps{})}
	np.props.Namespace = cmp.Or(np.props.Namespace, "nfs-provisioner")
	return np
}

type nfsPart struct {
	props NFSProps
	n     *NFS
}

func (np *nfsPart) Charts() []flux.Chart { return []flux.Chart{NFSChart} }

func (np *nfsPart) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: np.props.Namespace, PodSecurity: "baseline", Internal: true}}
}

func (np *nfsPart) Build(p *platform.Platform) {
	np.n = NewNFS(p.Chart(Dir), "nfs", p.Repository(NFSChart), &np.props)
	p.Add(np.n)
}

// Isolate: the provisioner talks to the API server only (the kubelet
// mounts the export for it, from the node).
func (np *nfsPart) Isolate(p *platform.Platform, scope constructs.Construct) {
	security.NewIsolation(scope, "nfs-provisioner", &security.IsolationProps{
		Namespace: np.n.Namespace,
		Egress:    []security.Peer{security.DNS(), p.APIServer()},
	})
}

// DefaultClass is the storage class a volume without one gets on p:
// Longhorn's, else NFS's, else nil.
func DefaultClass(p *platform.Platform) *StorageClass {
	if l, ok := platform.Find[*Longhorn](p); ok {
		return l.Class
	}
	if n, ok := platform.Find[*NFS](p); ok {
		return n.Class
	}
	return nil
}
