// Package helmrender renders a Helm chart package with a release's values
// the way helm-controller installs it, without a cluster, so tests can look
// at the objects a HelmRelease really produces.
package helmrender

import (
	"cmp"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/pkg/manifest"
)

// Options say how to render. The zero value renders templates only (no
// CRDs, no hooks) for a Kubernetes 1.36 cluster.
type Options struct {
	// ReleaseName is the Helm release name. Default: the chart's name.
	ReleaseName string
	// Namespace is the release namespace. Default: "default".
	Namespace string
	// KubeVersion is the cluster's Kubernetes version. Default: "v1.36.4";
	// the charts the tree installs refuse Helm's built-in default.
	KubeVersion string
	// APIVersions are extra API group/versions (and group/version/Kind)
	// the chart may test for with .Capabilities.APIVersions.Has, such as
	// "monitoring.coreos.com/v1".
	APIVersions []string
	// CRDs includes the objects in the chart's crds/ directories.
	CRDs bool
	// Hooks includes hook objects (pre-install jobs, tests excluded).
	Hooks bool
}

// DefaultKubeVersion is the Kubernetes version charts are rendered for
// when Options.KubeVersion is empty.
const DefaultKubeVersion = "v1.36.4"

// Render loads the chart package (a .tgz or a chart directory) at path and
// renders it with values. Objects come back in the order Helm installs
// them.
func Render(path string, values map[string]any, opts Options) ([]*unstructured.Unstructured, error) {
	chrt, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("loading chart %q: %w", path, err)
	}
	kv, err := chartutil.ParseKubeVersion(cmp.Or(opts.KubeVersion, DefaultKubeVersion))
	if err != nil {
		return nil, fmt.Errorf("kube version %q: %w", opts.KubeVersion, err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRun = true
	inst.ClientOnly = true
	inst.Replace = true
	inst.IncludeCRDs = opts.CRDs
	inst.DisableHooks = !opts.Hooks
	inst.ReleaseName = cmp.Or(opts.ReleaseName, chrt.Metadata.Name)
	inst.Namespace = cmp.Or(opts.Namespace, "default")
	inst.KubeVersion = kv
	inst.APIVersions = chartutil.VersionSet(opts.APIVersions)
	if values == nil {
		values = map[string]any{}
	}
	rel, err := inst.Run(chrt, values)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s-%s: %w", chrt.Metadata.Name, chrt.Metadata.Version, err)
	}
	var b strings.Builder
	b.WriteString(rel.Manifest)
	if opts.Hooks {
		hooks := rel.Hooks
		sort.SliceStable(hooks, func(i, j int) bool { return hooks[i].Weight < hooks[j].Weight })
		for _, h := range hooks {
			if isTestHook(h.Events) {
				continue
			}
			b.WriteString("\n---\n")
			b.WriteString(h.Manifest)
		}
	}
	objs, err := manifest.Decode([]byte(b.String()))
	if err != nil {
		return nil, fmt.Errorf("decoding rendered chart %s: %w", chrt.Metadata.Name, err)
	}
	return objs, nil
}

func isTestHook[E ~string](events []E) bool {
	for _, e := range events {
		if e == "test" {
			return true
		}
	}
	return false
}
