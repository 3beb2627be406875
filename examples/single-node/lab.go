package main

import (
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
)

// Build describes the single-node homelab.
func Build() *core.App {
	app := core.NewApp(nil)

	// One host, one VM, one node that schedules workloads too.
	dc := proxmox.NewDatacenter(app, "proxmox", nil)
	dc.AddHost("pve", &proxmox.HostProps{Endpoint: "https://10.0.0.2:8006", Cores: 8, MemoryGiB: 32})
	vm := dc.AddVM("talos", &proxmox.VMProps{VMID: 200, Cores: 4, MemoryGiB: 12, DiskGiB: 64})
	allowPods := true
	cluster := talos.NewCluster(app, "talos", &talos.ClusterProps{
		Name: "single", Subnet: "10.0.0.0/24",
		Patches: []talos.Patch{{Role: talos.ControlPlane, Config: &v1alpha1.Config{
			ClusterConfig: &v1alpha1.ClusterConfig{AllowSchedulingOnControlPlanes: &allowPods},
		}}},
	})
	cluster.AddNode("talos", &talos.NodeProps{IP: "10.0.0.10", Role: talos.ControlPlane, Machine: vm})

	// Flux, a platform with NFS only, and one app.
	layers := flux.NewLayers(app, &flux.LayersProps{URL: "ssh://git@git.example.org/me/lab"})
	platform, appsChart := layers.Platform, layers.Apps

	kube.NewNamespace(platform, "nfs-provisioner", &kube.NamespaceProps{PodSecurity: "baseline"})
	kube.NewNamespace(platform, "apps", &kube.NamespaceProps{PodSecurity: "restricted"})
	repo := flux.NewHelmRepository(platform, "nfs-repo", &flux.HelmRepositoryProps{Name: "nfs-subdir-external-provisioner", URL: "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner"})
	nfs := storage.NewNFS(platform, "nfs", repo, &storage.NFSProps{Server: "10.0.0.5", Path: "/export/k8s"})

	apps.NewApp(appsChart, "whoami", &apps.AppProps{
		Image: "traefik/whoami:v1.10.3", Port: 8080, Args: []string{"--port", "8080"},
		Volume: &storage.Volume{Class: nfs.Class, Size: "1Gi"},
	})
	return app
}
