package validate_test

import (
	"bytes"
	"context"
	repobuild "github.com/funoffshore/homelab/internal/funoffshore"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func funoffshore(t *testing.T) synth.Files {
	t.Helper()
	app, _ := homelab.NewApp(nil)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	return files
}

func TestReplay(t *testing.T) {
	api := testenv.StartAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("the apiserver accepts the Funoffshore tree in Flux order", func(t *testing.T) {
		start := time.Now()
		steps, err := validate.ReplayWith(ctx, api.Client, funoffshore(t), "cluster", testenv.ReplayOptions(t))
		if err != nil {
			t.Fatalf("replay:\n%v", err)
		}
		t.Logf("replayed %d Kustomizations in %s", len(steps), time.Since(start))
		var got []string
		for _, s := range steps {
			got = append(got, s.Kustomization+" "+s.Path)
			if s.Applied == 0 && s.Kustomization != "flux-system/apps" {
				t.Errorf("%s applied nothing", s.Kustomization)
			}
		}
		want := []string{
			"flux-system/flux-system ./cluster/kubernetes/flux",
			"flux-system/platform ./cluster/kubernetes/platform",
			"flux-system/apps ./cluster/kubernetes/apps",
			"flux-system/platform-config ./cluster/kubernetes/platform-config",
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("order (-want +got):\n%s", d)
		}
	})
	t.Run("homelab validate --server reports each Kustomization", func(t *testing.T) {
		t.Setenv("KUBECONFIG", api.Kubeconfig(t))
		var out, errb bytes.Buffer
		code := cli.Run(repobuild.Build, []string{"validate", "--server"}, &out, &errb)
		// The Funoffshore tree holds example site values and no secrets:
		// valid and accepted, but blocked.
		if code != cli.ExitBlocked {
			t.Fatalf("exit %d, want %d: %s", code, cli.ExitBlocked, errb.String())
		}
		for _, want := range []string{
			"kustomize: 11 directories build",
			"server: Kustomization flux-system/flux-system (./cluster/kubernetes/flux): 37 objects",
			"server: Kustomization flux-system/platform (./cluster/kubernetes/platform): 69 objects",
			"server: Kustomization flux-system/apps (./cluster/kubernetes/apps): 17 objects",
			"server: Kustomization flux-system/platform-config (./cluster/kubernetes/platform-config): 14 objects",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("a wrong field type in one object fails with that object's name", func(t *testing.T) {
		files := funoffshore(t)
		p := "kubernetes/flux/apps.yaml"
		files[p] = bytes.Replace(files[p], []byte("  prune: true"), []byte("  prune: \"yes please\""), 1)
		_, err := validate.ReplayWith(ctx, api.Client, files, "cluster", testenv.ReplayOptions(t))
		if err == nil || !strings.Contains(err.Error(), `Kustomization.kustomize.toolkit.fluxcd.io/flux-system/platform rejected`) || !strings.Contains(err.Error(), "spec.prune") {
			t.Fatalf("want the platform Kustomization rejected on spec.prune, got: %v", err)
		}
	})
	t.Run("an object in no Kustomization's path is reported", func(t *testing.T) {
		files := funoffshore(t)
		files["kubernetes/extra/cm.yaml"] = []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stray\n  namespace: apps\n")
		_, err := validate.ReplayWith(ctx, api.Client, files, "cluster", testenv.ReplayOptions(t))
		if err == nil || !strings.Contains(err.Error(), "ConfigMap/apps/stray in kubernetes/extra/cm.yaml is applied by no Flux Kustomization") {
			t.Fatalf("want an orphan error, got: %v", err)
		}
	})
}
