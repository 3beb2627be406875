package flux

import (
	"fmt"
	"sort"

	"github.com/funoffshore/homelab/constructs/core"
)

// registry holds the Flux objects of one tree, for checks across them.
type registry struct {
	kustomizations map[string]*Kustomization // by construct path
	releases       []*HelmRelease
}

// registries holds each tree's registry.
var registries = core.NewFacet("flux/registry", func() *registry {
	return &registry{kustomizations: map[string]*Kustomization{}}
})

func registryOf(t *core.Tree) *registry { return registries.Of(t) }

// dependsOn reports whether k depends on target, directly or through others.
func (k *Kustomization) dependsOnTransitively(target *Kustomization) bool {
	seen := map[*Kustomization]bool{}
	var walk func(c *Kustomization) bool
	walk = func(c *Kustomization) bool {
		for _, d := range c.dependsOn {
			if d == target {
				return true
			}
			if d != nil && !seen[d] {
				seen[d] = true
				if walk(d) {
					return true
				}
			}
		}
		return false
	}
	return walk(k)
}

// waitsFor reports whether k becomes ready only once r is ready.
func (k *Kustomization) waitsFor(r *HelmRelease) bool {
	if k.Spec.Spec.Wait {
		return true
	}
	for _, h := range k.Spec.Spec.HealthChecks {
		if h.Kind == "HelmRelease" && h.Name == r.Spec.Name && (h.Namespace == r.Spec.Namespace || h.Namespace == "") {
			return true
		}
	}
	return false
}

// crdOrdering checks that every custom resource whose CRD arrives with a
// HelmRelease is applied by a Kustomization that depends on the one holding
// that HelmRelease, and that this one waits for it: otherwise, on a fresh
// cluster, the resource is applied before its CRD exists and never
// reconciles.
func crdOrdering(tree *core.Tree) []error {
	reg := registryOf(tree)
	providers := map[string][]*HelmRelease{}
	for _, r := range reg.releases {
		for _, g := range r.props.CRDGroups {
			providers[g] = append(providers[g], r)
		}
	}
	if len(providers) == 0 {
		return nil
	}
	applying := func(dir string) []*Kustomization {
		var out []*Kustomization
		paths := tree.RootsOf(dir)
		sort.Strings(paths)
		for _, p := range paths {
			if k := reg.kustomizations[p]; k != nil {
				out = append(out, k)
			}
		}
		return out
	}
	var errs []error
	for _, o := range tree.Objects() {
		id := o.Identity()
		chart := o.Info().Chart()
		if chart == nil {
			continue
		}
		for _, r := range providers[id.Group] {
			rc := r.Info().Chart()
			if rc == nil {
				continue
			}
			for _, ko := range applying(chart.Dir()) {
				for _, kr := range applying(rc.Dir()) {
					p := o.Info().Path()
					switch {
					case ko == kr:
						errs = append(errs, core.Errorf(p, fmt.Sprintf("apply it from a Kustomization that depends on %q", kr.Spec.Name),
							"%s is applied by Kustomization %q together with HelmRelease %q, which installs its CRD", id, ko.Spec.Name, r.Spec.Name))
					case !ko.dependsOnTransitively(kr):
						errs = append(errs, core.Errorf(p, fmt.Sprintf("add %q to the dependsOn of %q", kr.Spec.Name, ko.Spec.Name),
							"%s is applied by Kustomization %q, which does not depend on %q (holding HelmRelease %q, which installs its CRD)", id, ko.Spec.Name, kr.Spec.Name, r.Spec.Name))
					case !kr.waitsFor(r):
						errs = append(errs, core.Errorf(p, fmt.Sprintf("set Wait on %q or add a health check on the HelmRelease", kr.Spec.Name),
							"%s may be applied before its CRD exists: Kustomization %q does not wait for HelmRelease %q", id, kr.Spec.Name, r.Spec.Name))
					}
				}
			}
		}
	}
	return errs
}
