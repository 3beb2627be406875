package homelab

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/backup"
	"github.com/funoffshore/homelab/constructs/certs"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/monitoring"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/constructs/telemetry"
	"github.com/funoffshore/homelab/pkg/lab"
)

// Namespace is a namespace the platform creates: Name, PodSecurity
// ("privileged", "baseline", "restricted"; empty keeps the cluster
// default, Talos' baseline) and Existing (a namespace the cluster
// already has, kube-system: Flux labels it but never deletes it).
type Namespace = platform.Namespace

// Props are a homelab's values. Zero values are neutral: a required value
// left empty is a validation error naming it, never another homelab's
// value (Funoffshore's are in Funoffshore()).
type Props struct {
	// RepoURL is the Git repository Flux pulls. Required.
	RepoURL string
	// Branch Flux follows. Default: "main".
	Branch string
	// Namespaces to create besides those the homelab creates itself
	// (kube-system, labelled; apps; and the namespace of each part
	// Platform runs; flux-system comes with Flux).
	Namespaces []Namespace
	// Apps run in cluster/kubernetes/apps. Default: none.
	Apps []apps.AppProps
	// Dashboard, if set, runs after the apps and links those with a
	// public host. Default: none.
	Dashboard *Dashboard
	// Machines are the Proxmox hosts and the Talos nodes on their VMs.
	// Required.
	Machines *Machines
	// Platform holds the platform's values. Required.
	Platform *Platform
	// Secrets supplies the encrypted Secrets (the store under secrets/,
	// read by the CLI). Default: none, so every Secret is pending.
	Secrets secret.Source
	// Operators are the operators' age public keys (the recipients in
	// .sops.yaml, read by the CLI): the etcd snapshots are encrypted for
	// them before they go to the NAS. Default: none, and the snapshots
	// are stored as etcd writes them.
	Operators []string
}

// Machines describes the hypervisor and OS layers.
type Machines struct {
	// ClusterName of the Talos cluster.
	ClusterName string
	// TalosVersion and KubernetesVersion; empty for the defaults of the
	// pinned Talos machinery (Kubernetes: the latest it supports).
	TalosVersion, KubernetesVersion string
	// Subnet of the node network.
	Subnet string
	// VLAN tag of the VMs' NICs; 0 for untagged.
	VLAN int
	// Endpoint of the Kubernetes API; empty for the first control plane.
	Endpoint string
	// VIP is a shared control-plane address; empty for none.
	VIP string
	// SurviveHostLoss declares that the homelab must survive the loss of
	// any one Proxmox host: validation refuses a placement whose host
	// loss loses etcd quorum or leaves the apps without room. Unset, the
	// same findings are printed by validate as warnings.
	SurviveHostLoss bool
	// WorkloadsOnControlPlanes lets pods run on the control planes
	// (cluster.allowSchedulingOnControlPlanes): a single-node homelab
	// needs it. Needs that follow the pods, such as Longhorn's disk, then
	// reach the control planes too.
	WorkloadsOnControlPlanes bool
	// Patches are typed Talos config patches of your own (a proxy for
	// Talos' services, sysctls, ...), merged after the homelab's own.
	// `plan` and `diff` say whether the nodes take them live or reboot.
	Patches []talos.Patch
	// ISOSHA256 is the boot ISO's SHA-256, for Proxmox to verify its
	// download; empty skips the check.
	ISOSHA256 string
	// Hosts are the Proxmox hosts.
	Hosts []proxmox.HostProps
	// Nodes are the Talos nodes, one VM each.
	Nodes []Node
}

// Node is a Talos node on its own VM.
type Node struct {
	// Name is the hostname and the VM name.
	Name string
	// Role is talos.ControlPlane or talos.Worker.
	Role talos.Role
	// IP is the node's address (a static DHCP lease on the VM's MAC).
	IP string
	// VMID, Cores, MemoryGiB and DiskGiB size the VM.
	VMID, Cores, MemoryGiB, DiskGiB int
	// Host pins the VM to the host with this name; empty places it
	// automatically.
	Host string
	// InstallDisk overrides the cluster's install disk ("/dev/sda").
	InstallDisk string
	// MAC overrides the VM's derived MAC address (for a DHCP lease
	// made before); empty derives a stable one from the name.
	MAC string
}

// Homelab is a whole homelab: its charts and the constructs in them.
type Homelab struct {
	// Flux, Platform and Apps are the charts for cluster/kubernetes/flux,
	// cluster/kubernetes/platform and cluster/kubernetes/apps.
	Flux, Platform, Apps *kube.Chart
	// Install is the Flux install (gotk-components.yaml).
	Install *flux.Install
	// Sync is the Git sync (gotk-sync.yaml) with the root Kustomization.
	Sync *flux.Sync
	// PlatformKustomization and AppsKustomization apply the platform and
	// apps directories, in that order (apps.yaml).
	PlatformKustomization, AppsKustomization *flux.Kustomization
	// AppConstructs holds the app constructs of Props.Apps and the
	// dashboard, in that order (App finds one by name).
	AppConstructs []*apps.App
	// Datacenter holds the Proxmox hosts and VMs.
	Datacenter *proxmox.Datacenter
	// Cluster is the Talos cluster.
	Cluster *talos.Cluster
	// PlatformConfig is the chart for cluster/kubernetes/platform-config:
	// custom resources of the platform charts' CRDs, applied by
	// PlatformConfigKustomization after platform is ready.
	PlatformConfig              *kube.Chart
	PlatformConfigKustomization *flux.Kustomization
	// The platform's constructs; nil for a part Platform does not run
	// (Nginx always runs).
	Longhorn   *storage.Longhorn
	NFS        *storage.NFS
	Nginx      *ingress.Nginx
	Tunnel     *ingress.Tunnel
	Monitoring *monitoring.Stack
	// Alerting routes the alerts to Platform.Monitoring.Alerts.
	Alerting *monitoring.Alerting
	// Snapshots takes the etcd snapshots (with Platform.NFS).
	Snapshots *backup.EtcdSnapshots
	// CertManager issues the apps' certificates (with Platform.Certs);
	// Issuers are its ClusterIssuers.
	CertManager *certs.CertManager
	Issuers     certs.Issuers
	// Loki, Tempo and Collector keep and collect the logs and traces
	// (with Platform.Telemetry; Tempo with its TraceVolume).
	Loki      *telemetry.Loki
	Tempo     *telemetry.Tempo
	Collector *telemetry.Collector

	// Secrets are the Secrets the homelab declares; values in the store.
	Secrets []*secret.Secret

	app       constructs.Construct
	plat      *platform.Platform
	operators []string
}

// New builds the homelab below scope (usually a core.App); nil props
// build Funoffshore's (Funoffshore()).
func New(scope constructs.Construct, props *Props) *Homelab {
	props = cmp.Or(props, Funoffshore())
	p := *props
	noMachines, noPlatform := p.Machines == nil, p.Platform == nil
	if noMachines {
		p.Machines = &Machines{}
	}
	if noPlatform {
		p.Platform = &Platform{}
	}

	h := &Homelab{app: scope, operators: p.Operators}
	h.machines(scope, p.Machines)
	h.Flux = kube.NewChart(scope, "flux", &kube.ChartProps{Dir: "kubernetes/flux"})
	h.Platform = kube.NewChart(scope, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	h.Apps = kube.NewChart(scope, "apps", &kube.ChartProps{Dir: "kubernetes/apps"})

	h.Flux.Info().Tree().AddValidation(func() []error {
		var errs []error
		if p.RepoURL == "" {
			errs = append(errs, core.Errorf(h.Sync.Info().Path(), "set homelab.Props.RepoURL to the Git repository Flux pulls, such as \"ssh://git@github.com/OWNER/REPO\"", "homelab.Props.RepoURL is empty"))
		}
		if noMachines {
			errs = append(errs, core.Errorf(h.Cluster.Info().Path(), "set homelab.Props.Machines to the Proxmox hosts and Talos nodes", "homelab.Props.Machines is nil"))
		}
		if noPlatform {
			errs = append(errs, core.Errorf(h.Platform.Info().Path(), "set homelab.Props.Platform (Domain and the parts to run)", "homelab.Props.Platform is nil"))
		}
		var needs []string
		if m := p.Platform.Monitoring; m != nil && m.Class == nil && !m.Ephemeral {
			needs = append(needs, "Platform.Monitoring")
		}
		if p.Platform.Telemetry != nil {
			needs = append(needs, "Platform.Telemetry")
		}
		for _, a := range p.Apps {
			if a.Volume != nil && a.Volume.Class == nil && a.Volume.Export == nil {
				needs = append(needs, "app "+a.Name)
			}
		}
		if h.DefaultClass() == nil && len(needs) > 0 {
			errs = append(errs, core.Errorf(h.Platform.Info().Path(), "set Platform.Longhorn or Platform.NFS, or give each volume its own class",
				"%s need a volume of the default class, and the platform runs no storage (Platform.Longhorn and Platform.NFS are nil)", strings.Join(needs, ", ")))
		}
		return errs
	})
	h.Install = flux.NewInstall(h.Flux, "gotk-components", nil)
	h.Sync = flux.NewSync(h.Flux, "gotk-sync", &flux.SyncProps{URL: p.RepoURL, Branch: p.Branch, Chart: h.Flux, Install: h.Install})
	ks := kube.NewGroup(h.Flux, "apps")
	h.PlatformKustomization = flux.NewKustomization(ks, "platform", &flux.KustomizationProps{
		Chart: h.Platform, DependsOn: []*flux.Kustomization{h.Sync.Root},
		// Installing every chart on N100 nodes takes a while.
		Timeout: 15 * time.Minute,
	})
	h.AppsKustomization = flux.NewKustomization(ks, "apps", &flux.KustomizationProps{
		Chart: h.Apps, DependsOn: []*flux.Kustomization{h.PlatformKustomization},
	})

	h.platform(p.Platform, p.Secrets)
	h.siteValues(p.Platform)
	// The Flux Git credentials: applied by the deployer before Flux can
	// read the repository, so never rendered into it.
	h.Secrets = append(h.Secrets, secret.New(h.Flux, "flux-git-credentials", &secret.Props{
		Namespace: "flux-system", Name: "flux-system", Keys: []string{"identity", "identity.pub", "known_hosts"}, Source: p.Secrets, Bootstrap: true,
	}))
	h.PlatformConfigKustomization = flux.NewKustomization(ks, "platform-config", &flux.KustomizationProps{
		Chart: h.PlatformConfig, DependsOn: []*flux.Kustomization{h.PlatformKustomization},
	})
	p.Apps = h.wireApps(p.Apps, p.Dashboard, p.Platform.Domain)

	p.Namespaces = append(h.namespaces(), p.Namespaces...)
	nss := kube.NewGroup(h.Platform, "namespaces")
	// Sorted by name: the order of the list has no meaning.
	for _, ns := range slices.SortedFunc(slices.Values(p.Namespaces), func(a, b Namespace) int { return cmp.Compare(a.Name, b.Name) }) {
		np := &kube.NamespaceProps{Name: ns.Name, PodSecurity: ns.PodSecurity}
		if ns.Existing {
			// Flux must never delete a namespace the cluster owns.
			np.Annotations = map[string]string{"kustomize.toolkit.fluxcd.io/prune": "disabled"}
		}
		kube.NewNamespace(nss, ns.Name, np)
	}
	seen := map[string]bool{}
	for i := range p.Apps {
		a := p.Apps[i]
		// Ids come from names; an empty or repeated name still gets a
		// construct, so validation reports it instead of a panic.
		id := a.Name
		if id == "" || seen[id] || strings.Contains(id, "/") {
			id = fmt.Sprintf("app-%d", i)
		}
		seen[id] = true
		h.AppConstructs = append(h.AppConstructs, apps.NewApp(h.Apps, id, &a))
	}
	return h
}

func (h *Homelab) machines(scope constructs.Construct, m *Machines) {
	h.Datacenter = proxmox.NewDatacenter(scope, "proxmox", nil)
	hosts := map[string]*proxmox.Host{}
	for i := range m.Hosts {
		hp := m.Hosts[i]
		id := hp.Name
		if id == "" || hosts[id] != nil {
			id = fmt.Sprintf("host-%d", i)
		}
		hosts[hp.Name] = h.Datacenter.AddHost(id, &hp)
	}
	var patches []talos.Patch
	if m.WorkloadsOnControlPlanes {
		patches = append(patches, talos.Patch{Role: talos.ControlPlane, Config: &v1alpha1.Config{
			ClusterConfig: &v1alpha1.ClusterConfig{AllowSchedulingOnControlPlanes: ptr.To(true)},
		}})
	}
	patches = append(patches, m.Patches...)
	h.Cluster = talos.NewCluster(scope, "talos", &talos.ClusterProps{
		Name: m.ClusterName, TalosVersion: m.TalosVersion, KubernetesVersion: m.KubernetesVersion, Subnet: m.Subnet,
		Endpoint: m.Endpoint, VIP: m.VIP, ISOSHA256: m.ISOSHA256, SurviveHostLoss: m.SurviveHostLoss, Patches: patches,
	})
	seen := map[string]bool{}
	for i, n := range m.Nodes {
		id := n.Name
		if id == "" || seen[id] {
			id = fmt.Sprintf("node-%d", i)
		}
		seen[id] = true
		vm := h.Datacenter.AddVM(id, &proxmox.VMProps{
			Name: n.Name, VMID: n.VMID, Cores: n.Cores, MemoryGiB: n.MemoryGiB, DiskGiB: n.DiskGiB, VLAN: m.VLAN, Host: hosts[n.Host], MAC: n.MAC,
		})
		if n.Host != "" && hosts[n.Host] == nil {
			names := slices.Sorted(maps.Keys(hosts))
			pin := n.Host
			vm.Info().Tree().AddValidation(func() []error {
				return []error{core.Errorf(vm.Info().Path(), fmt.Sprintf("pin it to one of the hosts (%s), or leave Host empty to place it automatically", strings.Join(names, ", ")),
					"the VM is pinned to host %q, which Machines.Hosts does not have", pin)}
			})
		}
		h.Cluster.AddNode(id, &talos.NodeProps{Hostname: n.Name, IP: n.IP, Role: n.Role, Machine: vm, InstallDisk: n.InstallDisk})
	}
}

// NewApp returns a core.App holding the homelab built from props.
func NewApp(props *Props) (*core.App, *Homelab) {
	app := core.NewApp(nil)
	return app, New(app, props)
}

// NewLab builds the homelab of props in a new core.App and returns it as
// the commands take it (package cli's Builder): the tree with the Talos
// cluster and the Proxmox datacenter.
func NewLab(props *Props) (*lab.Lab, *Homelab) {
	app, h := NewApp(props)
	return &lab.Lab{App: app, Cluster: h.Cluster, Datacenter: h.Datacenter}, h
}
