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
	// kubernetes/apps/kustomization.yaml
	// kubernetes/flux/apps.yaml
	// kubernetes/flux/gotk-components.yaml
	// kubernetes/flux/gotk-sync.yaml
	// kubernetes/flux/kustomization.yaml
	// kubernetes/platform/kustomization.yaml
	// kubernetes/platform/namespaces.yaml
	// proxmox/inventory.yaml
	// talos/controlplane.yaml
	// talos/talconfig.yaml
	// talos/worker.yaml
}
