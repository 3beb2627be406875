package homelab

import (
	"fmt"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
)

// Namespace is a namespace the platform creates.
type Namespace struct {
	// Name of the namespace.
	Name string
	// PodSecurity level enforced in it ("privileged", "baseline",
	// "restricted"); empty keeps the cluster default (Talos: baseline).
	PodSecurity string
	// Existing marks a namespace the cluster already has (kube-system):
	// Flux labels it but never deletes it.
	Existing bool
}

// Props are a homelab's values. Zero values mean the Funoffshore default
// named on each field.
type Props struct {
	// RepoURL is the Git repository Flux pulls.
	// Default: "ssh://git@github.com/funoffshore/homelab".
	RepoURL string
	// Branch Flux follows. Default: "main".
	Branch string
	// Namespaces the platform creates (flux-system comes with Flux).
	// Default: DefaultNamespaces().
	Namespaces []Namespace
	// Apps run in cluster/kubernetes/apps. Default: DefaultApps().
	Apps []apps.AppProps
}

// DefaultNamespaces returns the memo's namespaces other than flux-system.
func DefaultNamespaces() []Namespace {
	return []Namespace{
		{Name: "kube-system", Existing: true},
		{Name: "longhorn-system", PodSecurity: "privileged"},
		{Name: "nfs-provisioner", PodSecurity: "privileged"},
		{Name: "ingress-nginx", PodSecurity: "baseline"},
		{Name: "cloudflared", PodSecurity: "restricted"},
		{Name: "monitoring", PodSecurity: "privileged"},
		{Name: "apps", PodSecurity: "restricted"},
	}
}

// DefaultApps returns the apps the Funoffshore homelab starts with: an echo
// service to check the ingress path end to end.
func DefaultApps() []apps.AppProps {
	return []apps.AppProps{{
		Name:      "echo",
		Image:     "registry.k8s.io/e2e-test-images/agnhost:2.53",
		Args:      []string{"netexec", "--http-port=8080"},
		Port:      8080,
		Resources: apps.Resources{CPU: "10m", Memory: "16Mi", MemoryLimit: "32Mi"},
	}}
}

// Homelab is a whole homelab: its charts and the constructs in them.
type Homelab struct {
	// Flux, Platform and Apps are the charts for cluster/kubernetes/flux,
	// cluster/kubernetes/platform and cluster/kubernetes/apps.
	Flux, Platform, Apps *kube.Chart
	// Install is the Flux install (gotk-components.yaml).
	Install *flux.Install
	// Sync is the Git sync (gotk-sync.yaml) with the root Kustomization.
	Sync *flux.Sync
	// PlatformKustomization and AppsKustomization apply the platform and
	// apps directories, in that order (apps.yaml).
	PlatformKustomization, AppsKustomization *flux.Kustomization
	// Apps holds the app constructs.
	AppConstructs []*apps.App
}

// New builds the homelab below scope (usually a core.App).
func New(scope constructs.Construct, props *Props) *Homelab {
	if props == nil {
		props = &Props{}
	}
	p := *props
	if p.RepoURL == "" {
		p.RepoURL = "ssh://git@github.com/funoffshore/homelab"
	}
	if p.Namespaces == nil {
		p.Namespaces = DefaultNamespaces()
	}
	if p.Apps == nil {
		p.Apps = DefaultApps()
	}

	h := &Homelab{}
	h.Flux = kube.NewChart(scope, "flux", &kube.ChartProps{Dir: "kubernetes/flux"})
	h.Platform = kube.NewChart(scope, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	h.Apps = kube.NewChart(scope, "apps", &kube.ChartProps{Dir: "kubernetes/apps"})

	h.Install = flux.NewInstall(h.Flux, "gotk-components", nil)
	h.Sync = flux.NewSync(h.Flux, "gotk-sync", &flux.SyncProps{URL: p.RepoURL, Branch: p.Branch, Chart: h.Flux, Install: h.Install})
	ks := kube.NewGroup(h.Flux, "apps")
	h.PlatformKustomization = flux.NewKustomization(ks, "platform", &flux.KustomizationProps{
		Chart: h.Platform, DependsOn: []*flux.Kustomization{h.Sync.Root},
	})
	h.AppsKustomization = flux.NewKustomization(ks, "apps", &flux.KustomizationProps{
		Chart: h.Apps, DependsOn: []*flux.Kustomization{h.PlatformKustomization},
	})

	nss := kube.NewGroup(h.Platform, "namespaces")
	for _, ns := range p.Namespaces {
		np := &kube.NamespaceProps{Name: ns.Name, PodSecurity: ns.PodSecurity}
		if ns.Existing {
			// Flux must never delete a namespace the cluster owns.
			np.Annotations = map[string]string{"kustomize.toolkit.fluxcd.io/prune": "disabled"}
		}
		kube.NewNamespace(nss, ns.Name, np)
	}
	seen := map[string]bool{}
	for i := range p.Apps {
		a := p.Apps[i]
		// Ids come from names; an empty or repeated name still gets a
		// construct, so validation reports it instead of a panic.
		id := a.Name
		if id == "" || seen[id] || strings.Contains(id, "/") {
			id = fmt.Sprintf("app-%d", i)
		}
		seen[id] = true
		h.AppConstructs = append(h.AppConstructs, apps.NewApp(h.Apps, id, &a))
	}
	return h
}

// NewApp returns a core.App holding the homelab built from props.
func NewApp(props *Props) (*core.App, *Homelab) {
	app := core.NewApp(nil)
	return app, New(app, props)
}
