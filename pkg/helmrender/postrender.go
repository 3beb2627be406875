package helmrender

import (
	"encoding/json"
	"fmt"

	"github.com/fluxcd/pkg/apis/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/pkg/manifest"
)

// PostRender applies a HelmRelease's Kustomize post-renderer patches to
// the rendered objects the way helm-controller v1.6.1 does
// (internal/postrender/kustomize.go): the chart's output as the one
// resource of an in-memory kustomization, each patch with its target,
// built by krusty with load restrictions off and only builtin plugins.
// helm-controller's default strategy sends the hooks with the templates
// ("combined"), so objs holds both.
func PostRender(objs []*unstructured.Unstructured, patches []kustomize.Patch) ([]*unstructured.Unstructured, error) {
	if len(patches) == 0 {
		return objs, nil
	}
	fs := filesys.MakeFsInMemory()
	var stream []byte
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		stream = append(append(stream, "---\n"...), y...)
	}
	const input = "helm-output.yaml"
	if err := fs.WriteFile(input, stream); err != nil {
		return nil, err
	}
	k := kustypes.Kustomization{TypeMeta: kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind}, Resources: []string{input}}
	for _, p := range patches {
		kp := kustypes.Patch{Patch: p.Patch}
		if s := p.Target; s != nil {
			kp.Target = &kustypes.Selector{ResId: resIDOf(s), AnnotationSelector: s.AnnotationSelector, LabelSelector: s.LabelSelector}
		}
		k.Patches = append(k.Patches, kp)
	}
	raw, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	if err := fs.WriteFile("kustomization.yaml", raw); err != nil {
		return nil, err
	}
	resMap, err := krusty.MakeKustomizer(&krusty.Options{LoadRestrictions: kustypes.LoadRestrictionsNone, PluginConfig: kustypes.DisabledPluginConfig()}).Run(fs, ".")
	if err != nil {
		return nil, fmt.Errorf("post-rendering: %w", err)
	}
	out, err := resMap.AsYaml()
	if err != nil {
		return nil, err
	}
	return manifest.Decode(out)
}

// resIDOf is the kustomize resource id a Flux selector names, as
// helm-controller's adaptSelector builds it.
func resIDOf(s *kustomize.Selector) resid.ResId {
	return resid.ResId{Gvk: resid.Gvk{Group: s.Group, Version: s.Version, Kind: s.Kind}, Name: s.Name, Namespace: s.Namespace}
}
