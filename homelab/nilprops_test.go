package homelab_test

import (
	"testing"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/backup"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/monitoring"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/synth"
)

// TestNilPropsNeverPanic calls every constructor with nil props (and zero
// values where a constructor takes values): each must return, and the
// tree must fail validation with construct-path errors, never panic.
func TestNilPropsNeverPanic(t *testing.T) {
	for name, build := range map[string]func(app *core.App, chart *kube.Chart){
		"kube.NewNamespace":      func(_ *core.App, c *kube.Chart) { kube.NewNamespace(c, "ns", nil) },
		"flux.NewInstall":        func(_ *core.App, c *kube.Chart) { flux.NewInstall(c, "x", nil) },
		"flux.NewSync":           func(_ *core.App, c *kube.Chart) { flux.NewSync(c, "x", nil) },
		"flux.NewKustomization":  func(_ *core.App, c *kube.Chart) { flux.NewKustomization(c, "x", nil) },
		"flux.NewHelmRepository": func(_ *core.App, c *kube.Chart) { flux.NewHelmRepository(c, "x", nil) },
		"flux.NewHelmRelease":    func(_ *core.App, c *kube.Chart) { flux.NewHelmRelease(c, "x", nil) },
		"proxmox.NewDatacenter": func(a *core.App, _ *kube.Chart) {
			d := proxmox.NewDatacenter(a, "dc", nil)
			d.AddHost("h", nil)
			d.AddVM("v", nil)
		},
		"talos.NewCluster":        func(a *core.App, _ *kube.Chart) { talos.NewCluster(a, "talos", nil).AddNode("n", nil) },
		"storage.NewLonghorn":     func(_ *core.App, c *kube.Chart) { storage.NewLonghorn(c, "x", nil, nil) },
		"storage.NewNFS":          func(_ *core.App, c *kube.Chart) { storage.NewNFS(c, "x", nil, nil) },
		"storage.NewStorageClass": func(_ *core.App, c *kube.Chart) { storage.NewStorageClass(c, "x", nil) },
		"storage.NewClaim":        func(_ *core.App, c *kube.Chart) { storage.NewClaim(c, "x", "x", "default", storage.Volume{}) },
		"ingress.NewNginx":        func(_ *core.App, c *kube.Chart) { ingress.NewNginx(c, "x", nil, nil) },
		"ingress.NewTunnel":       func(_ *core.App, c *kube.Chart) { ingress.NewTunnel(c, "x", nil) },
		"monitoring.NewStack":     func(_ *core.App, c *kube.Chart) { monitoring.NewStack(c, "x", nil, nil) },
		"monitoring.NewAlerting": func(_ *core.App, c *kube.Chart) {
			monitoring.NewAlerting(c, "y", monitoring.NewStack(c, "x", nil, nil), nil)
		},
		"monitoring.NewMonitors": func(_ *core.App, c *kube.Chart) { monitoring.NewMonitors(c, "x", "", nil, nil) },
		"security.NewIsolation":  func(_ *core.App, c *kube.Chart) { security.NewIsolation(c, "x", nil) },
		"security.Peer zero value": func(_ *core.App, c *kube.Chart) {
			security.NewIsolation(c, "x", &security.IsolationProps{Namespace: "a", Ingress: []security.Peer{{}}})
		},
		"backup.NewEtcdSnapshots": func(_ *core.App, c *kube.Chart) { backup.NewEtcdSnapshots(c, "x", nil) },
		"secret.New":              func(_ *core.App, c *kube.Chart) { secret.New(c, "x", nil) },
		"apps.NewApp":             func(_ *core.App, c *kube.Chart) { apps.NewApp(c, "x", nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("panics: %v", r)
				}
			}()
			app := core.NewApp(nil)
			chart := kube.NewChart(app, "c", &kube.ChartProps{Dir: "kubernetes/c"})
			build(app, chart)
			// Rendering validates first; either way it must return.
			_, _ = synth.Render(app.Tree())
		})
	}
}
