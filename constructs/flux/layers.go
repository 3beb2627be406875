package flux

import (
	"cmp"
	"time"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/kube"
)

// LayersProps configure Layers.
type LayersProps struct {
	// URL and Branch of the Git repository Flux pulls (see SyncProps).
	// URL is required.
	URL, Branch string
	// PlatformTimeout bounds the platform Kustomization's health checks:
	// installing every chart on small nodes takes a while. Default: 10m.
	PlatformTimeout time.Duration
}

// Layers is the usual GitOps layout of a homelab, in three charts under
// kubernetes/: flux (the Flux install, the Git sync and the
// Kustomizations), platform and apps; platform is applied once the sync
// is ready and apps once platform is, so the apps find their storage
// classes, ingress class and CRDs.
type Layers struct {
	// Flux, Platform and Apps are the charts for kubernetes/flux,
	// kubernetes/platform and kubernetes/apps.
	Flux, Platform, Apps *kube.Chart
	// Install is gotk-components; Sync is gotk-sync with the root
	// Kustomization.
	Install *Install
	Sync    *Sync
	// PlatformKustomization and AppsKustomization apply Platform and
	// Apps, in that order.
	PlatformKustomization, AppsKustomization *Kustomization
}

// NewLayers adds the three charts and their Flux objects below scope
// (usually the core.App).
func NewLayers(scope constructs.Construct, props *LayersProps) *Layers {
	props = cmp.Or(props, &LayersProps{})
	timeout := cmp.Or(props.PlatformTimeout, 10*time.Minute)
	l := &Layers{
		Flux:     kube.NewChart(scope, "flux", &kube.ChartProps{Dir: "kubernetes/flux"}),
		Platform: kube.NewChart(scope, "platform", &kube.ChartProps{Dir: "kubernetes/platform"}),
		Apps:     kube.NewChart(scope, "apps", &kube.ChartProps{Dir: "kubernetes/apps"}),
	}
	l.Install = NewInstall(l.Flux, "gotk-components", nil)
	l.Sync = NewSync(l.Flux, "gotk-sync", &SyncProps{URL: props.URL, Branch: props.Branch, Chart: l.Flux, Install: l.Install})
	l.PlatformKustomization = NewKustomization(l.Flux, "platform", &KustomizationProps{
		Chart: l.Platform, DependsOn: []*Kustomization{l.Sync.Root}, Timeout: timeout,
	})
	l.AppsKustomization = NewKustomization(l.Flux, "apps", &KustomizationProps{
		Chart: l.Apps, DependsOn: []*Kustomization{l.PlatformKustomization},
	})
	return l
}
