package homelab_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestFunoffshore(t *testing.T) {
	app, h := homelab.NewApp(nil)
	if err := app.Tree().Validate(); err != nil {
		t.Fatalf("the memo's values must validate: %v", err)
	}
	t.Run("has the memo's namespaces", func(t *testing.T) {
		var got []string
		for _, o := range app.Tree().Objects() {
			if id := o.Identity(); id.Kind == "Namespace" {
				got = append(got, id.Name)
			}
		}
		want := []string{"flux-system", "kube-system", "longhorn-system", "nfs-provisioner", "cert-manager", "ingress-nginx", "cloudflared", "monitoring", "loki", "tempo", "alloy", "apps"}
		slices.Sort(want[1:])
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("namespaces (-want +got):\n%s", d)
		}
	})
	t.Run("orders flux-system, platform, apps with the memo's defaults", func(t *testing.T) {
		p, a := h.PlatformKustomization.Spec.Spec, h.AppsKustomization.Spec.Spec
		if p.Path != "./cluster/kubernetes/platform" || a.Path != "./cluster/kubernetes/apps" {
			t.Errorf("paths %q, %q", p.Path, a.Path)
		}
		if d := h.PlatformKustomization.DependsOn(); len(d) != 1 || d[0] != h.Sync.Root {
			t.Errorf("platform depends on %v, want the root", d)
		}
		if d := h.AppsKustomization.DependsOn(); len(d) != 1 || d[0] != h.PlatformKustomization {
			t.Errorf("apps depends on %v, want platform", d)
		}
		for _, s := range []struct {
			name     string
			interval string
			prune    bool
			wait     bool
		}{{"platform", p.Interval.Duration.String(), p.Prune, p.Wait}, {"apps", a.Interval.Duration.String(), a.Prune, a.Wait}} {
			if s.interval != "5m0s" || !s.prune || !s.wait {
				t.Errorf("%s: interval %s prune %v wait %v, want 5m0s true true", s.name, s.interval, s.prune, s.wait)
			}
		}
		root := h.Sync.Root.Spec.Spec
		if root.Wait || len(root.HealthChecks) != 4 {
			t.Errorf("root Kustomization must health-check the 4 controllers without waiting on the Kustomizations it applies (wait %v, %d checks)", root.Wait, len(root.HealthChecks))
		}
	})
	t.Run("kube-system is never pruned by Flux", func(t *testing.T) {
		for _, o := range app.Tree().Objects() {
			if id := o.Identity(); id.Kind == "Namespace" && id.Name == "kube-system" {
				m, _ := o.Manifest()
				ann := m["metadata"].(map[string]any)["annotations"].(map[string]any)
				if ann["kustomize.toolkit.fluxcd.io/prune"] != "disabled" {
					t.Errorf("kube-system annotations %v", ann)
				}
			}
		}
	})
}

func TestInvalidApps(t *testing.T) {
	cases := []struct {
		name string
		app  apps.AppProps
		want string
	}{
		{"an unpinned image", apps.AppProps{Name: "web", Image: "nginx", Port: 80}, `apps/web: image "nginx" is not pinned; pin a tag or digest such as "nginx:1.27.3"`},
		{"a latest tag", apps.AppProps{Name: "web", Image: "nginx:latest", Port: 80}, `apps/web: image "nginx:latest" is not pinned`},
		{"no port", apps.AppProps{Name: "web", Image: "nginx:1.27.3"}, `apps/web: port 0 is out of range; set AppProps.Port to the container's HTTP port (1-65535)`},
		{"a bad memory request", apps.AppProps{Name: "web", Image: "nginx:1.27.3", Port: 80, Resources: apps.Resources{Memory: "lots"}}, `apps/web: Resources.Memory "lots" is not a quantity`},
		{"a duplicate app name", apps.AppProps{Name: "echo", Image: "nginx:1.27.3", Port: 80}, `Deployment.apps/apps/echo is defined twice (also at "apps/echo/deployment")`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			props := homelab.Funoffshore()
			props.Apps = append(homelab.DefaultApps(), c.app)
			app, _ := homelab.NewApp(props)
			err := app.Tree().Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("want %q, got %v", c.want, err)
			}
		})
	}
}
