package homelab_test

import (
	"time"

	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/backup"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/monitoring"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
)

// rawDeployment is a valid Deployment in namespace apps, as a user would
// write one by hand; rows break one thing in it.
func rawDeployment(mutate func(d *appsv1.Deployment)) *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": "raw"}
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "raw", Namespace: "apps", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "main", Image: "nginx:1.27.3", Resources: res,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			},
		},
	}
	mutate(d)
	return d
}

func addRaw(mutate func(d *appsv1.Deployment)) func(*core.App, *homelab.Homelab) {
	return func(_ *core.App, h *homelab.Homelab) { kube.NewObject(h.Apps, "raw", rawDeployment(mutate)) }
}

func container(d *appsv1.Deployment) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }

func node(name string, role talos.Role, ip string, vmid, cores, mem, disk int) homelab.Node {
	return homelab.Node{Name: name, Role: role, IP: ip, VMID: vmid, Cores: cores, MemoryGiB: mem, DiskGiB: disk}
}

// classRows are the rows of each class of rules (issue 27): durations,
// storage arithmetic, addressing, references, sizes, names.
var classRows = []invalidCase{
	// Durations a consumer's pattern refuses (issue 27, class 1).
	{
		name: "a negative Flux interval",
		tree: func(_ *core.App, h *homelab.Homelab) {
			flux.NewHelmRepository(h.Platform, "slow-repo", &flux.HelmRepositoryProps{URL: "https://charts.example.org", Interval: -time.Hour})
		},
		want: `platform/slow-repo: Interval -1h0m0s is refused by Flux's helmrepositories CRD (spec.interval must match ^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$); use a positive duration such as "10m" (0 means the default)`,
	},
	// Storage arithmetic (issue 27, class 4).
	{
		name: "a single node without workloads holds no Longhorn replica",
		props: func(p *homelab.Props) {
			p.Machines.Nodes = p.Machines.Nodes[:1]
		},
		want: `platform/storage/longhorn: no node runs workloads, so none holds a Longhorn replica; add a worker, or let the control planes run workloads (cluster.allowSchedulingOnControlPlanes)`,
	},
	{
		name: "a single node that runs workloads holds one replica, not two",
		props: func(p *homelab.Props) {
			p.Machines.Nodes = p.Machines.Nodes[:1]
			p.Machines.Nodes[0].MemoryGiB = 12
			p.Machines.WorkloadsOnControlPlanes = true
		},
		want: `platform/storage/longhorn: 2 replicas per volume but only 1 nodes run workloads and hold Longhorn replicas (one per node); lower LonghornProps.Replicas to 1 or add workers`,
	},
	{
		name:  "a Longhorn disk smaller than the volume Talos makes on it",
		props: func(p *homelab.Props) { p.Platform.Longhorn.DiskGiB = 8 },
		want:  `platform/storage/longhorn: user volume "longhorn": min size 10GiB does not fit its 8 GiB disk: Talos provisions it only on a disk of the min size plus 34304 bytes of partition tables; give the volume a disk of at least 11 GiB (DiskGiB) or a smaller min size`,
	},
	// 1. Addressing.
	{
		name:  "a node on the subnet's network address",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].IP = "192.168.1.0" },
		want:  `talos/talos-w-1: IP 192.168.1.0 is the network address of 192.168.1.0/24; use an address inside 192.168.1.0/24 that is neither its network nor its broadcast address, or change the cluster subnet`,
	},
	{
		name:  "a node on the subnet's broadcast address",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].IP = "192.168.1.255" },
		want:  `talos/talos-w-1: IP 192.168.1.255 is the broadcast address of 192.168.1.0/24; use an address inside 192.168.1.0/24 that is neither its network nor its broadcast address, or change the cluster subnet`,
	},
	{
		name:  "a VIP on the broadcast address",
		props: func(p *homelab.Props) { p.Machines.VIP = "192.168.1.255" },
		want:  `talos: VIP 192.168.1.255 is the broadcast address of 192.168.1.0/24; pick a free address inside the node subnet`,
	},
	{
		name:  "a node on a Proxmox host's address",
		props: func(p *homelab.Props) { p.Machines.Nodes[2].IP = "192.168.1.10" },
		want:  `talos/talos-w-2: IP 192.168.1.10 (node talos-w-2) is already used by "proxmox/pve-1" (Proxmox host pve-1); give every node, host, VIP and server its own address`,
	},
	{
		name:  "a node on the NAS's address",
		props: func(p *homelab.Props) { p.Machines.Nodes[2].IP = homelab.ExampleNFSServer },
		want:  `platform/storage/nfs: IP 192.168.1.20 (NFS server) is already used by "talos/talos-w-2" (node talos-w-2); give every node, host, VIP and server its own address`,
	},
	{
		name:  "a VIP taken by a node",
		props: func(p *homelab.Props) { p.Machines.VIP = "192.168.1.111" },
		want:  `talos/talos-w-1: IP 192.168.1.111 (node talos-w-1) is already used by "talos" (the cluster VIP); give every node, host, VIP and server its own address`,
	},
	{
		name:  "two Proxmox hosts on one address",
		props: func(p *homelab.Props) { p.Machines.Hosts[1].Endpoint = "https://192.168.1.10:8006" },
		want:  `proxmox/pve-2: IP 192.168.1.10 (Proxmox host pve-2) is already used by "proxmox/pve-1" (Proxmox host pve-1); give every node, host, VIP and server its own address`,
	},
	{
		name: "pod and service networks that overlap",
		tree: func(app *core.App, _ *homelab.Homelab) {
			talos.NewCluster(app, "lab2", &talos.ClusterProps{Name: "lab2", Subnet: "192.168.2.0/24", PodCIDR: "10.96.0.0/16"})
		},
		want: `lab2: pod CIDR 10.96.0.0/16 overlaps service CIDR 10.96.0.0/12; use ranges apart, such as the defaults "10.244.0.0/16" and "10.96.0.0/12"`,
	},
	{
		name:  "an endpoint that is no URL",
		props: func(p *homelab.Props) { p.Machines.Endpoint = "192.168.1.101:6443" },
		want:  `talos: endpoint "192.168.1.101:6443" is not an https URL with a host and port; use "https://<control-plane IP or VIP>:6443"`,
	},
	{
		name:  "an endpoint without a port",
		props: func(p *homelab.Props) { p.Machines.Endpoint = "https://192.168.1.101" },
		want:  `talos: endpoint "https://192.168.1.101" is not an https URL with a host and port; use "https://<control-plane IP or VIP>:6443"`,
	},
	{
		name: "a patch announcing a second VIP",
		tree: func(app *core.App, _ *homelab.Homelab) {
			c := talos.NewCluster(app, "lab2", &talos.ClusterProps{Name: "lab2", Subnet: "192.168.2.0/24", VIP: "192.168.2.50",
				Patches: []talos.Patch{{Role: core.ControlPlane, Config: vipRemoved()}}})
			c.AddNode("cp", &talos.NodeProps{IP: "192.168.2.11", Role: talos.ControlPlane})
		},
		want: `lab2: the endpoint is the VIP 192.168.2.50 but the control-plane config also announces 192.168.2.60 on the same NIC: Talos would run two VIP elections; remove the other VIP from the patches, or set ClusterProps.VIP to it`,
	},
	{
		name:  "a multicast MAC",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].MAC = "01:00:5e:00:00:01" },
		want:  `proxmox/talos-w-1: MAC 01:00:5e:00:00:01 is a multicast address, which no NIC can own; use a unicast address (even first octet), such as "02:ab:cd:ef:01:23", or leave MAC empty to derive one`,
	},
	{
		name:  "an all-zero MAC",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].MAC = "00:00:00:00:00:00" },
		want:  `proxmox/talos-w-1: MAC 00:00:00:00:00:00 is the all-zero address; leave MAC empty to derive one from the VM name`,
	},
	{
		name: "a MAC given twice",
		props: func(p *homelab.Props) {
			p.Machines.Nodes[1].MAC = "02:00:00:00:00:01"
			p.Machines.Nodes[2].MAC = "02:00:00:00:00:01"
		},
		want: `proxmox/talos-w-2: MAC address "02:00:00:00:00:01" is already used by "proxmox/talos-w-1"; give each MAC address its own value`,
	},
	{
		name:  "a malformed MAC",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].MAC = "02-00-00-00-00-01" },
		want:  `proxmox/talos-w-1: MAC "02-00-00-00-00-01" is malformed; use six lowercase hex pairs such as "02:ab:cd:ef:01:23"`,
	},
	// Grammar where values land (issue 27, class 1).
	{
		name: "a non-ASCII app host",
		props: func(p *homelab.Props) {
			p.Platform.Tunnel = nil
			p.Apps = append(p.Apps, apps.AppProps{Name: "books", Host: "bücher", Image: "nginx:1.27.3", Port: 8080})
		},
		want: `apps/books: host "bücher.funoffshore.com" is not ASCII; write the name in its punycode (xn--) form`,
	},
	// Uniqueness across the tree (issue 27, class 3).
	{
		name: "two apps on one host, one written short and one in full (LAN)",
		props: func(p *homelab.Props) {
			p.Platform.Tunnel = nil
			p.Apps = append(p.Apps, apps.AppProps{Name: "echo2", Host: "echo.funoffshore.com", Image: "nginx:1.27.3", Port: 8080})
		},
		want: `apps/echo2/ingress: Ingress.networking.k8s.io/apps/echo2 serves host "echo.funoffshore.com" path "/", which "apps/echo/ingress" already serves through IngressClass nginx; give each app its own host (or path)`,
	},
	{
		name: "an app's volume and a Mount at one path",
		tree: func(_ *core.App, h *homelab.Homelab) {
			db := apps.NewApp(h.Apps, "db", &apps.AppProps{Name: "db", Image: "postgres:17.2", Port: 5432, Volume: &storage.Volume{Class: h.DefaultClass(), Size: "5Gi"}, VolumePath: "/var/lib/postgresql"})
			db.Mount("/var/lib/postgresql/", storage.Volume{Class: h.DefaultClass(), Size: "5Gi"})
		},
		want: `apps/db/deployment: Deployment.apps/apps/db: container "app" mounts volumes "data" and "volume-1" at one path /var/lib/postgresql; mount each volume at its own path (an app's Volume at VolumePath, each Mount, ScratchPaths and FilesPath)`,
	},
	// Wiring without its other half (issue 27, class 7).
	{
		name: "a policy peer in a namespace the tree does not declare",
		tree: func(_ *core.App, h *homelab.Homelab) {
			security.NewPodPolicy(h.Apps, "echo-scrapes", &security.PodPolicyProps{Name: "echo-scrapes", Namespace: "apps", Pods: map[string]string{"app": "echo"}}).
				Allow(security.Namespace("monitorng").On(security.TCP(8080)))
		},
		want: `apps/echo-scrapes/policy: NetworkPolicy.networking.k8s.io/apps/echo-scrapes has a peer in namespace "monitorng", which the tree does not declare: the rule matches no pod; name a namespace the tree declares (alloy, apps, cert-manager, cloudflared, default, flux-system, ingress-nginx, kube-node-lease, kube-public, kube-system, loki, longhorn-system, monitoring, nfs-provisioner, tempo), or declare "monitorng"`,
	},
	// Values a consumer's own schema refuses (issue 27, class 6).
	{
		name:  "an scp-like Git URL, which Flux's GitRepository CRD refuses",
		props: func(p *homelab.Props) { p.RepoURL = "git@github.com:funoffshore/homelab.git" },
		want:  `flux/gotk-sync: Git repository URL "git@github.com:funoffshore/homelab.git" does not match ^(http|https|ssh)://.*$, the pattern of Flux's GitRepository spec.url; write it as ssh://git@github.com/funoffshore/homelab.git`,
	},
	{
		name: "a service range without the address Talos gives CoreDNS",
		tree: func(app *core.App, _ *homelab.Homelab) {
			talos.NewCluster(app, "lab2", &talos.ClusterProps{Name: "lab2", Subnet: "192.168.2.0/24", ServiceCIDR: "10.96.0.0/29"})
		},
		want: `lab2: service CIDR 10.96.0.0/29 is too small: Talos gives CoreDNS the range's 10th address, which it does not have; use a service range of at least a /28, such as the default "10.96.0.0/12"`,
	},
	// Ambiguous addresses (issue 27, class 2): one written form, the
	// canonical one as the fix.
	{
		name:  "a node IP with leading zeros (octal to C resolvers)",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].IP = "192.168.1.0111" },
		want:  `talos/talos-w-1: IP "192.168.1.0111" has a group with a leading zero, which C resolvers read as octal (192.168.1.73); write it as 192.168.1.111 (decimal, no leading zeros)`,
	},
	{
		name:  "an IPv4-mapped IPv6 VIP for an IPv4 network",
		props: func(p *homelab.Props) { p.Machines.VIP = "::ffff:192.168.1.100" },
		want:  `talos: VIP "::ffff:192.168.1.100" is an IPv4-mapped IPv6 address; write it as 192.168.1.100`,
	},
	{
		name:  "a subnet with host bits set",
		props: func(p *homelab.Props) { p.Machines.Subnet = "192.168.1.1/24" },
		want:  `talos: subnet "192.168.1.1/24" has host bits set; write the network as 192.168.1.0/24`,
	},
	{
		name:  "a NAS name that is really a malformed address",
		props: func(p *homelab.Props) { p.Platform.NFS.Server = "192.168.1.256" },
		want:  `platform/storage/nfs: NFS server "192.168.1.256" is not an IPv4 address: 256 is above 255; set NFSProps.Server: write an IPv4 address such as "192.168.1.20"`,
	},
	{
		name:  "a NAS that is neither IP nor DNS name",
		props: func(p *homelab.Props) { p.Platform.NFS.Server = "nas_01" },
		want:  `platform/storage/nfs: NFS server "nas_01" is neither an IP address nor a DNS name; set NFSProps.Server: write an IPv4 address such as "192.168.1.20" or a DNS name such as "nas.lan"`,
	},

	{
		name:  "a host endpoint with credentials in it",
		props: func(p *homelab.Props) { p.Machines.Hosts[0].Endpoint = "https://root:hunter2@192.168.1.10:8006" },
		want:  `proxmox/pve-1: endpoint of host "pve-1" carries credentials, which would be committed in the inventory; remove the user and password from the URL: the deployer reads the API token from --proxmox-token-file or PROXMOX_TOKEN_ID/PROXMOX_TOKEN_SECRET`,
	},

	{
		name:  "a host TLS fingerprint that is no SHA-256",
		props: func(p *homelab.Props) { p.Machines.Hosts[0].TLSFingerprint = "AB:CD" },
		want:  "proxmox/pve-1: TLS fingerprint \"AB:CD\" is not a SHA-256 fingerprint; copy the SHA-256 fingerprint from `pvenode cert info` (32 hex pairs separated by ':')",
	},

	{
		name:  "an ISO checksum that is no SHA-256",
		props: func(p *homelab.Props) { p.Machines.ISOSHA256 = "md5:0123" },
		want:  "talos: ISO checksum \"md5:0123\" is not a SHA-256; use the 64 hex digits `sha256sum` prints for the ISO",
	},

	// 2. Hardware and OS limits.
	{
		name:  "one VM with more vCPUs than its host has cores",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].Cores = 6 },
		want:  `proxmox/talos-w-1: VM "talos-w-1" has 6 vCPUs but its host pve-2 has 4 cores, and Proxmox refuses to start a VM with more vCPUs than its host; give the VM at most 4 cores, or place it on a larger host`,
	},
	{
		name:  "a control plane below Talos' minimum memory",
		props: func(p *homelab.Props) { p.Machines.Nodes[0].MemoryGiB = 1 },
		want:  `talos/talos-cp-1: a Talos controlplane needs at least 2 cores and 2 GiB of RAM but VM "talos-cp-1" has 2 cores and 1024 MiB; give the VM at least 2 cores and 2 GiB of RAM`,
	},
	{
		name:  "a control plane below Talos' minimum cores",
		props: func(p *homelab.Props) { p.Machines.Nodes[0].Cores = 1 },
		want:  `talos/talos-cp-1: a Talos controlplane needs at least 2 cores and 2 GiB of RAM but VM "talos-cp-1" has 1 cores and 8192 MiB; give the VM at least 2 cores and 2 GiB of RAM`,
	},
	{
		name:  "a system disk below Talos' minimum",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].DiskGiB = 8 },
		want:  `talos/talos-w-1: the 8 GiB system disk cannot hold Talos (EFI, META, STATE and a 2 GiB EPHEMERAL: 4.2 GiB; documented minimum 10 GiB); give VM "talos-w-1" a disk of at least 10.0 GiB`,
	},
	{
		name: "a system disk too small for a user volume on it",
		tree: func(_ *core.App, h *homelab.Homelab) {
			core.NodeNeeds.Of(h.Cluster.Info().Tree()).Add(core.NodeNeed{Source: "apps/cache", Role: core.Worker,
				UserVolumes: []core.UserVolume{{Name: "cache", MinSize: "40GiB"}}})
		},
		want: `talos/talos-w-1: the 32 GiB system disk cannot hold Talos (EFI, META, STATE and a 2 GiB EPHEMERAL: 4.2 GiB; documented minimum 10 GiB) plus user volume cache 40.0 GiB; give VM "talos-w-1" a disk of at least 44.2 GiB`,
	},
	{
		name: "a user volume size Talos cannot parse",
		tree: func(_ *core.App, h *homelab.Homelab) {
			core.NodeNeeds.Of(h.Cluster.Info().Tree()).Add(core.NodeNeed{Source: "apps/cache", Role: core.Worker,
				UserVolumes: []core.UserVolume{{Name: "cache", MinSize: "10 gigs"}}})
		},
		want: `apps/cache: user volume "cache": min size "10 gigs" does not parse: unhandled size name: gigs; use a size such as "10GiB"`,
	},
	{
		name: "a user volume name Talos refuses",
		tree: func(_ *core.App, h *homelab.Homelab) {
			core.NodeNeeds.Of(h.Cluster.Info().Tree()).Add(core.NodeNeed{Source: "apps/cache", Role: core.Worker,
				UserVolumes: []core.UserVolume{{Name: "app_cache", MinSize: "1GiB"}}})
		},
		want: `apps/cache: user volume "app_cache": Talos refuses it: name can only contain lowercase and uppercase ASCII letters, digits, and hyphens; use at most 34 letters, digits and '-'`,
	},
	{
		name:  "a recurring backup with no backup target",
		props: func(p *homelab.Props) { p.Platform.Longhorn.BackupTarget = "" },
		tree: func(_ *core.App, h *homelab.Homelab) {
			h.Longhorn.RecurringBackup(h.PlatformConfig, "backup-weekly", core.Cron("0 4 * * 0"), 4)
		},
		want: `platform-config/backup-weekly: a recurring backup needs a backup target, and Longhorn has none; set LonghornProps.BackupTarget`,
	},
	{
		name:  "a VM pinned to a host that does not exist",
		props: func(p *homelab.Props) { p.Machines.Nodes[1].Host = "pve-9" },
		want:  `proxmox/talos-w-1: the VM is pinned to host "pve-9", which Machines.Hosts does not have; pin it to one of the hosts (pve-1, pve-2), or leave Host empty to place it automatically`,
	},
	{
		name:  "a Kubernetes version without its patch number",
		props: func(p *homelab.Props) { p.Machines.KubernetesVersion = "1.36" },
		want:  `talos: Kubernetes version "1.36" is no release (MAJOR.MINOR.PATCH); use a full Kubernetes release such as "1.36.3": image tags name a patch release`,
	},
	{
		name:  "a Talos version without its patch number",
		props: func(p *homelab.Props) { p.Machines.TalosVersion = "v1.13" },
		want:  `talos: Talos version "v1.13" is no release tag (vMAJOR.MINOR.PATCH); use a full Talos release tag such as "v1.13.9"`,
	},

	// 3. Topology.
	{
		name: "two control planes",
		props: func(p *homelab.Props) {
			p.Machines.Nodes[1].Role = talos.ControlPlane
			p.Machines.Nodes[1].MemoryGiB = 4
		},
		want: `talos: 2 control planes make an etcd of 2 members, which survives no more failures than 1 and stops when 1 are lost; use 1 or 3 control planes (or set ClusterProps.AllowEvenControlPlanes during a migration)`,
	},
	{
		name:  "no worker while apps need one",
		props: func(p *homelab.Props) { p.Machines.Nodes = p.Machines.Nodes[:1] },
		want:  `talos: 34 workloads (first: helm-controller at flux/gotk-components) need a node to run on but the cluster has no worker and Talos taints control planes NoSchedule; add a worker, or let pods run on the control planes with a patch setting cluster.allowSchedulingOnControlPlanes`,
	},
	{
		name:  "Longhorn with no replica",
		props: func(p *homelab.Props) {},
		tree: func(app *core.App, h *homelab.Homelab) {
			storage.NewLonghorn(h.Platform, "longhorn-2", nil, &storage.LonghornProps{Namespace: "longhorn-system", Replicas: -1})
		},
		want: `platform/longhorn-2: LonghornProps.Replicas -1 is below 1; use 1 or more replicas (default 2)`,
	},

	// 4. Fit per node.
	{
		name: "a pod larger than any one worker",
		props: func(p *homelab.Props) {
			p.Machines.Nodes[1].MemoryGiB, p.Machines.Nodes[2].MemoryGiB = 6, 6
			p.Apps = append(p.Apps, apps.AppProps{Name: "llm", Image: "ollama/ollama:0.5.4", Port: 11434, Resources: apps.Resources{CPU: "100m", Memory: "5500Mi"}})
		},
		want: `apps/llm: one llm pod requests 5500Mi of memory but the largest node (talos-w-1) has 5142Mi left after DaemonSets (618Mi): the pod would stay Pending; lower the pod's memory request or give a worker VM more RAM`,
	},
	{
		name: "a pod wanting more CPU than any one worker",
		props: func(p *homelab.Props) {
			p.Apps = append(p.Apps, apps.AppProps{Name: "encoder", Image: "linuxserver/ffmpeg:7.1.1", Port: 8080, Resources: apps.Resources{CPU: "1600m"}})
		},
		want: `apps/encoder: one encoder pod requests 1600m of CPU but no node has more than 1475m left after DaemonSets (425m): the pod would stay Pending; lower the pod's CPU request or give a worker VM more cores`,
	},
	{
		name:  "logs that do not fit their volume",
		props: func(p *homelab.Props) { p.Platform.Telemetry.LogRetention = "30d" },
		want:  `platform/telemetry/loki: 30d of logs at 300Mi a day need 11Gi with a fifth to spare; the volume has 5Gi; raise LokiProps.Volume.Size to at least 11Gi, or shorten Retention, or lower DailyVolume`,
	},

	// 5. References.
	{
		name: "an env value from a Secret nobody declares",
		tree: addRaw(func(d *appsv1.Deployment) {
			container(d).Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "raw-token"}, Key: "token"}}}}
		}),
		want: `apps/raw: secret apps/raw-token is referenced but no construct declares it; declare it with secret.New in namespace "apps"`,
	},
	{
		name: "a Secret key the Secret does not have",
		tree: func(app *core.App, h *homelab.Homelab) {
			kube.NewObject(h.Apps, "raw", rawDeployment(func(d *appsv1.Deployment) {
				container(d).Env = []corev1.EnvVar{{Name: "URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "grafana-admin"}, Key: "url"}}}}
				d.Namespace = "monitoring"
			}))
		},
		want: `apps/raw: secret monitoring/grafana-admin has no key "url"; use one of its keys (admin-user, admin-password) or add "url" to its declaration at "platform/monitoring/grafana-admin"`,
	},
	{
		name:  "an app reading a ConfigMap nobody makes",
		props: func(p *homelab.Props) { p.Apps[0].EnvFromConfigMaps = []string{"echo-settings"} },
		want:  `apps/echo/deployment: Deployment.apps/apps/echo refers to ConfigMap apps/echo-settings (envFrom of container app), which the tree does not define; create it with kube.NewObject in namespace "apps" (it has: homepage), or mark the reference optional`,
	},
	{
		name: "a ConfigMap key the ConfigMap does not have",
		tree: func(app *core.App, h *homelab.Homelab) {
			kube.NewObject(h.Apps, "settings", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "apps"}, Data: map[string]string{"mode": "fast"}})
			kube.NewObject(h.Apps, "raw", rawDeployment(func(d *appsv1.Deployment) {
				container(d).Env = []corev1.EnvVar{{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "level"}}}}
			}))
		},
		want: `apps/raw: Deployment.apps/apps/raw refers to key "level" of ConfigMap apps/settings (env MODE of container main), which it does not have; use one of its keys (mode)`,
	},
	{
		name: "a Secret volume nobody declares",
		tree: addRaw(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "raw-tls"}}}}
		}),
		want: `apps/raw: secret apps/raw-tls is referenced but no construct declares it; declare it with secret.New in namespace "apps"`,
	},
	{
		name: "a projected ConfigMap nobody makes",
		tree: addRaw(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "bundle", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "ca-bundle"}}},
			}}}}}
		}),
		want: `apps/raw: Deployment.apps/apps/raw refers to ConfigMap apps/ca-bundle (projected volume bundle), which the tree does not define; create it with kube.NewObject in namespace "apps" (it has: homepage), or mark the reference optional`,
	},
	{
		name: "an image pull Secret nobody declares",
		tree: addRaw(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "ghcr-pull"}}
		}),
		want: `apps/raw: secret apps/ghcr-pull is referenced but no construct declares it; declare it with secret.New in namespace "apps"`,
	},
	{
		name: "a claim volume nobody makes",
		tree: addRaw(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "raw-data"}}}}
		}),
		want: `apps/raw: Deployment.apps/apps/raw refers to PersistentVolumeClaim apps/raw-data (volume data), which the tree does not define; create the claim (storage.NewClaim) in namespace "apps" (it has: uptime-kuma)`,
	},
	{
		name: "a ServiceAccount nobody makes",
		tree: addRaw(func(d *appsv1.Deployment) { d.Spec.Template.Spec.ServiceAccountName = "raw-bot" }),
		want: `apps/raw: Deployment.apps/apps/raw refers to ServiceAccount apps/raw-bot (serviceAccountName), which the tree does not define; create the ServiceAccount in namespace "apps" (it has: echo, homepage, uptime-kuma)`,
	},
	{
		name: "a raw claim on a class nobody defines",
		tree: func(_ *core.App, h *homelab.Homelab) {
			kube.NewObject(h.Apps, "pvc", &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "scratch", Namespace: "apps"},
				Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("local-path"), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}})
		},
		want: `apps/pvc: PersistentVolumeClaim/apps/scratch asks for StorageClass "local-path", which the tree does not define: the claim would stay Pending; use a class the tree defines (longhorn, nfs-storage), or leave the class empty for the default`,
	},
	{
		name: "a StatefulSet claim template on a class nobody defines",
		tree: func(_ *core.App, h *homelab.Homelab) {
			d := rawDeployment(func(*appsv1.Deployment) {})
			kube.NewObject(h.Apps, "db", &appsv1.StatefulSet{ObjectMeta: d.ObjectMeta, Spec: appsv1.StatefulSetSpec{
				Replicas: ptr.To[int32](1), Selector: d.Spec.Selector, Template: d.Spec.Template,
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("ceph-rbd")}}},
			}})
		},
		want: `apps/db: StatefulSet.apps/apps/raw asks for StorageClass "ceph-rbd", which the tree does not define: the claim would stay Pending; use a class the tree defines (longhorn, nfs-storage), or leave the class empty for the default`,
	},
	{
		name:  "an app on an IngressClass nobody installs",
		props: func(p *homelab.Props) { p.Apps[0].IngressClass = "traefik" },
		want:  `apps/echo/ingress: Ingress.networking.k8s.io/apps/echo uses IngressClass "traefik", which no controller of the tree serves; use an IngressClass the tree installs (nginx)`,
	},
	{
		name: "an Ingress to a Service nobody makes",
		tree: func(_ *core.App, h *homelab.Homelab) {
			kube.NewObject(h.Apps, "ing", &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "wiki", Namespace: "apps"}, Spec: networkingv1.IngressSpec{
				IngressClassName: ptr.To("nginx"),
				DefaultBackend:   &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "wiki", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}})
		},
		want: `apps/ing: Ingress.networking.k8s.io/apps/wiki refers to Service apps/wiki (backend), which the tree does not define; point the backend at a Service in namespace "apps" (it has: echo, homepage, uptime-kuma)`,
	},
	{
		name: "an app whose port flag disagrees with its Port",
		tree: func(_ *core.App, h *homelab.Homelab) {
			apps.NewApp(h.Apps, "whoami", &apps.AppProps{Image: "traefik/whoami:v1.10.3", Port: 80, Args: []string{"--port", "8080"}})
		},
		want: `apps/whoami: the container listens on port 8080 (argument --port 8080) but AppProps.Port is 80: probes, Service and policies would point at a port nothing serves; set AppProps.Port to 8080, or make the container listen on 80`,
	},
	{
		name: "a NetworkPolicy selecting the host-network node-exporter",
		tree: func(_ *core.App, h *homelab.Homelab) {
			kube.NewObject(h.Apps, "np", &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "deny-all", Namespace: "monitoring"},
				Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}})
		},
		want: `apps/np: NetworkPolicy "deny-all" selects pods on the host network (node-exporter in monitoring): their IP is the node's, so the node's own traffic would be judged by this policy; select only pod-network pods: security.PodNetworkPods(), or a selector requiring that homelab.funoffshore.com/host-network does not exist`,
	},
	{
		name: "a namespace-wide isolation of kube-system, where Talos' control plane runs on the host network",
		tree: func(_ *core.App, h *homelab.Homelab) {
			security.NewIsolation(h.Apps, "kube-system", &security.IsolationProps{Namespace: "kube-system"})
		},
		want: `apps/kube-system/default-deny: NetworkPolicy "default-deny" selects pods on the host network (flannel, kube-apiserver, kube-controller-manager, kube-proxy, kube-scheduler in kube-system): their IP is the node's, so the node's own traffic would be judged by this policy; select only pod-network pods: security.PodNetworkPods(), or a selector requiring that homelab.funoffshore.com/host-network does not exist`,
	},
	{
		name: "a NetworkPolicy selecting a host-network Deployment of the tree",
		tree: func(_ *core.App, h *homelab.Homelab) {
			kube.NewObject(h.Apps, "raw", rawDeployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.HostNetwork = true }))
			kube.NewObject(h.Apps, "np", &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "raw", Namespace: "apps"},
				Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "raw"}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}})
		},
		want: `apps/np: NetworkPolicy "raw" selects pods on the host network (raw in apps): their IP is the node's, so the node's own traffic would be judged by this policy; select only pod-network pods: security.PodNetworkPods(), or a selector requiring that homelab.funoffshore.com/host-network does not exist`,
	},
	{
		name: "an etcd snapshot of a node that is no control plane",
		tree: func(_ *core.App, h *homelab.Homelab) {
			backup.NewEtcdSnapshots(h.Platform, "snapshots-2", &backup.EtcdSnapshotsProps{Namespace: "kube-system",
				Volume: storage.Volume{Class: h.NFS.Class, Size: "1Gi"}, Node: "192.168.1.111", TalosVersion: h.Cluster.TalosVersion})
		},
		want: `platform/snapshots-2: node "192.168.1.111" is no control plane of the cluster, so the snapshot would reach no etcd member; set Node to a control-plane address (192.168.1.101)`,
	},

	// 6. Values with a grammar.
	{
		name:  "a memory request with a space",
		props: func(p *homelab.Props) { p.Apps[0].Resources.Memory = "64 Mi" },
		want:  `apps/echo: Resources.Memory "64 Mi" is not a quantity; use a Kubernetes quantity such as "100m" or "128Mi"`,
	},
	{
		name:  "a Prometheus volume size in words",
		props: func(p *homelab.Props) { p.Platform.Monitoring.Volume = "10 GB" },
		want:  `platform/monitoring/kube-prometheus-stack: volume size "10 GB" is not a quantity; use a size such as "10Gi"`,
	},
	{
		name:  "a tunnel ID that is not a UUID",
		props: func(p *homelab.Props) { p.Platform.Tunnel.ID = "zzzzzzzz-765d-4adf-8112-31c55c1551ef" },
		want:  `platform/ingress/cloudflared: tunnel ID "zzzzzzzz-765d-4adf-8112-31c55c1551ef" is not a UUID; set TunnelProps.TunnelID to the tunnel's UUID (cloudflared tunnel list)`,
	},
	{
		name:  "a zero Prometheus retention (read as unset, not as none)",
		props: func(p *homelab.Props) { p.Platform.Monitoring.Retention = "0d" },
		want:  `platform/monitoring/kube-prometheus-stack: retention "0d" is zero, which Prometheus reads as unset (its default, 15d), not as keeping nothing; use a positive duration such as "7d"; leave Retention empty for the default`,
	},
	{
		name:  "a Prometheus retention that does not parse",
		props: func(p *homelab.Props) { p.Platform.Monitoring.Retention = "7 days" },
		want:  `platform/monitoring/kube-prometheus-stack: retention "7 days" does not parse: unknown unit " days" in duration "7 days"; use a Prometheus duration such as "7d" or "12h"`,
	},
	{
		name:  "a volume size of zero",
		props: func(p *homelab.Props) { p.Platform.Monitoring.Volume = "0" },
		want:  `platform/monitoring/kube-prometheus-stack: volume size "0" is not positive; use a size such as "10Gi"`,
	},
	{
		name:  "a backup target without a scheme",
		props: func(p *homelab.Props) { p.Platform.Longhorn.BackupTarget = "192.168.1.20:/volume1/longhorn-backups" },
		want:  `platform/storage/longhorn: backup target "192.168.1.20:/volume1/longhorn-backups" is not a nfs, s3, cifs, azblob URL with a host; use a URL such as "nfs://192.168.1.20:/volume1/longhorn-backups" or "s3://bucket@region/"`,
	},
	{
		name: "a backup schedule that does not parse",
		tree: func(_ *core.App, h *homelab.Homelab) {
			h.Longhorn.RecurringBackup(h.PlatformConfig, "backup-weekly", core.Cron("every sunday"), 4)
		},
		want: `platform-config/backup-weekly: schedule "every sunday" does not parse: expected exactly 5 fields, found 2: [every sunday]; use five cron fields such as core.Cron("0 3 * * *")`,
	},
	{
		name: "a backup keeping nothing",
		tree: func(_ *core.App, h *homelab.Homelab) {
			h.Longhorn.RecurringBackup(h.PlatformConfig, "backup-weekly", core.Cron("0 4 * * 0"), 0)
		},
		want: `platform-config/backup-weekly: retain 0 keeps no backup; retain at least 1 backup`,
	},
	{
		name: "an etcd snapshot schedule with a time zone",
		tree: func(_ *core.App, h *homelab.Homelab) {
			backup.NewEtcdSnapshots(h.Platform, "snapshots-2", &backup.EtcdSnapshotsProps{Namespace: "kube-system", Schedule: core.Cron("CRON_TZ=Europe/Berlin 0 2 * * *"),
				Volume: storage.Volume{Class: h.NFS.Class, Size: "1Gi"}, Node: "192.168.1.101", TalosVersion: h.Cluster.TalosVersion})
		},
		want: `platform/snapshots-2: schedule "CRON_TZ=Europe/Berlin 0 2 * * *" does not parse: a time zone prefix is not allowed in the schedule; use five cron fields such as core.Cron("0 2 * * *") (daily at 02:00)`,
	},
	{
		name: "an email receiver with a bad address",
		props: func(p *homelab.Props) {
			p.Platform.Monitoring.Alerts = monitoring.EmailReceiver("ops at example.org", "am@example.org", "smtp.example.org:587", "am", "smtp")
		},
		want: `platform-config/alerting: email receiver: email to address "ops at example.org" does not parse: mail: no angle-addr; fix the receiver's arguments`,
	},
	{
		name: "an email receiver without a port",
		props: func(p *homelab.Props) {
			p.Platform.Monitoring.Alerts = monitoring.EmailReceiver("ops@example.org", "am@example.org", "smtp.example.org", "am", "smtp")
		},
		want: `platform-config/alerting: email receiver: SMTP smarthost "smtp.example.org" is not host:port (such as "smtp.example.org:587"); fix the receiver's arguments`,
	},
	{
		name:  "a Telegram receiver without a chat",
		props: func(p *homelab.Props) { p.Platform.Monitoring.Alerts = monitoring.TelegramReceiver(0, "telegram") },
		want:  `platform-config/alerting: telegram receiver: Telegram chat ID 0 names no chat (find yours with the bot's getUpdates); fix the receiver's arguments`,
	},
	{
		name:  "an app name that cannot name a Service",
		props: func(p *homelab.Props) { p.Apps[0].Name = "2048" },
		want:  `apps/2048: app name "2048" is not a valid Service name; name the app with a letter first and at most 63 lowercase letters, digits and '-': it names its Service`,
	},
	{
		name:  "a health path without a slash",
		props: func(p *homelab.Props) { p.Apps[0].HealthPath = "healthz" },
		want:  `apps/echo: health path "healthz" is not an absolute HTTP path; start the path with "/", such as "/healthz"`,
	},
	{
		name:  "a relative scratch path",
		props: func(p *homelab.Props) { p.Apps[0].ScratchPaths = []string{"tmp"} },
		want:  `apps/echo: mount path "tmp" is not absolute; use absolute container paths such as "/tmp"`,
	},
	{
		name: "a Pod Security level that does not exist",
		props: func(p *homelab.Props) {
			p.Namespaces = append(p.Namespaces, homelab.Namespace{Name: "media", PodSecurity: "strict"})
		},
		want: `platform/namespaces/media: Pod Security level "strict" of namespace "media" is no Pod Security Standard level; use privileged, baseline or restricted`,
	},
	{
		name: "a label value that is too long",
		tree: addRaw(func(d *appsv1.Deployment) {
			d.Labels = map[string]string{"team": "a-team-name-that-is-much-longer-than-sixty-three-characters-allowed"}
		}),
		want: `apps/raw: metadata.labels: value "a-team-name-that-is-much-longer-than-sixty-three-characters-allowed" of "team" is invalid: must be no more than 63 bytes; use at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
	},

	// 7. Kubernetes semantics.
	{
		name:  "negative replicas",
		props: func(p *homelab.Props) { p.Apps[0].Replicas = -1 },
		want:  `apps/echo: replicas -1 is negative; use 1 or more replicas, or AppProps.Stopped to run none`,
	},
	{
		name:  "a memory limit below the request",
		props: func(p *homelab.Props) { p.Apps[0].Resources.MemoryLimit = "8Mi" },
		want:  `apps/echo/deployment: Deployment.apps/apps/echo: container "app": memory limit 8Mi is below its request 16Mi; raise the memory limit to at least the request, or lower the request`,
	},
	{
		name: "a probe on a port the container does not declare",
		tree: addRaw(func(d *appsv1.Deployment) {
			container(d).ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("metrics")}}}
		}),
		want: `apps/raw: Deployment.apps/apps/raw: container "main": the readiness probe uses port "metrics", which the container does not declare; use one of the container's named ports (http) or a number`,
	},
	{
		name: "two containers on one port",
		tree: addRaw(func(d *appsv1.Deployment) {
			c := *container(d)
			c.Name, c.Ports = "sidecar", []corev1.ContainerPort{{Name: "admin", ContainerPort: 8080}}
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, c)
		}),
		want: `apps/raw: Deployment.apps/apps/raw: container "sidecar": port 8080/TCP is also declared by container "main"; give each port of the pod its own number`,
	},
	{
		name: "a container name with capitals",
		tree: addRaw(func(d *appsv1.Deployment) { container(d).Name = "Main" }),
		want: `apps/raw: Deployment.apps/apps/raw: container name "Main" is invalid: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'); use at most 63 lowercase letters, digits and '-'`,
	},
	{
		name: "a port name longer than 15",
		tree: addRaw(func(d *appsv1.Deployment) { container(d).Ports[0].Name = "http-management-api" }),
		want: `apps/raw: Deployment.apps/apps/raw: container "main": port name "http-management-api" is invalid: must be no more than 15 characters; use at most 15 lowercase letters, digits and '-', with a letter`,
	},
	{
		name: "a selector that misses the pod labels",
		tree: addRaw(func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
		}),
		want: `apps/raw: Deployment.apps/apps/raw: selector app=other does not match the pod template labels map[app.kubernetes.io/name:raw]; make the selector match the pod template's labels`,
	},
	{
		name: "a mount of a volume the pod does not have",
		tree: addRaw(func(d *appsv1.Deployment) {
			container(d).VolumeMounts = []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}}
		}),
		want: `apps/raw: Deployment.apps/apps/raw: container "main" mounts volume "cache", which the pod does not define; add the volume to the pod or fix the mount's name`,
	},
	{
		name: "a Service name that starts with a digit",
		tree: func(_ *core.App, h *homelab.Homelab) {
			kube.NewObject(h.Apps, "svc", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "1password-connect", Namespace: "apps"}})
		},
		want: `apps/svc: Service name "1password-connect" is not a valid DNS-1035 label: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'); start with a letter; use at most 63 lowercase letters, digits and '-'`,
	},

	// 8. Duplicates and nil props.
	{
		name: "a namespace declared twice",
		props: func(p *homelab.Props) {
			p.Namespaces = append(p.Namespaces, homelab.Namespace{Name: "apps", PodSecurity: "baseline"})
		},
		want: `platform/namespaces/apps~invalid-1: Namespace/apps is defined twice (also at "platform/namespaces/apps"); rename one of them or remove the duplicate at "platform/namespaces/apps"`,
	},
	{
		name: "an object outside any chart",
		tree: func(app *core.App, _ *homelab.Homelab) {
			kube.NewObject(app, "loose", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "loose", Namespace: "apps"}})
		},
		want: `loose: the object is in no chart, so no directory would hold it; create Kubernetes objects inside a kube.Chart (kube.NewChart)`,
	},
}

// vipRemoved is a control-plane patch that announces another address on
// the NIC the cluster put the VIP on.
func vipRemoved() *v1alpha1.Config {
	return &v1alpha1.Config{MachineConfig: &v1alpha1.MachineConfig{MachineNetwork: &v1alpha1.NetworkConfig{
		NetworkInterfaces: v1alpha1.NetworkDeviceList{{
			DeviceSelector:  &v1alpha1.NetworkDeviceSelector{NetworkDevicePhysical: ptr.To(true)},
			DeviceVIPConfig: &v1alpha1.DeviceVIPConfig{SharedIP: "192.168.2.60"},
		}},
	}}}
}
