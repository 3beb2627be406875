package homelab_test

import (
	"fmt"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/synth"
)

// Example builds the Funoffshore homelab and lists the files synth writes.
func Example() {
	app, _ := homelab.NewApp(nil)
	files, err := synth.Render(app.Tree())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range files.Paths() {
		fmt.Println(p)
	}
	// Output:
	// kubernetes/apps/echo.yaml
	// kubernetes/apps/homepage.yaml
	// kubernetes/apps/kustomization.yaml
	// kubernetes/apps/uptime-kuma.yaml
	// kubernetes/flux/apps.yaml
	// kubernetes/flux/gotk-components.yaml
	// kubernetes/flux/gotk-sync.yaml
	// kubernetes/flux/kustomization.yaml
	// kubernetes/platform-config/acme-issuer.yaml
	// kubernetes/platform-config/alerting.yaml
	// kubernetes/platform-config/backup-daily.yaml
	// kubernetes/platform-config/ca-issuer.yaml
	// kubernetes/platform-config/kustomization.yaml
	// kubernetes/platform-config/monitors.yaml
	// kubernetes/platform/backup/etcd-snapshots.yaml
	// kubernetes/platform/backup/kustomization.yaml
	// kubernetes/platform/certs/cert-manager.yaml
	// kubernetes/platform/certs/kustomization.yaml
	// kubernetes/platform/ingress/cloudflared.yaml
	// kubernetes/platform/ingress/ingress-nginx.yaml
	// kubernetes/platform/ingress/kustomization.yaml
	// kubernetes/platform/kustomization.yaml
	// kubernetes/platform/monitoring/kube-prometheus-stack.yaml
	// kubernetes/platform/monitoring/kustomization.yaml
	// kubernetes/platform/namespaces.yaml
	// kubernetes/platform/repositories.yaml
	// kubernetes/platform/security/alloy.yaml
	// kubernetes/platform/security/apps.yaml
	// kubernetes/platform/security/cert-manager.yaml
	// kubernetes/platform/security/cloudflared.yaml
	// kubernetes/platform/security/coredns.yaml
	// kubernetes/platform/security/etcd-snapshot.yaml
	// kubernetes/platform/security/ingress-nginx.yaml
	// kubernetes/platform/security/kustomization.yaml
	// kubernetes/platform/security/loki.yaml
	// kubernetes/platform/security/longhorn-metrics.yaml
	// kubernetes/platform/security/longhorn-share-manager.yaml
	// kubernetes/platform/security/longhorn-support-bundle.yaml
	// kubernetes/platform/security/longhorn-system.yaml
	// kubernetes/platform/security/monitoring.yaml
	// kubernetes/platform/security/nfs-provisioner.yaml
	// kubernetes/platform/security/tempo.yaml
	// kubernetes/platform/storage/kustomization.yaml
	// kubernetes/platform/storage/longhorn.yaml
	// kubernetes/platform/storage/nfs.yaml
	// kubernetes/platform/telemetry/alloy.yaml
	// kubernetes/platform/telemetry/kustomization.yaml
	// kubernetes/platform/telemetry/logs-dashboard.yaml
	// kubernetes/platform/telemetry/loki.yaml
	// kubernetes/platform/telemetry/tempo.yaml
	// proxmox/inventory.yaml
	// talos/controlplane.yaml
	// talos/talconfig.yaml
	// talos/worker.yaml
}

// ExampleNew composes another homelab than Funoffshore's from neutral
// props: one host and node, NFS only (the default class), no monitoring,
// no tunnel (ingress-nginx on node ports for the LAN), one app.
func ExampleNew() {
	app, _ := homelab.NewApp(&homelab.Props{
		RepoURL: "ssh://git@git.example.org/me/lab",
		Machines: &homelab.Machines{
			ClusterName: "lab", Subnet: "10.0.0.0/24",
			Hosts: []proxmox.HostProps{{Name: "pve", Endpoint: "https://10.0.0.2:8006", Cores: 8, MemoryGiB: 32}},
			Nodes: []homelab.Node{
				{Name: "cp", Role: talos.ControlPlane, IP: "10.0.0.10", VMID: 200, Cores: 2, MemoryGiB: 4, DiskGiB: 40},
				{Name: "w", Role: talos.Worker, IP: "10.0.0.11", VMID: 201, Cores: 4, MemoryGiB: 12, DiskGiB: 64},
			},
		},
		Platform: &homelab.Platform{Domain: "lab.example.org", NFS: &homelab.NFSOptions{Server: "10.0.0.5", Path: "/export/k8s"}},
		Apps: []apps.AppProps{{Name: "whoami", Host: "whoami", Image: "traefik/whoami:v1.10.3", Port: 8080,
			Args: []string{"--port", "8080"}, Volume: &storage.Volume{Size: "1Gi"}}},
	})
	files, err := synth.Render(app.Tree())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range files.Paths() {
		fmt.Println(p)
	}
	// Output:
	// kubernetes/apps/kustomization.yaml
	// kubernetes/apps/whoami.yaml
	// kubernetes/flux/apps.yaml
	// kubernetes/flux/gotk-components.yaml
	// kubernetes/flux/gotk-sync.yaml
	// kubernetes/flux/kustomization.yaml
	// kubernetes/platform-config/kustomization.yaml
	// kubernetes/platform/backup/etcd-snapshots.yaml
	// kubernetes/platform/backup/kustomization.yaml
	// kubernetes/platform/ingress/ingress-nginx.yaml
	// kubernetes/platform/ingress/kustomization.yaml
	// kubernetes/platform/kustomization.yaml
	// kubernetes/platform/namespaces.yaml
	// kubernetes/platform/repositories.yaml
	// kubernetes/platform/security/apps.yaml
	// kubernetes/platform/security/coredns.yaml
	// kubernetes/platform/security/etcd-snapshot.yaml
	// kubernetes/platform/security/ingress-nginx.yaml
	// kubernetes/platform/security/kustomization.yaml
	// kubernetes/platform/security/nfs-provisioner.yaml
	// kubernetes/platform/storage/kustomization.yaml
	// kubernetes/platform/storage/nfs.yaml
	// proxmox/inventory.yaml
	// talos/controlplane.yaml
	// talos/talconfig.yaml
	// talos/worker.yaml
}
