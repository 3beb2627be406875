package homelab_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
)

// invalidCase is a small mutation of the Funoffshore homelab: of its props
// before the tree is built (props), or of the tree after (tree).
type invalidCase struct {
	name  string
	props func(p *homelab.Props)
	tree  func(app *core.App, h *homelab.Homelab)
	// want is one whole validation message, exactly: construct path, bad
	// value, fix.
	want string
}

func funoffshoreProps() *homelab.Props {
	return homelab.Funoffshore()
}

// invalidCases are the rows of the suite: the composition's own, the
// tree-wide checks' (treeRows) and the rule classes' (classRows).
var invalidCases = slices.Concat(compositionRows, treeRows, classRows)

// compositionRows mutate the Funoffshore props across layers.
var compositionRows = []invalidCase{
	{
		name:  "an operator key that is no age public key",
		props: func(p *homelab.Props) { p.Operators = []string{"ssh-ed25519 AAAAC3Nza"} },
		want:  `platform/backup/etcd-snapshots: recipient "ssh-ed25519 AAAAC3Nza" is not an age public key; use the operators' age public keys (age1..., the recipients in .sops.yaml)`,
	},
	{
		name:  "the memo's VMs on one 16 GB host",
		props: func(p *homelab.Props) { p.Machines.Hosts = p.Machines.Hosts[:1] },
		want:  `proxmox/talos-w-2: VM "talos-w-2" needs 4 GiB but no host has that much free (pve-1: 2 GiB free); add a host or shrink the VMs`,
	},
	{
		name: "VMs pinned to a host bigger than it",
		props: func(p *homelab.Props) {
			for i := range p.Machines.Nodes {
				p.Machines.Nodes[i].Host = "pve-1"
			}
		},
		want: `proxmox/pve-1: VMs talos-cp-1+talos-w-1+talos-w-2 need 16 GiB but 14 GiB is free (16 GiB - 2 GiB reserve); add a host or shrink a VM`,
	},
	{
		name:  "more vCPUs than the host allows",
		props: func(p *homelab.Props) { p.Machines.Nodes[0].Cores = 10 },
		want:  `proxmox/pve-1: VMs talos-cp-1+talos-w-2 have 12 vCPUs but the host allows 8 (4 cores x 2.0 overcommit); add a host, give the VMs fewer cores or raise CPUOvercommit`,
	},
	{
		name:  "a host's loss the homelab declares it must survive",
		props: func(p *homelab.Props) { p.Machines.SurviveHostLoss = true },
		want:  `talos: losing Proxmox host pve-1 loses etcd quorum (1 of 1 control planes run on it: talos-cp-1), so the Kubernetes API stops; run 3 control planes, one per host (etcd keeps quorum when one of 3 is lost, never when 1 of 1 or 2 is)`,
	},
	{
		name:  "a duplicate node IP",
		props: func(p *homelab.Props) { p.Machines.Nodes[2].IP = "192.168.1.111" },
		want:  `talos/talos-w-2: IP 192.168.1.111 (node talos-w-2) is already used by "talos/talos-w-1" (node talos-w-1); give every node, host, VIP and server its own address`,
	},
	{
		name:  "a duplicate hostname",
		props: func(p *homelab.Props) { p.Machines.Nodes[2].Name = "talos-w-1" },
		want:  `talos/node-2: hostname "talos-w-1" is already used by "talos/talos-w-1"; give every node its own hostname`,
	},
	{
		name:  "a node IP outside the subnet",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].IP = "10.0.0.5" },
		want:  `talos/talos-w-1: IP 10.0.0.5 is outside the node subnet 192.168.1.0/24; use an address inside 192.168.1.0/24 that is neither its network nor its broadcast address, or change the cluster subnet`,
	},
	{
		name:  "a node IP that does not parse",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].IP = "192.168.1.300" },
		want:  `talos/talos-w-1: IP "192.168.1.300" is not an IPv4 address: 300 is above 255; write an IPv4 address such as "192.168.1.20"`,
	},
	{
		name:  "an endpoint that is no control-plane IP",
		props: func(p *homelab.Props) { p.Machines.Endpoint = "https://192.168.1.111:6443" },
		want:  `talos: endpoint "https://192.168.1.111:6443" is neither a control-plane node IP nor the VIP; point the endpoint at a control-plane IP, or set VIP`,
	},
	{
		name:  "a VIP outside the subnet",
		props: func(p *homelab.Props) { p.Machines.VIP = "10.1.1.1" },
		want:  `talos: VIP 10.1.1.1 is outside the node subnet 192.168.1.0/24; pick a free address inside the node subnet`,
	},
	{
		name:  "a Kubernetes version the Talos version does not support",
		props: func(p *homelab.Props) { p.Machines.KubernetesVersion = "1.30.4" },
		want:  `talos: Kubernetes 1.30.4: version of Kubernetes 1.30.4 is too old to be used with Talos 1.13.9; pick a Kubernetes version the Talos release supports (default: 1.36.3)`,
	},
	{
		name:  "a Talos version that does not parse",
		props: func(p *homelab.Props) { p.Machines.TalosVersion = "latest" },
		want:  `talos: Talos version "latest" is no release tag (vMAJOR.MINOR.PATCH); use a full Talos release tag such as "v1.13.9"`,
	},
	{
		name: "no control plane",
		props: func(p *homelab.Props) {
			p.Machines.Nodes[0].Role = "worker"
		},
		want: `talos: the cluster has no control-plane node; add a node with Role ControlPlane`,
	},
	{
		name:  "a hostname that is no DNS label",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].Name = "Talos_W1" },
		want:  `talos/Talos_W1: hostname "Talos_W1" is not a valid DNS label; use lowercase letters, digits and '-', at most 63`,
	},
	{
		name:  "an install disk that does not match the VM's disk bus",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].InstallDisk = "/dev/vda" },
		want:  `talos/talos-w-1: install disk "/dev/vda" does not match the VM's disk bus (scsi); use "/dev/sda": the VM's disk is on virtio-scsi`,
	},
	{
		name:  "a duplicate vmid",
		props: func(p *homelab.Props) { p.Machines.Nodes[2].VMID = 111 },
		want:  `proxmox/talos-w-2: vmid "111" is already used by "proxmox/talos-w-1"; give each vmid its own value`,
	},
	{
		name:  "a vmid Proxmox refuses",
		props: func(p *homelab.Props) { p.Machines.Nodes[0].VMID = 42 },
		want:  `proxmox/talos-cp-1: vmid 42 is outside Proxmox's range; set VMProps.VMID between 100 and 999999999`,
	},
	{
		name:  "a VLAN tag out of range",
		props: func(p *homelab.Props) { p.Machines.VLAN = 5000 },
		want:  `proxmox/talos-cp-1: VLAN 5000 is out of range; use a VLAN tag from 1 to 4094, or 0 for none`,
	},
	{
		name:  "a host endpoint that is not https",
		props: func(p *homelab.Props) { p.Machines.Hosts[1].Endpoint = "192.168.1.11:8006" },
		want:  `proxmox/pve-2: endpoint "192.168.1.11:8006" is not an https URL; use the API URL, such as "https://192.168.1.10:8006"`,
	},
	{
		name:  "a subnet that overlaps the pod network",
		props: func(p *homelab.Props) { p.Machines.Subnet = "10.244.0.0/24" },
		want:  `talos: pod CIDR 10.244.0.0/16 overlaps the node subnet 10.244.0.0/24; pick a range that does not overlap the node subnet`,
	},
	{
		name:  "a namespace that is no Kubernetes name",
		props: func(p *homelab.Props) { p.Namespaces = append(p.Namespaces, homelab.Namespace{Name: "Media_Apps"}) },
		want:  `platform/namespaces/Media_Apps: Namespace name "Media_Apps" is not a valid DNS label: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'); use at most 63 lowercase letters, digits and '-'`,
	},
	{
		name:  "an app image without a tag",
		props: func(p *homelab.Props) { p.Apps = append(p.Apps, apps.AppProps{Name: "web", Image: "nginx", Port: 80}) },
		want:  `apps/web: image "nginx" is not pinned; pin a tag or digest such as "nginx:1.27.3"`,
	},
	{
		name:  "two apps with the same name",
		props: func(p *homelab.Props) { p.Apps = append(p.Apps, p.Apps[0]) },
		want:  `apps/app-2/deployment: Deployment.apps/apps/echo is defined twice (also at "apps/echo/deployment"); rename one of them or remove the duplicate at "apps/echo/deployment"`,
	},
	{
		name: "a dependsOn cycle",
		tree: func(_ *core.App, h *homelab.Homelab) { h.PlatformKustomization.AddDependsOn(h.AppsKustomization) },
		want: `flux/apps/apps: dependsOn forms a cycle: apps -> platform -> apps; remove one of these dependsOn links`,
	},
	{
		name: "a Kustomization path no chart renders",
		tree: func(_ *core.App, h *homelab.Homelab) {
			flux.NewKustomization(h.Flux, "media", &flux.KustomizationProps{Path: "./cluster/kubernetes/media"})
		},
		want: `flux/media: path "./cluster/kubernetes/media" is rendered by no chart; point it at a chart's directory ("./cluster/kubernetes/apps", "./cluster/kubernetes/flux", "./cluster/kubernetes/platform", "./cluster/kubernetes/platform-config", "./cluster/kubernetes/platform/backup", "./cluster/kubernetes/platform/certs", "./cluster/kubernetes/platform/ingress", "./cluster/kubernetes/platform/monitoring", "./cluster/kubernetes/platform/security", "./cluster/kubernetes/platform/storage", "./cluster/kubernetes/platform/telemetry") or pass Chart instead of Path`,
	},
	{
		name: "an object no Kustomization applies",
		tree: func(app *core.App, _ *homelab.Homelab) {
			c := kube.NewChart(app, "media", &kube.ChartProps{Dir: "kubernetes/media"})
			kube.NewObject(c, "config", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "media", Namespace: "apps"}})
		},
		want: `media/config: ConfigMap/apps/media in "kubernetes/media" is applied by no Flux Kustomization (orphan); add a Flux Kustomization for kubernetes/media or move the object into a directory a Kustomization applies`,
	},
	{
		name: "a VM of another homelab",
		tree: func(_ *core.App, h *homelab.Homelab) {
			other := proxmox.NewDatacenter(core.NewApp(nil), "elsewhere", nil)
			h.Cluster.AddNode("stray", &talos.NodeProps{IP: "192.168.1.120", Machine: other.AddVM("stray", &proxmox.VMProps{VMID: 900})})
		},
		want: `talos/stray: VM "stray" is not in this homelab; use a VM of this homelab`,
	},
}

// treeRows add constructs to the built tree that tree-wide checks refuse.
var treeRows = []invalidCase{
	{
		name: "two default storage classes",
		tree: func(_ *core.App, h *homelab.Homelab) {
			storage.NewStorageClass(h.Platform, "fast", &storage.StorageClassProps{Provisioner: "driver.longhorn.io", Default: true})
		},
		want: `platform/storage/nfs/storage-class: 2 storage classes are marked default; keep Default on one class only (platform/fast, platform/storage/nfs/storage-class)`,
	},
	{
		name: "a volume on a class of another homelab",
		tree: func(_ *core.App, h *homelab.Homelab) {
			chart := kube.NewChart(core.NewApp(nil), "other", &kube.ChartProps{Dir: "kubernetes/other"})
			other := storage.NewStorageClass(chart, "elsewhere", &storage.StorageClassProps{Provisioner: "x"})
			storage.NewClaim(h.Apps, "orphan-volume", "data", "apps", storage.Volume{Class: other, Size: "1Gi"})
		},
		want: `apps/orphan-volume: storage class "elsewhere" is not in this homelab; use a StorageClass of this homelab`,
	},
	{
		// Through the composition a volume without a class gets the
		// homelab's default class; an app made outside it has none.
		name: "a volume without a class",
		tree: func(_ *core.App, h *homelab.Homelab) {
			apps.NewApp(h.Apps, "db", &apps.AppProps{Name: "db", Image: "postgres:17.2", Port: 5432, Volume: &storage.Volume{Size: "5Gi"}})
		},
		want: `apps/db/volume: the volume has no storage class; set Volume.Class to a StorageClass construct (longhorn for databases, nfs-storage for shared data), or Volume.Export to mount an existing NFS export`,
	},
	{
		name: "an existing export with a relative path",
		tree: func(_ *core.App, h *homelab.Homelab) {
			apps.NewApp(h.Apps, "media", &apps.AppProps{Name: "media", Image: "jellyfin/jellyfin:10.10.3", Port: 8096,
				Volume: &storage.Volume{Export: h.NFS.Existing("volume1/media"), Size: "4Ti"}})
		},
		want: `apps/media/volume: NFS path "volume1/media" is not absolute; set NFSExport.Path to the exported directory, such as "/volume1/media"`,
	},
	{
		name:  "Prometheus on NFS (no Longhorn, so NFS is the default class)",
		props: func(p *homelab.Props) { p.Platform.Longhorn = nil },
		want:  `platform/monitoring/kube-prometheus-stack: Prometheus' volume is on nfs-storage, a network file system: Prometheus does not support NFS (its TSDB may be corrupted beyond recovery); put Prometheus on a block class such as longhorn, or keep its data in an emptyDir with StackProps.Ephemeral (Platform.Monitoring.Ephemeral in the homelab composition; lost when the pod moves)`,
	},
	{
		name:  "volumes of the default class and no storage part",
		props: func(p *homelab.Props) { p.Platform.Longhorn, p.Platform.NFS = nil, nil },
		want:  `platform: Platform.Monitoring, Platform.Telemetry, app uptime-kuma need a volume of the default class, and the platform runs no storage (Platform.Longhorn and Platform.NFS are nil); set Platform.Longhorn or Platform.NFS, or give each volume its own class`,
	},
	{
		name:  "no Git repository",
		props: func(p *homelab.Props) { p.RepoURL = "" },
		want:  `flux/gotk-sync: homelab.Props.RepoURL is empty; set homelab.Props.RepoURL to the Git repository Flux pulls, such as "ssh://git@github.com/OWNER/REPO"`,
	},
	{
		name:  "an app both tunnelled and served in the LAN",
		props: func(p *homelab.Props) { p.Apps[0].LAN = true },
		want:  `apps/echo: host "echo.funoffshore.com" is both routed through a tunnel and served in the LAN; set either AppProps.Tunnel or LAN`,
	},
	{
		name: "a LAN node port outside the NodePort range",
		tree: func(_ *core.App, h *homelab.Homelab) {
			ingress.NewNginx(h.Platform, "lan-nginx", nil, &ingress.NginxProps{Namespace: "ingress-nginx", ClassName: "lan", LAN: &ingress.NodePorts{HTTP: 8080}})
		},
		want: `platform/lan-nginx: node port 8080 is outside the cluster's NodePort range; use a port in 30000-32767, or 0 for the default`,
	},
	{
		name:  "an app host outside the domain",
		props: func(p *homelab.Props) { p.Apps[0].Host = "echo.example.org" },
		want:  `apps/echo: host "echo.example.org" is outside the domain "funoffshore.com"; use a host under funoffshore.com, such as "app.funoffshore.com"`,
	},
	{
		name: "a container without requests",
		tree: func(_ *core.App, h *homelab.Homelab) {
			kube.NewObject(h.Apps, "bare", &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: "apps"},
				Spec:       appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "nginx:1.27.3"}}}}},
			})
		},
		want: `apps/bare: container "main" of Deployment.apps/apps/bare lacks a CPU request, a memory request and a memory limit; set resources.requests (cpu, memory) and resources.limits.memory sized for the nodes`,
	},
	{
		name: "requests that do not fit the workers",
		props: func(p *homelab.Props) {
			p.Apps = append(p.Apps, apps.AppProps{Name: "llm", Image: "ollama/ollama:0.5.4", Port: 11434, Replicas: 2, Resources: apps.Resources{CPU: "500m", Memory: "3Gi"}})
		},
		want: "talos: workloads request 10416Mi of memory but the 2 workers have 7424Mi allocatable (VM RAM - 384Mi Talos reserve each); add a worker, give the worker VMs more RAM or lower the requests (see `go run . validate`)",
	},
	{
		name: "a missing secret reference",
		props: func(p *homelab.Props) {
			p.Apps = append(p.Apps, apps.AppProps{Name: "paperless", Image: "ghcr.io/paperless-ngx/paperless-ngx:2.14.7", Port: 8000, EnvFromSecrets: []string{"paperless-db"}})
		},
		want: `apps/paperless/deployment: secret apps/paperless-db is referenced but no construct declares it; declare it with secret.New in namespace "apps"`,
	},
	{
		name: "a custom resource ordered before its CRD",
		tree: func(_ *core.App, h *homelab.Homelab) {
			h.Longhorn.RecurringBackup(h.Platform, "snapshot-hourly", core.Cron("0 * * * *"), 24)
		},
		want: `platform/snapshot-hourly: RecurringJob.longhorn.io/longhorn-system/snapshot-hourly is applied by Kustomization "platform" together with HelmRelease "longhorn", which installs its CRD; apply it from a Kustomization that depends on "platform"`,
	},
	{
		name: "replicas sharing a ReadWriteOnce volume",
		props: func(p *homelab.Props) {
			p.Apps = append(p.Apps, apps.AppProps{Name: "wiki", Image: "requarks/wiki:2.5.306", Port: 3000, Replicas: 2,
				Volume: &storage.Volume{Size: "1Gi"}})
		},
		want: `apps/wiki: 2 replicas share a ReadWriteOnce volume, which attaches to one node at a time; use Replicas: 1, or a ReadWriteMany volume (NFS)`,
	},
	{
		name:  "more Longhorn replicas than workers",
		props: func(p *homelab.Props) { p.Machines.Nodes = p.Machines.Nodes[:2] },
		want:  `platform/storage/longhorn: 2 replicas per volume but only 1 nodes run workloads and hold Longhorn replicas (one per node); lower LonghornProps.Replicas to 1 or add workers`,
	},
	{
		name: "Longhorn volumes larger than the workers' disks",
		tree: func(_ *core.App, h *homelab.Homelab) {
			storage.NewClaim(h.Apps, "media", "media", "apps", storage.Volume{Class: h.Longhorn.Class, Size: "30Gi"})
		},
		want: `platform/storage/longhorn: Longhorn volumes need 96 GiB (platform/monitoring/kube-prometheus-stack/prometheus 10Gi + platform/telemetry/loki/loki 5Gi + platform/telemetry/tempo/tempo 2Gi + apps/uptime-kuma/volume 1Gi + apps/media 30Gi, x2 replicas) but the Longhorn disks schedule 70 GiB (2 x 50 GiB, 30% reserved); raise LonghornProps.DiskGiB, add workers or shrink the volumes`,
	},
	{
		name: "a Longhorn volume larger than one node's disk",
		tree: func(_ *core.App, h *homelab.Homelab) {
			storage.NewClaim(h.Apps, "media", "media", "apps", storage.Volume{Class: h.Longhorn.Class, Size: "200Gi"})
		},
		want: `platform/storage/longhorn: volume apps/media of 200Gi does not fit one node's Longhorn disk: each replica is whole on one disk, and Longhorn schedules at most 35 GiB of a 50 GiB disk (30% reserved); raise LonghornProps.DiskGiB to 286 or shrink the volume`,
	},
	{
		name: "two apps with the same id",
		tree: func(_ *core.App, h *homelab.Homelab) {
			apps.NewApp(h.Apps, "echo", &apps.AppProps{Name: "echo2", Image: "traefik/whoami:v1.10.3", Port: 80})
		},
		want: `apps/echo: construct path "apps/echo" is taken; give the construct another id`,
	},
	{
		name: "a chart without an output directory",
		tree: func(app *core.App, _ *homelab.Homelab) {
			kube.NewChart(app, "extra", nil)
		},
		want: `extra: chart has no output directory; set ChartProps.Dir to the output directory, such as "kubernetes/apps"`,
	},
	{
		name: "two charts rendering to one directory",
		tree: func(app *core.App, _ *homelab.Homelab) {
			kube.NewChart(app, "extra", &kube.ChartProps{Dir: "kubernetes/apps"})
		},
		want: `extra: chart "extra": output directory "kubernetes/apps" is already rendered by chart "apps"; give each chart its own directory`,
	},
	{
		name: "an object id with a slash",
		tree: func(_ *core.App, h *homelab.Homelab) {
			kube.NewObject(h.Apps, "a/b", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ab", Namespace: "apps"}})
		},
		want: `apps/a/b: construct id "a/b" below "apps" is invalid; use a non-empty id without "/"`,
	},
	{
		name: "a network policy peer that selects nothing",
		tree: func(_ *core.App, h *homelab.Homelab) {
			security.NewIsolation(h.Apps, "open", &security.IsolationProps{Namespace: "apps", Ingress: []security.Peer{security.Peer{}.On(security.TCP(80))}})
		},
		want: `apps/open: ingress peer the zero Peer on TCP/80: the zero Peer selects nothing (an empty NetworkPolicy peer would allow everything); make each peer with security.Namespace, OwnNamespace, AllNamespaces, Pods or CIDR`,
	},
	{
		name: "a network policy peer that is no address prefix",
		tree: func(_ *core.App, h *homelab.Homelab) {
			security.NewIsolation(h.Apps, "lan", &security.IsolationProps{Namespace: "apps", Egress: []security.Peer{security.CIDR("192.168.1.300/24")}})
		},
		want: `apps/lan: egress peer CIDR 192.168.1.300/24: CIDR "192.168.1.300/24" is not an IPv4 address: 300 is above 255; write a network such as "192.168.1.0/24"; make each peer with security.Namespace, OwnNamespace, AllNamespaces, Pods or CIDR`,
	},
	{
		name: "a grant rule without API groups",
		tree: func(_ *core.App, h *homelab.Homelab) {
			h.AppConstructs[0].Grant(rbacv1.PolicyRule{Resources: []string{"pods"}, Verbs: []string{"list"}})
		},
		want: `apps/echo: Grant: rule {verbs [list], apiGroups [], resources [pods]}: it has no API groups (use "" for the core group); give each rule verbs, API groups ("" for the core group) and resources`,
	},
	{
		name: "a LAN host on a controller without node ports",
		tree: func(_ *core.App, h *homelab.Homelab) {
			apps.NewApp(h.Apps, "lan-only", &apps.AppProps{Image: "traefik/whoami:v1.10.3", Port: 80}).Expose("whoami.lan", h.Nginx, nil)
		},
		want: `apps/lan-only: host "whoami.lan" is served in the LAN by "platform/ingress/ingress-nginx", which listens on no node port; set NginxProps.LAN on the controller, or expose the app through a tunnel`,
	},
	{
		name: "an environment variable from a key the Secret does not declare",
		tree: func(_ *core.App, h *homelab.Homelab) {
			pw := secret.New(h.Apps, "db-password", &secret.Props{Namespace: "apps", Keys: []string{"password"}})
			apps.NewApp(h.Apps, "db", &apps.AppProps{Image: "postgres:17.2", Port: 5432, Env: []corev1.EnvVar{pw.Env("POSTGRES_PASSWORD", "passwd")}})
		},
		want: `apps/db/deployment: secret apps/db-password has no key "passwd"; use one of its keys (password) or add "passwd" to its declaration at "apps/db-password"`,
	},
	{
		name: "an isolation without a namespace",
		tree: func(_ *core.App, h *homelab.Homelab) { security.NewIsolation(h.Apps, "nowhere", nil) },
		want: `apps/nowhere: the isolation has no namespace; set IsolationProps.Namespace to the namespace to isolate`,
	},
	{
		name: "an app in a namespace nobody declares",
		props: func(p *homelab.Props) {
			p.Apps = append(p.Apps, apps.AppProps{Name: "jellyfin", Namespace: "media", Image: "jellyfin/jellyfin:10.10.3", Port: 8096})
		},
		want: `apps/jellyfin/deployment: Deployment.apps/media/jellyfin is in namespace "media", which the tree does not declare; declare it with kube.NewNamespace(chart, "media", ...) in a chart Flux applies first, or use a declared namespace`,
	},
	{
		name: "a raw object in a namespace nobody declares",
		tree: func(app *core.App, h *homelab.Homelab) {
			kube.NewObject(h.Apps, "note", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "note", Namespace: "notes"}})
		},
		want: `apps/note: ConfigMap/notes/note is in namespace "notes", which the tree does not declare; declare it with kube.NewNamespace(chart, "notes", ...) in a chart Flux applies first, or use a declared namespace`,
	},
}

func TestInvalidInputs(t *testing.T) {
	if len(invalidCases) < 20 {
		t.Fatalf("the suite has %d rows, want at least 20", len(invalidCases))
	}
	t.Run("the unmodified Funoffshore homelab passes", func(t *testing.T) {
		app, _ := homelab.NewApp(funoffshoreProps())
		require.NoError(t, app.Tree().Validate())
	})
	for _, c := range invalidCases {
		t.Run(c.name, func(t *testing.T) {
			if path, _, ok := strings.Cut(c.want, ": "); !ok || strings.Contains(path, " ") || !strings.Contains(c.want, "; ") {
				t.Fatalf("the row's message must be \"path: problem; fix\", got %q", c.want)
			}
			p := funoffshoreProps()
			if c.props != nil {
				c.props(p)
			}
			app, h := homelab.NewApp(p)
			if c.tree != nil {
				c.tree(app, h)
			}
			err := app.Tree().Validate()
			var v *core.ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("want a validation error, got %v", err)
			}
			var all []string
			for _, e := range v.Errors {
				if e.Error() == c.want {
					return
				}
				all = append(all, e.Error())
			}
			t.Errorf("no error is\n  %s\ngot:\n  %s", c.want, strings.Join(all, "\n  "))
		})
	}
}

// TestRulesTableMatchesSuite keeps the validation-rules table of
// docs/constructs.md true: every example message there starts a message of
// a row of the suite.
func TestRulesTableMatchesSuite(t *testing.T) {
	doc, err := os.ReadFile("../docs/constructs.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(doc), "## Validation rules")
	if !ok {
		t.Fatal("docs/constructs.md has no validation rules table")
	}
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) != 4 || strings.HasPrefix(line, "| Layer") {
			continue
		}
		rows++
		example := strings.Trim(strings.TrimSuffix(cells[3], " |"), "`")
		found := false
		for _, c := range invalidCases {
			found = found || strings.HasPrefix(c.want, example)
		}
		if !found {
			t.Errorf("the table's example %q is no row of the suite", example)
		}
	}
	if rows < 30 {
		t.Errorf("the table has %d rules, want at least 30", rows)
	}
}
