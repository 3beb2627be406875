package homelab_test

import (
	"fmt"

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
	// kubernetes/platform-config/alerting.yaml
	// kubernetes/platform-config/backup-daily.yaml
	// kubernetes/platform-config/kustomization.yaml
	// kubernetes/platform-config/monitors.yaml
	// kubernetes/platform/backup/etcd-snapshots.yaml
	// kubernetes/platform/backup/kustomization.yaml
	// kubernetes/platform/ingress/cloudflared.yaml
	// kubernetes/platform/ingress/ingress-nginx.yaml
	// kubernetes/platform/ingress/kustomization.yaml
	// kubernetes/platform/kustomization.yaml
	// kubernetes/platform/monitoring/kube-prometheus-stack.yaml
	// kubernetes/platform/monitoring/kustomization.yaml
	// kubernetes/platform/namespaces.yaml
	// kubernetes/platform/repositories.yaml
	// kubernetes/platform/security/apps.yaml
	// kubernetes/platform/security/cloudflared.yaml
	// kubernetes/platform/security/kustomization.yaml
	// kubernetes/platform/security/monitoring.yaml
	// kubernetes/platform/storage/kustomization.yaml
	// kubernetes/platform/storage/longhorn.yaml
	// kubernetes/platform/storage/nfs.yaml
	// proxmox/inventory.yaml
	// talos/controlplane.yaml
	// talos/talconfig.yaml
	// talos/worker.yaml
}
