package cli_test

import (
	"fmt"
	"github.com/funoffshore/homelab/pkg/lab"
	"io"
	"os"
	"path/filepath"

	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/cli/launch"
)

// The walkthrough in docs/your-own-homelab.md: a homelab of one's own,
// synthesized through the homelab command line. The lines between the
// walkthrough markers are quoted in that document (a test keeps them
// equal).
func ExampleRun_yourOwnHomelab() {
	// begin walkthrough
	build := func(repo launch.Repo) (*lab.Lab, error) {
		app := core.NewApp(nil) // output root: cluster/ in your repository

		// Hypervisor: one Proxmox host and one VM.
		dc := proxmox.NewDatacenter(app, "proxmox", nil)
		dc.AddHost("pve", &proxmox.HostProps{Endpoint: "https://10.0.0.2:8006", Cores: 8, MemoryGiB: 32})
		vm := dc.AddVM("talos", &proxmox.VMProps{VMID: 200, Cores: 4, MemoryGiB: 12, DiskGiB: 64})

		// OS: a one-node Talos cluster whose control plane runs workloads.
		allowPods := true
		cluster := talos.NewCluster(app, "talos", &talos.ClusterProps{
			Name: "lab", Subnet: "10.0.0.0/24",
			Patches: []talos.Patch{{Role: talos.ControlPlane, Config: &v1alpha1.Config{
				ClusterConfig: &v1alpha1.ClusterConfig{AllowSchedulingOnControlPlanes: &allowPods},
			}}},
		})
		cluster.AddNode("talos", &talos.NodeProps{IP: "10.0.0.10", Role: talos.ControlPlane, Machine: vm})

		// GitOps: the charts flux, platform and apps, applied in that
		// order by Flux from the repository.
		layers := flux.NewLayers(app, &flux.LayersProps{URL: "ssh://git@git.example.org/me/lab"})
		platform, appsChart := layers.Platform, layers.Apps

		// Platform: every namespace an object uses is declared; NFS storage
		// from its Helm repository.
		kube.NewNamespace(platform, "nfs-provisioner", &kube.NamespaceProps{PodSecurity: "baseline"})
		kube.NewNamespace(platform, "apps", &kube.NamespaceProps{PodSecurity: "restricted"})
		charts := flux.NewHelmRepository(platform, "nfs-repo", &flux.HelmRepositoryProps{
			Name: "nfs-subdir-external-provisioner", URL: "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner",
		})
		nfs := storage.NewNFS(platform, "nfs", charts, &storage.NFSProps{Server: "10.0.0.5", Path: "/export/k8s"})

		// A Secret: its keys are declared here, its values are set with
		// `go run . secrets set apps/whoami-token token < FILE` into the
		// encrypted store, which repo.Secrets reads.
		token := secret.New(appsChart, "whoami-token", &secret.Props{
			Namespace: "apps", Keys: []string{"token"}, Source: repo.Secrets,
		})

		// One app with a volume, reading the Secret.
		apps.NewApp(appsChart, "whoami", &apps.AppProps{
			Image: "traefik/whoami:v1.10.3", Port: 8080, Args: []string{"--port", "8080"},
			Volume: &storage.Volume{Class: nfs.Class, Size: "1Gi"},
			Env:    []corev1.EnvVar{token.Env("WHOAMI_TOKEN", "token")},
		})
		// What the commands act on: the tree, the cluster and the
		// datacenter (validate checks the cluster, deploy creates both).
		return &lab.Lab{App: app, Cluster: cluster, Datacenter: dc}, nil
	}
	// end walkthrough

	out, _ := os.MkdirTemp("", "lab-")
	defer os.RemoveAll(out)
	// launch.Main(build) runs it from a module's main; here the command
	// line runs it with an empty store.
	code := cli.Run(func() (*lab.Lab, error) { return build(launch.Repo{}) }, []string{"synth", "--out", out}, os.Stdout, io.Discard)
	fmt.Println("exit", code)
	for _, f := range []string{"kubernetes/apps/whoami.yaml", "talos/controlplane.yaml", "proxmox/inventory.yaml"} {
		_, err := os.Stat(filepath.Join(out, f))
		fmt.Println(f, err == nil)
	}
	// Output:
	// exit 0
	// kubernetes/apps/whoami.yaml true
	// talos/controlplane.yaml true
	// proxmox/inventory.yaml true
}
