package manifest

import (
	"cmp"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FluxKustomization is a Flux Kustomization of a rendered tree, as the
// review and the deployer's preflight need it.
type FluxKustomization struct {
	// ID is "namespace/name".
	ID string
	// Dir is the directory it applies, relative to the output root
	// ("kubernetes/platform").
	Dir string
	// Prune deletes what leaves the directory.
	Prune bool
	// DecryptionProvider and DecryptionSecret are its spec.decryption
	// ("sops", "sops-age"); empty without decryption.
	DecryptionProvider, DecryptionSecret string
}

// FluxKustomizations returns the Flux Kustomizations among objs, the
// deepest directory first, their paths taken relative to repoDir (where
// the output root sits in Git, "cluster").
func FluxKustomizations(objs []*unstructured.Unstructured, repoDir string) []FluxKustomization {
	var out []FluxKustomization
	for _, o := range objs {
		if o.GetKind() != "Kustomization" || o.GroupVersionKind().Group != "kustomize.toolkit.fluxcd.io" {
			continue
		}
		p, _, _ := unstructured.NestedString(o.Object, "spec", "path")
		k := FluxKustomization{ID: o.GetNamespace() + "/" + o.GetName(),
			Dir: strings.TrimPrefix(path.Clean(strings.TrimPrefix(p, "./")), path.Clean(repoDir)+"/")}
		k.Prune, _, _ = unstructured.NestedBool(o.Object, "spec", "prune")
		k.DecryptionProvider, _, _ = unstructured.NestedString(o.Object, "spec", "decryption", "provider")
		k.DecryptionSecret, _, _ = unstructured.NestedString(o.Object, "spec", "decryption", "secretRef", "name")
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b FluxKustomization) int {
		return cmp.Or(cmp.Compare(len(b.Dir), len(a.Dir)), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Owner returns the Kustomization that applies file (a path below the
// output root): the one with the deepest directory holding it.
func Owner(ks []FluxKustomization, file string) (FluxKustomization, bool) {
	for _, k := range ks {
		if strings.HasPrefix(file, k.Dir+"/") {
			return k, true
		}
	}
	return FluxKustomization{}, false
}
