package validate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/funoffshore/homelab/pkg/manifest"
)

// FieldManager is the field manager of every apply Replay makes.
const FieldManager = "homelab"

// Step is one Flux Kustomization of the replay: what it applied and what
// the API server refused.
type Step struct {
	// Kustomization is the Flux Kustomization's name; Path its directory.
	Kustomization, Path string
	// Applied counts the objects sent to the API server.
	Applied int
	// ChartCRDs lists the charts whose CRDs were installed after this step.
	ChartCRDs []string
}

// Replay applies files (a synthesized tree, paths relative to the output
// root, which is repoDir inside the Git repository) to the API server behind
// c in Flux order: the Kustomizations sorted by dependsOn, each applying what
// kustomize builds from its path. CustomResourceDefinitions and Namespaces
// are applied for real (CRDs then waited for); everything else is a
// server-side dry-run apply. It returns the steps and every problem: objects
// the API server rejected (with its reason), objects no Kustomization
// applies, objects applied twice.
func Replay(ctx context.Context, c client.Client, files map[string][]byte, repoDir string) ([]Step, error) {
	return ReplayWith(ctx, c, files, repoDir, ReplayOptions{})
}

// ReplayOptions configures ReplayWith.
type ReplayOptions struct {
	// ChartCRDs maps a Helm chart name ("longhorn", "kube-prometheus-stack")
	// to the CRDs that chart installs (a YAML stream). They are not in the
	// tree; the replay installs them right after the Kustomization holding
	// a HelmRelease of that chart, and only if that Kustomization waits for
	// it (wait: true, or a health check on the HelmRelease), as Flux would
	// make them available to the Kustomizations that depend on it.
	ChartCRDs map[string][]byte
	// ClusterCRDs are CRDs the cluster has before Flux runs (Talos installs
	// talos.dev ServiceAccounts when Kubernetes Talos API access is on).
	ClusterCRDs []*apiextensionsv1.CustomResourceDefinition
	// Decrypt decrypts a SOPS-encrypted file in memory, as Flux's
	// kustomize-controller does with the sops-age key; without it,
	// encrypted Secrets reach the API server as they are (and fail).
	Decrypt func(encrypted []byte) ([]byte, error)
}

// ReplayWith is Replay with options.
func ReplayWith(ctx context.Context, c client.Client, files map[string][]byte, repoDir string, opts ReplayOptions) ([]Step, error) {
	fs := filesys.MakeFsInMemory()
	for p, data := range files {
		if opts.Decrypt != nil && bytes.Contains(data, []byte("\nsops:")) {
			plain, err := opts.Decrypt(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			data = plain
		}
		if err := fs.WriteFile("/"+repoDir+"/"+p, data); err != nil {
			return nil, err
		}
	}
	order, err := fluxOrder(files)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, crd := range opts.ClusterCRDs {
		crd = crd.DeepCopy()
		crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
		if err := c.Patch(ctx, crd, client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return nil, fmt.Errorf("cluster CRD %s: %w", crd.Name, err)
		}
		if err := manifest.WaitEstablished(ctx, c, crd.Name, 30*time.Second); err != nil {
			return nil, fmt.Errorf("cluster CRD %s: %w", crd.Name, err)
		}
	}
	var steps []Step
	appliedBy := map[string]string{}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	for _, ks := range order {
		dir := "/" + path.Clean(strings.TrimPrefix(ks.path, "./"))
		res, err := k.Run(fs, dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("Kustomization %q: kustomize build %s: %w", ks.name, ks.path, err))
			continue
		}
		objs, err := decodeResMap(res.AsYaml)
		if err != nil {
			return nil, err
		}
		step := Step{Kustomization: ks.name, Path: ks.path}
		// Pass 1: CRDs and Namespaces for real; pass 2: the rest, dry-run.
		for _, real := range []bool{true, false} {
			for _, u := range objs {
				isReal := u.GetKind() == "CustomResourceDefinition" || u.GetKind() == "Namespace"
				if isReal != real {
					continue
				}
				id := objectID(u)
				if prev, ok := appliedBy[id]; ok {
					errs = append(errs, fmt.Errorf("%s is applied by Kustomization %q and %q", id, prev, ks.name))
				}
				appliedBy[id] = ks.name
				step.Applied++
				opts := []client.PatchOption{client.FieldOwner(FieldManager), client.ForceOwnership}
				if !real {
					opts = append(opts, client.DryRunAll)
				}
				if err := c.Patch(ctx, u.DeepCopy(), client.Apply, opts...); err != nil {
					errs = append(errs, fmt.Errorf("Kustomization %q: %s rejected: %w", ks.name, id, err))
					continue
				}
				if real && u.GetKind() == "CustomResourceDefinition" {
					if err := manifest.WaitEstablished(ctx, c, u.GetName(), 30*time.Second); err != nil {
						errs = append(errs, fmt.Errorf("Kustomization %q: %s: %w", ks.name, id, err))
					}
				}
			}
		}
		// CRDs that arrive with a HelmRelease this Kustomization waits for.
		for _, u := range objs {
			if u.GetKind() != "HelmRelease" || !strings.HasPrefix(u.GetAPIVersion(), "helm.toolkit.fluxcd.io/") {
				continue
			}
			chart, _, _ := unstructured.NestedString(u.Object, "spec", "chart", "spec", "chart")
			crds, ok := opts.ChartCRDs[chart]
			if !ok || !ks.waitsFor(u) {
				continue
			}
			crdObjs, err := manifest.Decode(crds)
			if err != nil {
				return nil, fmt.Errorf("CRDs of chart %q: %w", chart, err)
			}
			for _, crd := range crdObjs {
				if err := c.Patch(ctx, crd, client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
					errs = append(errs, fmt.Errorf("Kustomization %q: CRD %s of chart %q: %w", ks.name, crd.GetName(), chart, err))
					continue
				}
				if err := manifest.WaitEstablished(ctx, c, crd.GetName(), 30*time.Second); err != nil {
					errs = append(errs, fmt.Errorf("Kustomization %q: CRD %s of chart %q: %w", ks.name, crd.GetName(), chart, err))
				}
			}
			step.ChartCRDs = append(step.ChartCRDs, chart)
		}
		steps = append(steps, step)
	}
	// Orphans: objects in files that no Kustomization applied.
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(p, ".yaml") || path.Base(p) == "kustomization.yaml" {
			continue
		}
		objs, err := manifest.Decode(files[p])
		if err != nil {
			continue // not Kubernetes YAML (Talos configs, inventories)
		}
		for _, u := range objs {
			if u.GetKind() == "" {
				continue
			}
			if _, ok := appliedBy[objectID(u)]; !ok && strings.HasPrefix(p, "kubernetes/") {
				errs = append(errs, fmt.Errorf("%s in %s is applied by no Flux Kustomization", objectID(u), p))
			}
		}
	}
	return steps, errors.Join(errs...)
}

type fluxKustomization struct {
	name, path   string
	dependsOn    []string
	wait         bool
	healthChecks []map[string]any
}

// waitsFor reports whether the Kustomization is ready only once obj is:
// it waits for everything it applies, or health-checks obj.
func (k fluxKustomization) waitsFor(obj *unstructured.Unstructured) bool {
	if k.wait {
		return true
	}
	for _, h := range k.healthChecks {
		if h["kind"] == obj.GetKind() && h["name"] == obj.GetName() && (h["namespace"] == obj.GetNamespace() || h["namespace"] == nil) {
			return true
		}
	}
	return false
}

// fluxOrder finds the Flux Kustomizations in files and sorts them so that
// each comes after the ones it depends on.
func fluxOrder(files map[string][]byte) ([]fluxKustomization, error) {
	byName := map[string]fluxKustomization{}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		objs, err := manifest.Decode(files[p])
		if err != nil {
			continue
		}
		for _, u := range objs {
			if u.GetKind() != "Kustomization" || !strings.HasPrefix(u.GetAPIVersion(), "kustomize.toolkit.fluxcd.io/") {
				continue
			}
			p, _, _ := unstructured.NestedString(u.Object, "spec", "path")
			k := fluxKustomization{name: u.GetNamespace() + "/" + u.GetName(), path: p}
			k.wait, _, _ = unstructured.NestedBool(u.Object, "spec", "wait")
			hcs, _, _ := unstructured.NestedSlice(u.Object, "spec", "healthChecks")
			for _, h := range hcs {
				if m, ok := h.(map[string]any); ok {
					k.healthChecks = append(k.healthChecks, m)
				}
			}
			deps, _, _ := unstructured.NestedSlice(u.Object, "spec", "dependsOn")
			for _, d := range deps {
				m, _ := d.(map[string]any)
				ns, _ := m["namespace"].(string)
				if ns == "" {
					ns = u.GetNamespace()
				}
				name, _ := m["name"].(string)
				k.dependsOn = append(k.dependsOn, ns+"/"+name)
			}
			byName[k.name] = k
		}
	}
	var order []fluxKustomization
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, from string) error
	visit = func(name, from string) error {
		k, ok := byName[name]
		if !ok {
			return fmt.Errorf("Kustomization %q depends on %q, which is not in the tree", from, name)
		}
		switch state[name] {
		case 1:
			return fmt.Errorf("Kustomization %q is part of a dependsOn cycle", name)
		case 2:
			return nil
		}
		state[name] = 1
		for _, d := range k.dependsOn {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, k)
		return nil
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	if len(order) == 0 {
		return nil, errors.New("the tree holds no Flux Kustomization")
	}
	return order, nil
}

func objectID(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	k := gvk.Kind
	if gvk.Group != "" {
		k += "." + gvk.Group
	}
	if u.GetNamespace() == "" {
		return k + "/" + u.GetName()
	}
	return k + "/" + u.GetNamespace() + "/" + u.GetName()
}

func decodeResMap(asYaml func() ([]byte, error)) ([]*unstructured.Unstructured, error) {
	data, err := asYaml()
	if err != nil {
		return nil, err
	}
	return manifest.Decode(data)
}
