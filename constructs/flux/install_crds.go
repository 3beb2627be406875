package flux

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/core"
)

// crdFiles holds the CRDs controller-gen generates from the pinned fluxcd
// API modules (hack/generate-crds.sh, `make generate`).
//
//go:embed crds/*.yaml
var crdFiles embed.FS

// componentOfGroup maps a Flux API group to the controller that owns it.
var componentOfGroup = map[string]string{
	"source.toolkit.fluxcd.io":       "source-controller",
	"kustomize.toolkit.fluxcd.io":    "kustomize-controller",
	"helm.toolkit.fluxcd.io":         "helm-controller",
	"notification.toolkit.fluxcd.io": "notification-controller",
}

// CRDs returns the Flux CustomResourceDefinitions embedded in the module,
// sorted by name, as controller-gen wrote them. Each call returns copies
// of one parse per process, which starts in the background when a tree
// starts (core.Prepare): parsing the YAML takes ~20 ms.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	parsed, err := parsedCRDs()
	if err != nil {
		return nil, err
	}
	out := make([]*apiextensionsv1.CustomResourceDefinition, len(parsed))
	for i, crd := range parsed {
		out[i] = crd.DeepCopy()
	}
	return out, nil
}

var parsedCRDs = sync.OnceValues(parseCRDs)

func init() { core.Prepare(func() { parsedCRDs() }) }

func parseCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	entries, err := fs.ReadDir(crdFiles, "crds")
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, e := range entries {
		data, err := crdFiles.ReadFile("crds/" + e.Name())
		if err != nil {
			return nil, err
		}
		data = bytes.TrimPrefix(bytes.TrimSpace(data), []byte("---"))
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("embedded CRD %q: %w", e.Name(), err)
		}
		if _, ok := componentOfGroup[crd.Spec.Group]; !ok {
			return nil, fmt.Errorf("embedded CRD %q: group %q belongs to no Flux controller", e.Name(), crd.Spec.Group)
		}
		out = append(out, crd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// crdID returns a construct id for a CRD: "crd-gitrepositories-source".
func crdID(crd *apiextensionsv1.CustomResourceDefinition) string {
	return "crd-" + crd.Spec.Names.Plural + "-" + strings.SplitN(crd.Spec.Group, ".", 2)[0]
}

// SpecPattern returns the pattern Flux's own CRD puts on a field of a
// kind's spec (the OpenAPI schema controller-gen wrote from the API
// module's +kubebuilder:validation:Pattern marker), so a value is checked
// against what the API server will enforce, not a retyped copy: crd is
// the CRD's name ("gitrepositories.source.toolkit.fluxcd.io"), path the
// field below spec ("url").
func SpecPattern(crd, version string, path ...string) (*regexp.Regexp, error) {
	crds, err := parsedCRDs()
	if err != nil {
		return nil, err
	}
	for _, c := range crds {
		if c.Name != crd {
			continue
		}
		for _, v := range c.Spec.Versions {
			if v.Name != version || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			s := v.Schema.OpenAPIV3Schema.Properties["spec"]
			for _, p := range path {
				s = s.Properties[p]
			}
			if s.Pattern == "" {
				return nil, fmt.Errorf("CRD %s %s has no pattern at spec.%s", crd, version, strings.Join(path, "."))
			}
			return regexp.Compile(s.Pattern)
		}
	}
	return nil, fmt.Errorf("no CRD %s %s is embedded", crd, version)
}
