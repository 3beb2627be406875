package validate

import (
	"fmt"
	"path"
	"sort"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Kustomize builds every kustomization.yaml in files with kustomize's own
// library (krusty, what Flux's kustomize-controller uses) and returns the
// number of directories built and every build error.
func Kustomize(files map[string][]byte) (int, []error) {
	fs := filesys.MakeFsInMemory()
	for p, data := range files {
		if err := fs.WriteFile("/"+p, data); err != nil {
			return 0, []error{err}
		}
	}
	var dirs []string
	for p := range files {
		if path.Base(p) == "kustomization.yaml" {
			dirs = append(dirs, path.Dir(p))
		}
	}
	sort.Strings(dirs)
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	var errs []error
	for _, d := range dirs {
		if _, err := k.Run(fs, "/"+d); err != nil {
			errs = append(errs, fmt.Errorf("%s/kustomization.yaml: kustomize build failed: %w", d, err))
		}
	}
	return len(dirs), errs
}
