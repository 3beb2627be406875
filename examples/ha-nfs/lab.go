package main

import (
	"fmt"
	"github.com/funoffshore/homelab/pkg/lab"

	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/certs"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/externalsecrets"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
)

// Build describes the HA homelab: three Proxmox hosts, one control plane
// on each behind a VIP, NFS as the only storage, no tunnel (the apps are
// reached inside the LAN), and a wiki with its PostgreSQL database.
func Build(src secret.Source) *lab.Lab {
	app := core.NewApp(nil)

	dc := proxmox.NewDatacenter(app, "proxmox", nil)
	cluster := talos.NewCluster(app, "talos", &talos.ClusterProps{Name: "ha", Subnet: "10.1.0.0/24", VIP: "10.1.0.50"})
	for i := 1; i <= 3; i++ {
		host := dc.AddHost(fmt.Sprintf("pve-%d", i), &proxmox.HostProps{Endpoint: fmt.Sprintf("https://10.1.0.%d:8006", i), Cores: 8, MemoryGiB: 32})
		cp := dc.AddVM(fmt.Sprintf("cp-%d", i), &proxmox.VMProps{VMID: 300 + i, Cores: 2, MemoryGiB: 4, DiskGiB: 40, Host: host})
		cluster.AddNode(cp.Name, &talos.NodeProps{IP: fmt.Sprintf("10.1.0.%d", 10+i), Role: talos.ControlPlane, Machine: cp})
		w := dc.AddVM(fmt.Sprintf("w-%d", i), &proxmox.VMProps{VMID: 310 + i, Cores: 4, MemoryGiB: 12, DiskGiB: 64, Host: host})
		cluster.AddNode(w.Name, &talos.NodeProps{IP: fmt.Sprintf("10.1.0.%d", 20+i), Role: talos.Worker, Machine: w})
	}

	layers := flux.NewLayers(app, &flux.LayersProps{URL: "ssh://git@git.example.org/ops/ha"})
	platform, appsChart := layers.Platform, layers.Apps

	kube.NewNamespace(platform, "nfs-provisioner", &kube.NamespaceProps{PodSecurity: "baseline"})
	kube.NewNamespace(platform, "apps", &kube.NamespaceProps{PodSecurity: "restricted"})
	repo := flux.NewHelmRepository(platform, "nfs-repo", &flux.HelmRepositoryProps{Name: "nfs-subdir-external-provisioner", URL: "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner"})
	nfs := storage.NewNFS(platform, "nfs", repo, &storage.NFSProps{Server: "10.1.0.5", Path: "/export/k8s"})

	// HTTPS in the LAN: ingress-nginx on the nodes' ports 30080/30443,
	// cert-manager signing with the homelab's own CA for ha.home.arpa (its
	// root made once by `go run . secrets ca`, kept encrypted in the store;
	// docs/tls.md says how devices trust it). The ClusterIssuer is applied
	// by a Kustomization after the platform, once cert-manager's CRDs exist.
	kube.NewNamespace(platform, "ingress-nginx-namespace", &kube.NamespaceProps{Name: "ingress-nginx", PodSecurity: "baseline"})
	kube.NewNamespace(platform, "cert-manager-namespace", &kube.NamespaceProps{Name: "cert-manager", PodSecurity: "restricted"})
	nginx := ingress.NewNginx(platform, "ingress-nginx", flux.NewHelmRepository(platform, "ingress-nginx-repo", &flux.HelmRepositoryProps{Name: ingress.NginxChart.Repo(), URL: ingress.NginxChart.Repository}),
		&ingress.NginxProps{LAN: &ingress.NodePorts{}})
	certs.NewCertManager(platform, "cert-manager", flux.NewHelmRepository(platform, "jetstack", &flux.HelmRepositoryProps{Name: certs.CertManagerChart.Repo(), URL: certs.CertManagerChart.Repository}), nil)
	secret.New(platform, "homelab-ca", &secret.Props{Namespace: "cert-manager", Keys: certs.CAKeys, Source: src})
	config := kube.NewChart(app, "platform-config", &kube.ChartProps{Dir: "kubernetes/platform-config"})
	flux.NewKustomization(layers.Flux, "platform-config", &flux.KustomizationProps{Chart: config, DependsOn: []*flux.Kustomization{layers.PlatformKustomization}})
	ca := certs.NewCAIssuer(config, "ca", &certs.CAIssuerProps{Namespace: "cert-manager", Domains: []string{"ha.home.arpa"}})

	// Secrets from Vault: the External Secrets Operator, its store for
	// the homelab's Vault (https://10.1.0.6:8200, its certificate from the
	// homelab's CA, which the store reads from the CA's Secret; the
	// operator logs in with its service account, bound to the Vault role
	// "ha-homelab" by Vault's Kubernetes auth method). The store is
	// applied with the issuer, after the operator's CRDs.
	kube.NewNamespace(platform, "external-secrets-namespace", &kube.NamespaceProps{Name: "external-secrets", PodSecurity: "restricted"})
	eso := externalsecrets.NewOperator(platform, "external-secrets", flux.NewHelmRepository(platform, "external-secrets-repo",
		&flux.HelmRepositoryProps{Name: externalsecrets.Chart.Repo(), URL: externalsecrets.Chart.Repository}), nil)
	externalsecrets.NewVaultStore(config, "vault", eso.Namespace, eso.ServiceAccount, &externalsecrets.VaultProps{
		Server: "https://10.1.0.6:8200", CASecret: &externalsecrets.SecretKey{Namespace: "cert-manager", Name: "homelab-ca", Key: "tls.crt"},
		Kubernetes: &externalsecrets.KubernetesAuth{Role: "ha-homelab"},
	})
	// The database's password, in Vault (`vault kv put secret/ha/wiki-db
	// password=...`), made into the Secret apps/wiki-db by the operator,
	// read by both apps as any Secret.
	db := secret.New(appsChart, "wiki-db", &secret.Props{Namespace: "apps", Keys: []string{"password"},
		External: &secret.External{Store: "vault", Path: "ha/wiki-db"}})
	postgres := apps.NewApp(appsChart, "postgres", &apps.AppProps{
		Image: "postgres:17.2", Port: 5432, ServicePort: 5432, PortName: "postgresql", RunAsUser: 999, ScratchPaths: []string{"/var/run/postgresql", "/tmp"},
		Env:       []corev1.EnvVar{db.Env("POSTGRES_PASSWORD", "password"), {Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"}},
		Resources: apps.Resources{CPU: "100m", Memory: "256Mi", MemoryLimit: "512Mi"},
	})
	postgres.Mount("/var/lib/postgresql/data", storage.Volume{Class: nfs.Class, Size: "10Gi"})
	wiki := apps.NewApp(appsChart, "wiki", &apps.AppProps{
		Image: "ghcr.io/requarks/wiki:2.5.306", Port: 3000, RunAsUser: 1000, Replicas: 2,
		Env: []corev1.EnvVar{{Name: "DB_TYPE", Value: "postgres"}, {Name: "DB_HOST", Value: postgres.ServiceHost()},
			{Name: "DB_PORT", Value: fmt.Sprint(postgres.ServicePort())}, {Name: "DB_USER", Value: "postgres"}, {Name: "DB_NAME", Value: "postgres"}, db.Env("DB_PASS", "password")},
		Resources: apps.Resources{CPU: "100m", Memory: "256Mi", MemoryLimit: "512Mi"},
		// https://wiki.ha.home.arpa:30443, with a certificate from the CA.
		Host: "wiki.ha.home.arpa", LAN: true, Ingress: nginx, TLS: ca,
	})
	// Only the wiki reaches the database.
	postgres.AllowFrom(wiki.Peer())
	return &lab.Lab{App: app, Cluster: cluster, Datacenter: dc}
}
