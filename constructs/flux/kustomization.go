package flux

import (
	"cmp"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// KustomizationProps configures a Kustomization.
type KustomizationProps struct {
	// Name of the Kustomization. Default: the construct id.
	Name string
	// Namespace of the Kustomization. Default: "flux-system".
	Namespace string
	// Chart whose directory the Kustomization applies. Either Chart or Path
	// is required; Chart is preferred, Path is checked against the tree.
	Chart *kube.Chart
	// Path inside the Git repository, such as "./cluster/kubernetes/apps".
	Path string
	// Source the Kustomization reads. Default: the GitRepository
	// "flux-system" in the Kustomization's namespace.
	Source *GitRepository
	// DependsOn lists the Kustomizations that must be ready first.
	DependsOn []*Kustomization
	// Interval between reconciliations. Default: 5m.
	Interval time.Duration
	// RetryInterval after a failed reconciliation. Default: 1m.
	RetryInterval time.Duration
	// Timeout of apply and health checks. Default: 5m.
	Timeout time.Duration
	// Prune deletes objects removed from Git. Default: true.
	Prune *bool
	// Wait makes the Kustomization ready only when all its objects are
	// ready (health checks on every object). Default: true.
	Wait *bool
	// HealthChecks lists extra objects to wait for (used when Wait is off).
	HealthChecks []meta.NamespacedObjectKindReference
}

// Kustomization is a Flux Kustomization: it applies one directory of the
// synthesized tree, after the Kustomizations it depends on are ready.
type Kustomization struct {
	*kube.Object
	// Spec is the Kustomization after defaults; DependsOn is filled in at
	// render time from the constructs.
	Spec *kustomizev1.Kustomization

	dependsOn []*Kustomization
	path      string
}

// NewKustomization adds a Flux Kustomization below scope.
func NewKustomization(scope constructs.Construct, id string, props *KustomizationProps) *Kustomization {
	props = cmp.Or(props, &KustomizationProps{})
	tree := core.InfoOf(scope).Tree()
	p := props.Path
	if props.Chart != nil {
		p = "./" + path.Join(tree.RepoDir(), props.Chart.Dir())
	}
	k := &Kustomization{
		Spec: &kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: cmp.Or(props.Name, id), Namespace: cmp.Or(props.Namespace, "flux-system")},
			Spec: kustomizev1.KustomizationSpec{
				Interval:      metav1.Duration{Duration: cmp.Or(props.Interval, 5*time.Minute)},
				RetryInterval: &metav1.Duration{Duration: cmp.Or(props.RetryInterval, time.Minute)},
				Timeout:       &metav1.Duration{Duration: cmp.Or(props.Timeout, 5*time.Minute)},
				Path:          p,
				Prune:         ptr.Deref(props.Prune, true),
				Wait:          ptr.Deref(props.Wait, true),
				HealthChecks:  props.HealthChecks,
				SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "flux-system"},
			},
		},
		dependsOn: append([]*Kustomization(nil), props.DependsOn...),
		path:      p,
	}
	if props.Source != nil {
		k.Spec.Spec.SourceRef = kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: props.Source.Spec.Name}
		if props.Source.Spec.Namespace != k.Spec.Namespace {
			k.Spec.Spec.SourceRef.Namespace = props.Source.Spec.Namespace
		}
	}
	k.Object = kube.NewObject(scope, id, k.Spec)
	k.BeforeRender(k.renderDependsOn)
	if dir, ok := k.Dir(); ok {
		tree.MarkRoot(dir, k.Info().Path())
	}
	tree.AddValidation(k.validate)
	tree.AddCheck("flux/reach", func() []error { return reach(tree) })
	tree.AddCheck("flux/crd-ordering", func() []error { return crdOrdering(tree) })
	registryOf(tree).kustomizations[k.Info().Path()] = k
	return k
}

// AddDependsOn makes k wait for others; it may be called until synth.
func (k *Kustomization) AddDependsOn(others ...*Kustomization) {
	k.dependsOn = append(k.dependsOn, others...)
}

// DependsOn returns the Kustomizations k waits for.
func (k *Kustomization) DependsOn() []*Kustomization { return k.dependsOn }

// Dir returns the output directory (relative to the output root) the
// Kustomization's path points to, and whether the path is inside the output
// root at all.
func (k *Kustomization) Dir() (string, bool) {
	prefix := "./" + k.Info().Tree().RepoDir() + "/"
	clean := "./" + path.Clean(strings.TrimPrefix(k.path, "./"))
	if !strings.HasPrefix(clean, prefix) {
		return "", false
	}
	return strings.TrimPrefix(clean, prefix), true
}

func (k *Kustomization) renderDependsOn() error {
	deps := make([]kustomizev1.DependencyReference, 0, len(k.dependsOn))
	for _, d := range k.dependsOn {
		ref := kustomizev1.DependencyReference{Name: d.Spec.Name}
		if d.Spec.Namespace != k.Spec.Namespace {
			ref.Namespace = d.Spec.Namespace
		}
		deps = append(deps, ref)
	}
	if len(deps) == 0 {
		deps = nil
	}
	k.Spec.Spec.DependsOn = deps
	k.Spec.Spec.Decryption = nil
	if k.needsDecryption() {
		k.Spec.Spec.Decryption = &kustomizev1.Decryption{Provider: DecryptionProvider, SecretRef: &meta.LocalObjectReference{Name: DecryptionSecret}}
	}
	return nil
}

// DecryptionProvider and DecryptionSecret are how Flux decrypts the
// SOPS-encrypted Secrets: the age identity in the Secret "sops-age" in
// flux-system, which the deployer creates.
const (
	DecryptionProvider = "sops"
	DecryptionSecret   = "sops-age"
)

// needsDecryption reports whether k applies an encrypted chart file.
func (k *Kustomization) needsDecryption() bool {
	tree := k.Info().Tree()
	for _, f := range tree.ChartFiles() {
		c := f.Owner.Chart()
		if !f.NeedsDecryption || c == nil {
			continue
		}
		if _, ok := f.Content(); !ok {
			continue
		}
		for _, r := range tree.RootsOf(c.Dir()) {
			if r == k.Info().Path() {
				return true
			}
		}
	}
	return false
}

func (k *Kustomization) validate() []error {
	var errs []error
	p := k.Info().Path()
	errs = append(errs, checkDurations(p, "kustomizations.kustomize.toolkit.fluxcd.io", "v1",
		durationField{"Interval", "interval", &k.Spec.Spec.Interval}, durationField{"RetryInterval", "retryInterval", k.Spec.Spec.RetryInterval},
		durationField{"Timeout", "timeout", k.Spec.Spec.Timeout})...)
	tree := k.Info().Tree()
	dir, inside := k.Dir()
	switch {
	case k.path == "":
		errs = append(errs, core.Errorf(p, "set Chart (preferred) or Path", "Kustomization %q has no path", k.Spec.Name))
	case !inside || tree.ChartAt(dir) == nil:
		errs = append(errs, core.Errorf(p, "point it at a chart's directory ("+strings.Join(chartPaths(tree), ", ")+") or pass Chart instead of Path",
			"path %q is rendered by no chart", k.path))
	}
	for _, d := range k.dependsOn {
		switch {
		case d == nil:
			errs = append(errs, core.Errorf(p, "remove the nil entry", "dependsOn holds a nil Kustomization"))
		case d.Info().Tree() != tree:
			errs = append(errs, core.Errorf(p, "add that Kustomization to this homelab's tree or drop the dependency",
				"dependsOn %q refers to a Kustomization (%q) that is not in this homelab", d.Spec.Name, d.Info().Path()))
		case d == k:
			errs = append(errs, core.Errorf(p, "remove the dependency on itself", "Kustomization %q depends on itself", k.Spec.Name))
		}
	}
	if cycle := k.cycle(); cycle != nil {
		names := make([]string, len(cycle))
		for i, c := range cycle {
			names[i] = c.Spec.Name
		}
		errs = append(errs, core.Errorf(p, "remove one of these dependsOn links",
			"dependsOn forms a cycle: %s", strings.Join(names, " -> ")))
	}
	if k.Spec.Spec.Interval.Duration < time.Minute {
		errs = append(errs, core.Errorf(p, "use an interval of 1m or more", "interval %s is shorter than a minute", k.Spec.Spec.Interval.Duration))
	}
	return errs
}

// cycle returns the dependency cycle through k, starting and ending at k,
// when k is the construct of the cycle with the smallest path (so a cycle
// is reported once), or nil.
func (k *Kustomization) cycle() []*Kustomization {
	var stack []*Kustomization
	onPath := map[*Kustomization]bool{}
	var found []*Kustomization
	var visit func(c *Kustomization) bool
	visit = func(c *Kustomization) bool {
		stack = append(stack, c)
		onPath[c] = true
		for _, d := range c.dependsOn {
			if d == nil || d == c {
				continue
			}
			if d == k {
				found = append(append([]*Kustomization(nil), stack...), k)
				return true
			}
			if !onPath[d] && visit(d) {
				return true
			}
		}
		stack = stack[:len(stack)-1]
		onPath[c] = false
		return false
	}
	if !visit(k) {
		return nil
	}
	for _, c := range found {
		if c.Info().Path() < k.Info().Path() {
			return nil
		}
	}
	return found
}

// reach checks that every synthesized Kubernetes object is applied by
// exactly one Flux Kustomization: its chart's directory is a Kustomization
// root, or is listed by the kustomization.yaml of a chart above it that is.
func reach(tree *core.Tree) []error {
	var errs []error
	for _, o := range tree.Objects() {
		chart := o.Info().Chart()
		if chart == nil {
			errs = append(errs, core.Errorf(o.Info().Path(), "create it inside a kube.Chart", "%s is in no chart, so synth writes it nowhere", o.Identity()))
			continue
		}
		roots := tree.RootsOf(chart.Dir())
		switch {
		case len(roots) == 0:
			errs = append(errs, core.Errorf(o.Info().Path(), "add a Flux Kustomization for "+tree.TopChartDir(chart.Dir())+" or move the object into a directory a Kustomization applies",
				"%s in %q is applied by no Flux Kustomization (orphan)", o.Identity(), chart.Dir()))
		case len(roots) > 1:
			sort.Strings(roots)
			errs = append(errs, core.Errorf(o.Info().Path(), "keep one Kustomization per path",
				"%s in %q is applied by %d Flux Kustomizations (%s)", o.Identity(), chart.Dir(), len(roots), strings.Join(roots, ", ")))
		}
	}
	return errs
}

func chartPaths(tree *core.Tree) []string {
	var out []string
	for _, c := range tree.Charts() {
		out = append(out, fmt.Sprintf("%q", "./"+path.Join(tree.RepoDir(), c.Dir())))
	}
	sort.Strings(out)
	return out
}
