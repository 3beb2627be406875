package deploy_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stretchr/testify/require"

	proxmodel "github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/deploy"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/testenv/pvesim"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// countingClient counts real (not dry-run) writes.
type countingClient struct {
	client.Client
	n *int
}

// dryRun reports whether a patch is a server-side dry run.
func dryRun(opts []client.PatchOption) bool {
	for _, o := range opts {
		if o == client.DryRunAll {
			return true
		}
	}
	return false
}

func (c countingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if !dryRun(opts) {
		*c.n++
	}
	return c.Client.Patch(ctx, obj, patch, opts...)
}

// simulate renders the Funoffshore homelab and starts simulators for it
// (closed when the test ends).
func simulate(t *testing.T) (deploy.Target, *testenv.Simulation) {
	t.Helper()
	app, _ := homelab.NewLab(nil)
	_, target := testenv.RenderTarget(t, app)
	sim, err := testenv.NewSimulation(target, testenv.Fixture(t, fixtures.ProxmoxSchema))
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	return target, sim
}

func TestSecondDeployWritesNothing(t *testing.T) {
	target, sim := simulate(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubeWrites := 0
	in := sim.Inputs
	in.Kube = func([]byte) (client.Client, error) {
		return countingClient{Client: sim.API.Client, n: &kubeWrites}, nil
	}
	if _, err := deploy.Deploy(ctx, target, in, io.Discard); err != nil {
		t.Fatal(err)
	}
	// Proxmox: 2 ISO downloads, 3 creates, 3 starts; then per VM its
	// config ISO: upload, attach, stop, start, detach, delete.
	pve, talos, kube := sim.PVE.Writes(), sim.Talos.Writes(), kubeWrites
	if pve != 8+3*6 || talos != 4 || kube != 36 {
		t.Errorf("first deploy wrote proxmox %d, talos %d, kubernetes %d times; want 26, 4, 36", pve, talos, kube)
	}
	for _, host := range []string{"pve-1", "pve-2"} {
		for _, f := range sim.PVE.Files(host, "local") {
			if strings.Contains(f, "config") {
				t.Errorf("%s still stores %s: it holds the cluster's keys", host, f)
			}
		}
	}
	for id, vm := range sim.PVE.VMs() {
		if vm.Config[proxmodel.ConfigISOKey] != "" {
			t.Errorf("vm %d still has its config ISO attached: %s", id, vm.Config[proxmodel.ConfigISOKey])
		}
	}
	if _, err := deploy.Deploy(ctx, target, in, io.Discard); err != nil {
		t.Fatal(err)
	}
	if d := [3]int{sim.PVE.Writes() - pve, sim.Talos.Writes() - talos, kubeWrites - kube}; d != [3]int{} {
		t.Errorf("second deploy made changing calls: proxmox %d, talos %d, kubernetes %d", d[0], d[1], d[2])
	}
}

// failingClient fails the first n real (not dry-run) writes.
type failingClient struct {
	client.Client
	n *int
}

func (f failingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if !dryRun(opts) && *f.n > 0 {
		*f.n--
		return errors.New("simulated: connection to the API server lost")
	}
	return f.Client.Patch(ctx, obj, patch, opts...)
}

// TestInterruptedDeployConverges breaks the deploy at every step in turn
// and checks that re-running it converges to zero pending changes.
func TestInterruptedDeployConverges(t *testing.T) {
	app, _ := homelab.NewLab(nil)
	_, target := testenv.RenderTarget(t, app)
	faults := []struct {
		name   string
		inject func(s *testenv.Simulation, kubeFails *int)
		want   string
	}{
		{"the ISO download task fails", func(s *testenv.Simulation, _ *int) {
			s.PVE.Inject(pvesim.Fault{PathContains: "/download-url", FailTask: "download failed: 404", Times: 1})
		}, "download failed: 404"},
		{"a VM create task fails", func(s *testenv.Simulation, _ *int) {
			s.PVE.Inject(pvesim.Fault{Method: "POST", PathContains: "/qemu", FailTask: "storage full", Times: 1})
		}, "storage full"},
		{"a VM start task fails", func(s *testenv.Simulation, _ *int) {
			s.PVE.Inject(pvesim.Fault{PathContains: "/status/start", FailTask: "KVM not available", Times: 1})
		}, "KVM not available"},
		{"the config ISO upload fails", func(s *testenv.Simulation, _ *int) {
			s.PVE.Inject(pvesim.Fault{PathContains: "/upload", FailTask: "storage full", Times: 1})
		}, "uploading the config ISO"},
		{"the config ISO's deletion loses its answer", func(s *testenv.Simulation, _ *int) {
			s.PVE.Inject(pvesim.Fault{Method: "DELETE", PathContains: "/content/", DropResponse: true, Times: 1})
		}, "deleting the config ISO"},
		{"the etcd bootstrap fails", func(s *testenv.Simulation, _ *int) {
			s.Talos.FailNext("Bootstrap", 1)
		}, "connection reset while the node reboots"},
		{"the API server connection drops during the Flux bootstrap", func(_ *testenv.Simulation, n *int) {
			*n = 1
		}, "connection to the API server lost"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			sim, err := testenv.NewSimulation(target, testenv.Fixture(t, fixtures.ProxmoxSchema))
			require.NoError(t, err)
			defer sim.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			kubeFails := 0
			in := sim.Inputs
			in.Kube = func([]byte) (client.Client, error) { return failingClient{Client: sim.API.Client, n: &kubeFails}, nil }
			f.inject(sim, &kubeFails)
			_, err = deploy.Deploy(ctx, target, in, io.Discard)
			if err == nil || !strings.Contains(err.Error(), f.want) {
				t.Fatalf("first deploy: want an error with %q, got %v", f.want, err)
			}
			if _, err := deploy.Deploy(ctx, target, in, io.Discard); err != nil {
				t.Fatalf("re-run: %v", err)
			}
			r, err := deploy.Plan(ctx, target, in)
			require.NoError(t, err)
			if r.Pending() != 0 {
				t.Errorf("not converged after the re-run: %d pending", r.Pending())
			}
		})
	}
}

// TestClientConfigsSurviveAFailedFluxStep fails the last step (Flux cannot
// reach the API): Deploy still hands back the kubeconfig and talosconfig
// Talos produced, for the command to save before it reports the failure.
func TestClientConfigsSurviveAFailedFluxStep(t *testing.T) {
	target, sim := simulate(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := sim.Inputs
	unreachable := errors.New("the Kubernetes API does not answer")
	in.Kube = func([]byte) (client.Client, error) { return nil, unreachable }
	res, err := deploy.Deploy(ctx, target, in, io.Discard)
	if !errors.Is(err, unreachable) {
		t.Fatalf("want the Flux step's error, got %v", err)
	}
	if res == nil || len(res.Kubeconfig) == 0 || len(res.Talosconfig) == 0 {
		t.Fatalf("no client configs handed back after the failure: %+v", res)
	}
}
