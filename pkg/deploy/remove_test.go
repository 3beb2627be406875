package deploy_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	talosmodel "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/deploy"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/testenv"
)

// Day 2: a worker dropped from the model leaves the cluster before its VM
// goes. Without --prune the plan removes the node from the cluster and
// leaves the VM (saying so); with --prune deploy drains and resets the
// node, deletes its Node, and only then removes the VM.
func TestRemovedWorkerLeavesBeforeItsVM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := homelab.DefaultMachines()
	m.Nodes = append(m.Nodes, homelab.Node{Name: "talos-w-3", Role: talosmodel.Worker, IP: "192.168.1.113", VMID: 113, Cores: 2, MemoryGiB: 4, DiskGiB: 32})
	props := homelab.Funoffshore()
	props.Machines = m
	bigApp, _ := homelab.NewLab(props)
	_, big := testenv.RenderTarget(t, bigApp)
	app, _ := homelab.NewLab(nil)
	_, small := testenv.RenderTarget(t, app)
	sim, err := testenv.NewSimulation(big, testenv.Fixture(t, fixtures.ProxmoxSchema))
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	in := sim.Inputs
	in.Log = &actionlog.Log{Path: t.TempDir() + "/actions.jsonl"}
	_, err = deploy.Deploy(ctx, big, in, io.Discard)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return sim.API.Client.Get(ctx, client.ObjectKey{Name: "talos-w-3"}, &corev1.Node{}) == nil
	}, 10*time.Second, 50*time.Millisecond, "talos-w-3 never registered")

	r, err := deploy.Plan(ctx, small, in)
	require.NoError(t, err)
	require.Len(t, r.Talos.Remove, 1)
	require.Equal(t, "talos-w-3", r.Talos.Remove[0].Hostname)
	require.Empty(t, r.Proxmox.Removals, "without --prune no VM goes")
	require.True(t, slices.ContainsFunc(r.Proxmox.Unmanaged, func(s string) bool { return strings.Contains(s, "vm 113 talos-w-3 is not in the model (left alone") }),
		"the plan does not say the VM stays: %q", r.Proxmox.Unmanaged)

	in.Proxmox.Prune = true
	r, err = deploy.Plan(ctx, small, in)
	require.NoError(t, err)
	require.Len(t, r.Proxmox.Removals, 1)
	_, err = deploy.Deploy(ctx, small, in, io.Discard)
	require.NoError(t, err)
	_, vm := sim.PVE.VMs()[113]
	require.False(t, vm, "the VM of talos-w-3 is still there")
	err = sim.API.Client.Get(ctx, client.ObjectKey{Name: "talos-w-3"}, &corev1.Node{})
	require.True(t, apierrors.IsNotFound(err), "the Node talos-w-3 is still there (%v)", err)

	entries, err := actionlog.Read(in.Log.Path)
	require.NoError(t, err)
	at := func(target, action string) int {
		return slices.IndexFunc(entries, func(e actionlog.Entry) bool {
			return strings.HasSuffix(e.Target, target) && e.Action == action && e.Result == actionlog.OK
		})
	}
	reset, node, vmGone := at("talos-w-3", "reset"), at("talos-w-3", "delete-node"), at("vm 113 talos-w-3", "remove")
	require.True(t, reset >= 0 && node > reset && vmGone > node, "want reset, Node deleted, then the VM removed; log positions %d, %d, %d", reset, node, vmGone)

	r, err = deploy.Plan(ctx, small, in)
	require.NoError(t, err)
	require.Zero(t, r.Pending(), "after the removal")
}
