package homelab

import (
	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/monitoring"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
)

// This file holds every value of the Funoffshore homelab (the
// architecture memo's): nothing else in the package names them, and a
// Props of another homelab never falls back to them.

// Funoffshore returns the Funoffshore homelab's props. New(scope, nil)
// builds it; another homelab starts from its own Props (or from a copy of
// these, changed).
func Funoffshore() *Props {
	return &Props{
		RepoURL:   "ssh://git@github.com/funoffshore/homelab",
		Branch:    "main",
		Apps:      DefaultApps(),
		Dashboard: Homepage("Funoffshore homelab"),
		Machines:  DefaultMachines(),
		Platform:  DefaultPlatform(),
	}
}

// DefaultMachines returns the memo's machines: two Intel N100 hosts with
// 16 GB each (one host cannot hold 8+4+4 GB of VMs once Proxmox keeps its
// 2 GiB), a control plane with 2 vCPU, 8 GB and 40 GB, and two workers with
// 2 vCPU, 4 GB and 32 GB, on 192.168.1.0/24.
func DefaultMachines() *Machines {
	return &Machines{
		ClusterName: "prox-n100",
		Subnet:      "192.168.1.0/24",
		Hosts: []proxmox.HostProps{
			{Name: "pve-1", Endpoint: "https://192.168.1.10:8006", Cores: 4, MemoryGiB: 16},
			{Name: "pve-2", Endpoint: "https://192.168.1.11:8006", Cores: 4, MemoryGiB: 16},
		},
		Nodes: []Node{
			{Name: "talos-cp-1", Role: talos.ControlPlane, IP: "192.168.1.101", VMID: 101, Cores: 2, MemoryGiB: 8, DiskGiB: 40},
			{Name: "talos-w-1", Role: talos.Worker, IP: "192.168.1.111", VMID: 111, Cores: 2, MemoryGiB: 4, DiskGiB: 32},
			{Name: "talos-w-2", Role: talos.Worker, IP: "192.168.1.112", VMID: 112, Cores: 2, MemoryGiB: 4, DiskGiB: 32},
		},
	}
}

// DefaultPlatform returns the memo's platform values.
func DefaultPlatform() *Platform {
	return &Platform{
		Domain:   "funoffshore.com",
		Tunnel:   &TunnelOptions{ID: ExampleTunnelID},
		Longhorn: &LonghornOptions{BackupTarget: "nfs://" + ExampleNFSServer + ":/volume1/longhorn-backups"},
		NFS:      &NFSOptions{Server: ExampleNFSServer, Path: "/volume1/k8s"},
		Monitoring: &MonitoringOptions{
			Retention: "7d", Volume: "10Gi",
			Alerts: monitoring.TelegramReceiver(ExampleTelegramChatID, "alertmanager-telegram"),
		},
		// Logs for 14 days (5Gi at 300Mi a day with a fifth to spare),
		// traces for 7 (2Gi at 200Mi a day).
		Telemetry: &TelemetryOptions{LogVolume: "5Gi", TraceVolume: "2Gi"},
		// Let's Encrypt for the public names (DNS-01 in the Cloudflare
		// zone, so LAN-only names under it work too), the homelab's own CA
		// for LAN names.
		Certs: &CertsOptions{CADomains: []string{"home.arpa"}, ACMEEmail: "admin@funoffshore.com"},
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

// DefaultApps returns the memo's apps: an echo service to check the
// ingress path end to end and Uptime Kuma on a volume of the homelab's
// default class (Longhorn). The memo's Homepage is Funoffshore's
// Dashboard.
func DefaultApps() []apps.AppProps {
	return []apps.AppProps{
		{
			Name: "echo", Host: "echo", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
			Args: []string{"netexec", "--http-port=8080"}, Port: 8080, HealthPath: "/healthz",
			Resources: apps.Resources{CPU: "10m", Memory: "16Mi", MemoryLimit: "32Mi"},
		},
		{
			Name: "uptime-kuma", Host: "status", Image: "louislam/uptime-kuma:2.5.5", Port: 3001, RunAsUser: 1000,
			Volume: &storage.Volume{Size: "1Gi"}, VolumePath: "/app/data", ScratchPaths: []string{"/tmp"},
			Resources: apps.Resources{CPU: "50m", Memory: "128Mi", MemoryLimit: "256Mi"},
		},
	}
}
