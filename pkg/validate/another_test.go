package validate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/externalsecrets"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
)

// A homelab composed from neutral props with parts left out (NFS only,
// no monitoring, no tunnel; secrets from Vault) passes every check `homelab validate` runs:
// kustomize builds each directory (the empty platform-config too), Talos
// machinery accepts the configs, and a real kube-apiserver accepts the
// tree in Flux order.
func TestAnotherHomelabValidates(t *testing.T) {
	app, h := homelab.NewApp(&homelab.Props{
		RepoURL: "ssh://git@git.example.org/me/lab",
		Machines: &homelab.Machines{
			ClusterName: "lab", Subnet: "10.0.0.0/24",
			Hosts: []proxmox.HostProps{{Name: "pve", Endpoint: "https://10.0.0.2:8006", Cores: 8, MemoryGiB: 32}},
			Nodes: []homelab.Node{
				{Name: "cp", Role: talos.ControlPlane, IP: "10.0.0.10", VMID: 200, Cores: 2, MemoryGiB: 4, DiskGiB: 40},
				{Name: "w", Role: talos.Worker, IP: "10.0.0.11", VMID: 201, Cores: 4, MemoryGiB: 12, DiskGiB: 64},
			},
		},
		Platform: &homelab.Platform{Domain: "lab.example.org", NFS: &homelab.NFSOptions{Server: "10.0.0.5", Path: "/export/k8s"},
			Vault: &externalsecrets.VaultProps{Server: "https://10.0.0.6:8200", Kubernetes: &externalsecrets.KubernetesAuth{Role: "lab"}}},
		Apps: []apps.AppProps{{Name: "whoami", Host: "whoami", Image: "traefik/whoami:v1.10.3", Port: 8080,
			Args: []string{"--port", "8080"}, Volume: &storage.Volume{Size: "1Gi"}}},
		Dashboard: homelab.Homepage("Lab"),
	})
	// The app's token from Vault: its ExternalSecret is applied with the
	// apps, after the platform (the operator's CRDs); the store with
	// platform-config.
	secret.New(h.AppConstructs[0], "whoami-token", &secret.Props{Namespace: "apps", Keys: []string{"token"},
		External: &secret.External{Store: "vault", Path: "lab/whoami"}})
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	dirs, errs := validate.Kustomize(files)
	require.Empty(t, errs)
	require.Equal(t, 9, dirs) // flux, platform and its storage, external-secrets, ingress, security and backup, apps, platform-config
	require.Contains(t, string(files["kubernetes/platform-config/vault-store.yaml"]), "kind: ClusterSecretStore")
	require.Contains(t, string(files["kubernetes/apps/whoami.yaml"]), "kind: ExternalSecret")
	for _, f := range []string{"talos/controlplane.yaml", "talos/worker.yaml"} {
		_, err := validate.TalosConfig(f, files[f])
		require.NoError(t, err, f)
	}
	api := testenv.StartAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	steps, err := validate.ReplayWith(ctx, api.Client, files, "cluster", testenv.ReplayOptions(t))
	require.NoError(t, err)
	require.Len(t, steps, 4)
}
