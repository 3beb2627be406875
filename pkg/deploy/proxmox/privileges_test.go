package proxmox_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/deploy/proxmox"
	"github.com/funoffshore/homelab/pkg/testenv/pvesim"
)

// TestLeastPrivilegeToken runs everything deploy does on Proxmox (ISO
// downloads, VM creates and starts, a config ISO delivered and removed,
// drifted settings and a shrunk disk put back, a VM pruned) with a token
// holding exactly proxmox.Privileges, the simulator enforcing the
// Proxmox VE 9.1 schema's permission checks and qemu-server's per-option
// ones. It succeeds; without any one of the privileges, some call is
// refused: the documented role is enough and has nothing to spare.
func TestLeastPrivilegeToken(t *testing.T) {
	run := func(t *testing.T, privs []string) ([]string, error) {
		sim, h, opts := setup(t)
		err := exercise(t, sim, h, opts, privs)
		return sim.Denied(), err
	}
	denied, err := run(t, proxmox.Privileges)
	require.NoError(t, err, "with exactly the documented privileges")
	require.Empty(t, denied)
	for _, drop := range proxmox.Privileges {
		t.Run("without "+drop, func(t *testing.T) {
			rest := slices.DeleteFunc(slices.Clone(proxmox.Privileges), func(p string) bool { return p == drop })
			denied, err := run(t, rest)
			require.Error(t, err, "%s is not needed", drop)
			require.NotEmpty(t, denied, "%v", err)
			require.Contains(t, strings.Join(denied, "\n"), drop)
		})
	}
}

// exercise does on Proxmox what deploy does, with a token holding privs.
func exercise(t *testing.T, sim *pvesim.Server, h *homelab.Homelab, opts proxmox.Options, privs []string) error {
	{
		ctx := context.Background()
		create := func(form string) {
			req, _ := newConfigPost(sim.URL()+"/nodes/pve-1/qemu", form)
			resp, err := sim.TS.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
		}
		create("vmid=190&name=old-worker&memory=2048&tags=homelab-homelab")
		sim.Privileges = privs
		opts.Prune = true
		p, err := newPlan(h, opts)
		if err != nil {
			return err
		}
		if err := p.Apply(ctx); err != nil {
			return err
		}
		vm := h.Cluster.Nodes()[0].Machine
		dl := proxmox.NewDelivery(h.Datacenter.Inventory(), opts)
		if err := dl.Deliver(ctx, vm, []byte("version: v1alpha1\n")); err != nil {
			return err
		}
		if err := dl.Cleanup(ctx, vm); err != nil {
			return err
		}
		sim.Edit(111, "memory", "1024")
		sim.Edit(111, "scsi0", "local-lvm:vm-111-disk-0,iothread=1,size=20G")
		if p, err = newPlan(h, opts); err != nil {
			return err
		}
		require.NotEmpty(t, p.Changes(), "nothing drifted")
		return p.Apply(ctx)
	}
}
