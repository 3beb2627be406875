package flux

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/kustomize"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// HelmRepositoryProps configures a HelmRepository.
type HelmRepositoryProps struct {
	// Name of the repository. Default: the construct id.
	Name string
	// Namespace of the repository. Default: "flux-system".
	Namespace string
	// URL of the chart repository: "https://..." for an index, "oci://..."
	// for an OCI registry. Required.
	URL string
	// Interval between index fetches. Default: 1h.
	Interval time.Duration
}

// HelmRepository is a Flux HelmRepository source.
type HelmRepository struct {
	*kube.Object
	// Spec is the HelmRepository after defaults.
	Spec *sourcev1.HelmRepository
}

// NewHelmRepository adds a HelmRepository below scope.
func NewHelmRepository(scope constructs.Construct, id string, props *HelmRepositoryProps) *HelmRepository {
	props = cmp.Or(props, &HelmRepositoryProps{})
	spec := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: cmp.Or(props.Name, id), Namespace: cmp.Or(props.Namespace, "flux-system")},
		Spec: sourcev1.HelmRepositorySpec{
			URL:      props.URL,
			Interval: metav1.Duration{Duration: cmp.Or(props.Interval, time.Hour)},
		},
	}
	if strings.HasPrefix(props.URL, "oci://") {
		spec.Spec.Type = sourcev1.HelmRepositoryTypeOCI
	}
	r := &HelmRepository{Object: kube.NewObject(scope, id, spec), Spec: spec}
	r.Info().Tree().AddValidation(func() []error {
		errs := checkDurations(r.Info().Path(), "helmrepositories.source.toolkit.fluxcd.io", "v1", durationField{"Interval", "interval", &spec.Spec.Interval})
		if !strings.HasPrefix(props.URL, "https://") && !strings.HasPrefix(props.URL, "oci://") {
			errs = append(errs, core.Errorf(r.Info().Path(), "use an https:// or oci:// URL", "chart repository URL %q is not https:// or oci://", props.URL))
		}
		return errs
	})
	return r
}

// HelmReleaseProps configures a HelmRelease.
type HelmReleaseProps struct {
	// Name of the release. Default: the construct id.
	Name string
	// Namespace of the HelmRelease object and, unless TargetNamespace is
	// set, of the release. Required.
	Namespace string
	// Repository the chart comes from. Required.
	Repository *HelmRepository
	// Chart name in the repository. Required.
	Chart string
	// Version of the chart, pinned exactly ("1.12.1"); ranges are refused
	// so that Git alone decides what runs. Required.
	Version string
	// Values for the chart: any value that marshals to a JSON object
	// (typed structs preferred, maps accepted).
	Values any
	// Interval between reconciliations. Default: 30m.
	Interval time.Duration
	// Timeout of install and upgrade. Default: 10m.
	Timeout time.Duration
	// Retries of a failed install or upgrade before giving up. Default: 3.
	Retries int
	// DependsOn lists releases that must be ready first.
	DependsOn []*HelmRelease
	// CRDGroups are the API groups of the CRDs the chart installs
	// ("monitoring.coreos.com"). Custom resources of these groups must be
	// applied by a Kustomization that depends on (and waits for) the one
	// holding this release; validation refuses any other order.
	CRDGroups []string
}

// HelmRelease is a Flux HelmRelease: a pinned chart version with typed values.
type HelmRelease struct {
	*kube.Object
	// Spec is the HelmRelease after defaults; values and dependsOn are
	// filled in at render time.
	Spec *helmv2.HelmRelease

	props     HelmReleaseProps
	patches   []kustomize.Patch
	patchErrs []error
}

// NewHelmRelease adds a HelmRelease below scope.
func NewHelmRelease(scope constructs.Construct, id string, props *HelmReleaseProps) *HelmRelease {
	props = cmp.Or(props, &HelmReleaseProps{})
	p := *props
	p.Retries = cmp.Or(p.Retries, 3)
	spec := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: cmp.Or(p.Name, id), Namespace: p.Namespace},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: cmp.Or(p.Interval, 30*time.Minute)},
			Timeout:  &metav1.Duration{Duration: cmp.Or(p.Timeout, 10*time.Minute)},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart:   p.Chart,
				Version: p.Version,
			}},
			Install: &helmv2.Install{
				CRDs:        helmv2.CreateReplace,
				Remediation: &helmv2.InstallRemediation{Retries: p.Retries},
			},
			Upgrade: &helmv2.Upgrade{
				CRDs:        helmv2.CreateReplace,
				Remediation: &helmv2.UpgradeRemediation{Retries: p.Retries},
			},
		},
	}
	if p.Repository != nil {
		spec.Spec.Chart.Spec.SourceRef = helmv2.CrossNamespaceObjectReference{
			Kind: sourcev1.HelmRepositoryKind, Name: p.Repository.Spec.Name, Namespace: p.Repository.Spec.Namespace,
		}
	}
	r := &HelmRelease{Object: kube.NewObject(scope, id, spec), Spec: spec, props: p}
	r.BeforeRender(r.render)
	tree := r.Info().Tree()
	tree.AddValidation(r.validate)
	registryOf(tree).releases = append(registryOf(tree).releases, r)
	tree.AddCheck("flux/crd-ordering", func() []error { return crdOrdering(tree) })
	return r
}

func (r *HelmRelease) render() error {
	if r.props.Values != nil {
		raw, err := valuesJSON(r.props.Values)
		if err != nil {
			return err
		}
		r.Spec.Spec.Values = &apiextensionsv1.JSON{Raw: raw}
	}
	var deps []helmv2.DependencyReference
	for _, d := range r.props.DependsOn {
		ref := helmv2.DependencyReference{Name: d.Spec.Name}
		if d.Spec.Namespace != r.Spec.Namespace {
			ref.Namespace = d.Spec.Namespace
		}
		deps = append(deps, ref)
	}
	r.Spec.Spec.DependsOn = deps
	r.Spec.Spec.PostRenderers = nil
	if len(r.patches) > 0 {
		r.Spec.Spec.PostRenderers = []helmv2.PostRenderer{{Kustomize: &helmv2.Kustomize{Patches: r.Patches()}}}
	}
	return nil
}

// Patch adds a strategic merge patch that helm-controller applies to the
// chart's output before installing it (a Kustomize post-renderer, run on
// the templates and the hooks together: helm-controller v1.6.1's default
// post-render strategy, "combined"). obj is a partial typed object: its
// kind and name say which object of the chart it patches, its fields
// what to set; lists of containers merge by name. Use it where the chart
// has no value for what must be set.
func (r *HelmRelease) Patch(obj kube.Typed) {
	gvk, err := kube.KindOf(obj)
	if err != nil {
		r.patchErrs = append(r.patchErrs, fmt.Errorf("patch of %T: %w", obj, err))
		return
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	// A typed object marshals its unset fields as null or {}, which a
	// strategic merge patch reads as "delete": keep only what is set.
	var m map[string]any
	js, err := json.Marshal(obj)
	if err == nil {
		err = json.Unmarshal(js, &m)
	}
	var raw []byte
	if err == nil {
		raw, err = yaml.Marshal(pruned(m))
	}
	if err != nil {
		r.patchErrs = append(r.patchErrs, fmt.Errorf("patch of %s %q: %w", gvk.Kind, obj.GetName(), err))
		return
	}
	r.patches = append(r.patches, kustomize.Patch{Patch: string(raw), Target: &kustomize.Selector{
		Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Name: obj.GetName(),
	}})
}

// pruned drops null values and the maps and lists left empty.
func pruned(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if x = pruned(x); x != nil {
				out[k] = x
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, x := range v {
			if x = pruned(x); x != nil {
				out = append(out, x)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

// Patches returns the post-renderer patches added with Patch.
func (r *HelmRelease) Patches() []kustomize.Patch { return slices.Clone(r.patches) }

func valuesJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("chart values do not marshal to JSON: %w", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("chart values must be a JSON object, got %s", truncate(string(raw), 40))
	}
	return raw, nil
}

func (r *HelmRelease) validate() []error {
	var errs []error
	p := r.Info().Path()
	errs = append(errs, checkDurations(p, "helmreleases.helm.toolkit.fluxcd.io", "v2",
		durationField{"Interval", "interval", &r.Spec.Spec.Interval}, durationField{"Timeout", "timeout", r.Spec.Spec.Timeout})...)
	if r.props.Namespace == "" {
		errs = append(errs, core.Errorf(p, "set HelmReleaseProps.Namespace", "HelmRelease %q has no namespace", r.Spec.Name))
	}
	if r.props.Repository == nil {
		errs = append(errs, core.Errorf(p, "set HelmReleaseProps.Repository to a HelmRepository construct", "HelmRelease %q has no chart repository", r.Spec.Name))
	} else if r.props.Repository.Info().Tree() != r.Info().Tree() {
		errs = append(errs, core.Errorf(p, "create the HelmRepository in this homelab", "chart repository %q is not in this homelab", r.props.Repository.Spec.Name))
	}
	if r.props.Chart == "" {
		errs = append(errs, core.Errorf(p, "set HelmReleaseProps.Chart", "HelmRelease %q names no chart", r.Spec.Name))
	}
	if !exactVersion(r.props.Version) {
		errs = append(errs, core.Errorf(p, "pin an exact chart version such as \"1.2.3\"", "chart version %q is not pinned", r.props.Version))
	}
	if r.props.Values != nil {
		if _, err := valuesJSON(r.props.Values); err != nil {
			errs = append(errs, core.Errorf(p, "pass a struct or map for Values", "%v", err))
		}
	}
	for _, err := range r.patchErrs {
		errs = append(errs, core.Errorf(p, "patch a Kubernetes type kube.Scheme knows, with its name set", "%v", err))
	}
	return errs
}

// exactVersion reports whether v is one exact version, not a range.
func exactVersion(v string) bool {
	v = strings.TrimPrefix(v, "v")
	if v == "" || strings.ContainsAny(v, "*^~<>=|, xX") {
		return false
	}
	parts := strings.SplitN(strings.SplitN(v, "-", 2)[0], ".", 3)
	if len(parts) != 3 {
		return false
	}
	for _, part := range parts {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
