package flux

import (
	"cmp"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// Distribution is a Flux release: its version and the image of each
// controller it ships.
type Distribution struct {
	// Version of the Flux release, such as "v2.9.0".
	Version string
	// Registry the controller images come from.
	Registry string
	// Tags maps each controller to its image tag.
	Tags map[string]string
}

// Image returns the image reference of a controller.
func (d Distribution) Image(controller string) string {
	return d.Registry + "/" + controller + ":" + d.Tags[controller]
}

// V2_9_0 returns the pinned Flux distribution; its CRDs come from the
// fluxcd API modules in go.mod.
func V2_9_0() Distribution {
	return Distribution{
		Version:  "v2.9.0",
		Registry: "ghcr.io/fluxcd",
		Tags: map[string]string{
			"source-controller":       "v1.9.1",
			"kustomize-controller":    "v1.9.1",
			"helm-controller":         "v1.6.1",
			"notification-controller": "v1.9.1",
		},
	}
}

// Controllers returns the controllers Install deploys, in the order
// `flux install` writes them.
func Controllers() []string {
	return []string{"helm-controller", "kustomize-controller", "notification-controller", "source-controller"}
}

// InstallProps configures Install.
type InstallProps struct {
	// Distribution to install. Default: V2_9_0().
	Distribution *Distribution
	// Namespace of the controllers. Default: "flux-system".
	Namespace string
	// ClusterDomain of the cluster's DNS. Default: "cluster.local".
	ClusterDomain string
	// LogLevel of the controllers: "debug", "info" or "error". Default: "info".
	LogLevel string
	// NetworkPolicy adds the policies that isolate the namespace.
	// Default: true.
	NetworkPolicy *bool
}

// Install is the Flux controllers' install manifest (gotk-components): the
// namespace, CRDs, RBAC, Services, Deployments and NetworkPolicies that
// `flux install --export` produces for the distribution.
type Install struct {
	constructs.Construct
	info *core.Info

	// Namespace is the namespace the controllers run in, after defaults.
	Namespace string
	// Distribution is the Flux release installed, after defaults.
	Distribution Distribution
	// Objects holds every object of the install, in output order.
	Objects []*kube.Object
}

// NewInstall adds the Flux install manifest below scope.
func NewInstall(scope constructs.Construct, id string, props *InstallProps) *Install {
	props = cmp.Or(props, &InstallProps{})
	p := *props
	if p.Distribution == nil {
		d := V2_9_0()
		p.Distribution = &d
	}
	p.Namespace = cmp.Or(p.Namespace, "flux-system")
	p.ClusterDomain = cmp.Or(p.ClusterDomain, "cluster.local")
	p.LogLevel = cmp.Or(p.LogLevel, "info")
	if p.NetworkPolicy == nil {
		t := true
		p.NetworkPolicy = &t
	}
	in := &Install{Namespace: p.Namespace, Distribution: *p.Distribution}
	in.info = core.Init(in, scope, id)
	if first := installs.Of(in.info.Tree()); first.install == nil {
		first.install = in
	}
	in.info.Tree().AddValidation(in.validate(p))

	b := &installBuilder{in: in, props: p}
	b.namespace()
	b.crds()
	b.rbac()
	b.services()
	b.deployments()
	if *p.NetworkPolicy {
		b.networkPolicies()
	}
	return in
}

// Info returns the construct's place in the tree.
func (in *Install) Info() *core.Info { return in.info }

// ToString overrides the jsii method; it returns the construct path.
func (in *Install) ToString() *string { return core.PathString(in.info) }

func (in *Install) validate(p InstallProps) func() []error {
	return func() []error {
		var errs []error
		switch p.LogLevel {
		case "debug", "info", "error":
		default:
			errs = append(errs, core.Errorf(in.info.Path(), `use "debug", "info" or "error"`, "logLevel %q is not a Flux log level", p.LogLevel))
		}
		for _, c := range Controllers() {
			if p.Distribution.Tags[c] == "" {
				errs = append(errs, core.Errorf(in.info.Path(), "pin an image tag for every controller", "distribution %q has no image tag for %q", p.Distribution.Version, c))
			}
		}
		return errs
	}
}

// installs holds a tree's first Install.
var installs = core.NewFacet("flux/install", func() *struct{ install *Install } { return &struct{ install *Install }{} })

// InstallOf returns the tree's Install (the first one made), or nil.
func InstallOf(t *core.Tree) *Install {
	if first, ok := installs.Peek(t); ok {
		return first.install
	}
	return nil
}

// File returns the file synth writes the install to
// (gotk-components.yaml in its chart's directory), relative to the output
// root.
func (in *Install) File() string { return in.info.File() }
