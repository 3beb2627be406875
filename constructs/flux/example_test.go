package flux_test

import (
	"fmt"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/synth"
)

// Example wires Flux: the install, the Git sync, and a Kustomization for
// the apps that depends on the root, given as a construct.
func Example() {
	app := core.NewApp(nil)
	fluxChart := kube.NewChart(app, "flux", &kube.ChartProps{Dir: "kubernetes/flux"})
	appsChart := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"})
	install := flux.NewInstall(fluxChart, "gotk-components", nil)
	sync := flux.NewSync(fluxChart, "gotk-sync", &flux.SyncProps{URL: "ssh://git@example.com/lab", Chart: fluxChart, Install: install})
	apps := flux.NewKustomization(fluxChart, "apps", &flux.KustomizationProps{Chart: appsChart, DependsOn: []*flux.Kustomization{sync.Root}})

	files, err := synth.Render(app.Tree())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(apps.Spec.Spec.Path, apps.Spec.Spec.Interval.Duration, apps.Spec.Spec.Prune, apps.Spec.Spec.Wait)
	fmt.Println(len(install.Objects), "objects in gotk-components.yaml")
	fmt.Println(files.Paths())
	// Output:
	// ./cluster/kubernetes/apps 5m0s true true
	// 32 objects in gotk-components.yaml
	// [kubernetes/apps/kustomization.yaml kubernetes/flux/apps.yaml kubernetes/flux/gotk-components.yaml kubernetes/flux/gotk-sync.yaml kubernetes/flux/kustomization.yaml]
}
