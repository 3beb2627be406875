package e2e_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/e2e"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/manifest"
	"github.com/funoffshore/homelab/pkg/testenv"
)

// The bootstrap's test-only redirect: the GitRepository pulls the local
// server at once, and the flux-system Kustomization carries the patches
// that keep it there and point every other Kustomization's
// HelmRepositories at the local chart server.
func TestRedirect(t *testing.T) {
	app, _ := homelab.NewLab(nil)
	files, target := testenv.RenderTarget(t, app)
	objs, err := manifest.Decode(files["kubernetes/flux/apps.yaml"])
	require.NoError(t, err)
	ks, err := e2e.FluxKustomizations(objs)
	require.NoError(t, err)
	if len(ks) != 3 || ks[0].Name != "platform" || ks[0].Spec.Path != "./cluster/kubernetes/platform" {
		t.Fatalf("Flux Kustomizations of apps.yaml: %d, first %q %q", len(ks), ks[0].Name, ks[0].Spec.Path)
	}
	out, err := e2e.Redirect(target.Sync, ks, "http://127.0.0.1:1/homelab.git", "http://127.0.0.1:2")
	require.NoError(t, err)
	sync, err := manifest.Decode(out)
	require.NoError(t, err)
	for _, u := range sync {
		switch u.GetKind() {
		case "GitRepository":
			url, _, _ := unstructured.NestedString(u.Object, "spec", "url")
			if _, hasRef, _ := unstructured.NestedMap(u.Object, "spec", "secretRef"); url != "http://127.0.0.1:1/homelab.git" || hasRef {
				t.Errorf("GitRepository spec: %v", u.Object["spec"])
			}
		case "Kustomization":
			patches, _, _ := unstructured.NestedSlice(u.Object, "spec", "patches")
			if len(patches) != 1+len(ks) {
				t.Fatalf("%d patches, want the GitRepository's and one per other Kustomization (%d)", len(patches), len(ks))
			}
			text := string(out)
			for _, want := range []string{"value: http://127.0.0.1:1/homelab.git", "path: /spec/secretRef", "name: platform", "name: apps", "name: platform-config", "http://127.0.0.1:2"} {
				if !strings.Contains(text, want) {
					t.Errorf("the redirected sync lacks %q", want)
				}
			}
		}
	}
}
