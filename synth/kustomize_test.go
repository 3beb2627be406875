package synth_test

import (
	"path"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	syaml "sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
)

// objectsIn returns "Kind/namespace/name" of every object in a YAML stream.
func objectsIn(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	for _, u := range testenv.DecodeYAML(t, data) {
		out = append(out, u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName())
	}
	return out
}

// listedObjects returns the objects of the files a kustomization.yaml lists,
// following listed directories.
func listedObjects(t *testing.T, files synth.Files, dir string) []string {
	t.Helper()
	k := kustypes.Kustomization{}
	require.NoError(t, syaml.Unmarshal(files[path.Join(dir, "kustomization.yaml")], &k))
	var out []string
	for _, r := range k.Resources {
		p := path.Join(dir, r)
		if data, ok := files[p]; ok {
			out = append(out, objectsIn(t, data)...)
		} else {
			out = append(out, listedObjects(t, files, p)...)
		}
	}
	return out
}

func TestKustomizeBuildsEveryDirectory(t *testing.T) {
	files := render(t, nil)
	fs := filesys.MakeFsInMemory()
	for p, data := range files {
		require.NoError(t, fs.WriteFile("/cluster/"+p, data))
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	n := 0
	for _, p := range files.Paths() {
		if path.Base(p) != "kustomization.yaml" {
			continue
		}
		dir := path.Dir(p)
		n++
		t.Run(dir, func(t *testing.T) {
			res, err := k.Run(fs, "/cluster/"+dir)
			if err != nil {
				t.Fatalf("kustomize build %s: %v", dir, err)
			}
			out, err := res.AsYaml()
			require.NoError(t, err)
			got := objectsIn(t, out)
			want := listedObjects(t, files, dir)
			sort.Strings(got)
			sort.Strings(want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("kustomize build output (-listed files +built):\n%s", d)
			}
			if len(got) == 0 {
				t.Errorf("%s builds no objects", dir)
			}
		})
	}
	if n != 11 {
		t.Errorf("built %d kustomizations, want 11", n)
	}
}
