package homelab_test

import (
	"cmp"
	"maps"
	"slices"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/types/block"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/oracle/talosdisk"
)

// vmDisks returns what Talos reports for the disks deploy gives a node's
// VM: the config deploy sends to Proxmox, read by the oracle.
func vmDisks(t *testing.T, n *talos.Node) []talosdisk.Reported {
	t.Helper()
	vm := n.Machine.(*proxmox.VM)
	cfg := vm.Config()
	maps.Copy(cfg, vm.Disks())
	scsihw, disks, err := talosdisk.FromConfig(cfg)
	require.NoError(t, err)
	reported, err := talosdisk.VM(scsihw, disks)
	require.NoError(t, err)
	return reported
}

// singleNode is the Funoffshore homelab on one Proxmox host and one node
// that runs the workloads too, with one Longhorn replica per volume.
func singleNode() *homelab.Props {
	p := homelab.Funoffshore()
	p.Machines.Hosts = p.Machines.Hosts[:1]
	p.Machines.Hosts[0].MemoryGiB = 32
	p.Machines.Nodes = []homelab.Node{{Name: "talos", Role: talos.ControlPlane, IP: "192.168.1.101", VMID: 101, Cores: 4, MemoryGiB: 16, DiskGiB: 64}}
	p.Machines.WorkloadsOnControlPlanes = true
	p.Platform.Longhorn.Replicas = 1
	return p
}

// TestDisksAsTalosSeesThem resolves every node's install disk and every
// user volume the way Talos v1.13.9 does on the VM deploy creates: the
// disks as Talos' block controller reports them (pkg/oracle/talosdisk),
// each volume's selector evaluated with Talos' own CEL environment. The
// install disk must be the VM's boot disk on every boot; a volume with a
// disk of its own must find that disk alone, big enough for Talos to
// provision it; a volume on the system disk must find the install disk.
// Longhorn's disk is on every node pods run on: the two workers of
// Funoffshore, and the one node of a single-node homelab (before, that
// node got no disk, volume or mount and Longhorn wrote to EPHEMERAL).
func TestDisksAsTalosSeesThem(t *testing.T) {
	for _, tc := range []struct {
		name     string
		props    *homelab.Props
		longhorn []string
	}{
		{"funoffshore", nil, []string{"talos-w-1", "talos-w-2"}},
		{"single node", singleNode(), []string{"talos"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, h := homelab.NewApp(tc.props)
			require.NoError(t, app.Tree().Validate())
			var longhorn []string
			for _, n := range h.Cluster.Nodes() {
				if disksAsTalosSeesThem(t, h, n) {
					longhorn = append(longhorn, n.Hostname)
				}
			}
			require.Equal(t, tc.longhorn, longhorn, "nodes with Longhorn's volume on a disk of its own")
		})
	}
}

// disksAsTalosSeesThem checks one node's disks and reports whether it
// has Longhorn's volume.
func disksAsTalosSeesThem(t *testing.T, h *homelab.Homelab, n *talos.Node) (longhorn bool) {
	t.Helper()
	disks := vmDisks(t, n)
	install, err := talosdisk.InstallDisk(n.InstallDisk, disks)
	require.NoError(t, err, n.Hostname)
	require.Equal(t, "scsi0", install.Disk.Key, "%s: install disk %s", n.Hostname, n.InstallDisk)

	cfg, err := h.Cluster.NodeConfig(n, talos.PlaceholderBundle())
	require.NoError(t, err)
	own := map[string]string{}
	for _, dd := range n.Machine.(*proxmox.VM).DataDisks() {
		own[dd.Name] = dd.Key
	}
	for _, d := range cfg.Documents() {
		uv, ok := d.(*block.UserVolumeConfigV1Alpha1)
		if !ok {
			continue
		}
		picked, err := talosdisk.Match(uv.ProvisioningSpec.DiskSelectorSpec.Match, disks, install.Spec.DevPath)
		require.NoError(t, err)
		want := cmp.Or(own[uv.MetaName], "scsi0")
		require.Equal(t, []string{want}, picked, "%s: volume %q selector %q", n.Hostname, uv.MetaName, uv.ProvisioningSpec.DiskSelectorSpec.Match.String())
		i := slices.IndexFunc(disks, func(r talosdisk.Reported) bool { return r.Disk.Key == want })
		if minSize := uv.ProvisioningSpec.MinSize().ValueOrZero(); !talosdisk.CanProvision(disks[i], minSize) {
			t.Errorf("%s: volume %q needs %d bytes and the partition tables, disk %s has %d", n.Hostname, uv.MetaName, minSize, want, disks[i].Spec.Size)
		}
		if uv.MetaName == "longhorn" {
			longhorn = true
			require.NotEqual(t, "scsi0", want, "%s: Longhorn's volume is on the system disk", n.Hostname)
			mounted := false
			for _, m := range cfg.Machine().Kubelet().ExtraMounts() {
				mounted = mounted || m.Destination == h.Longhorn.DataPath
			}
			require.True(t, mounted, "%s: Longhorn's volume is not mounted into the kubelet", n.Hostname)
		}
	}
	if !longhorn && len(own) > 0 {
		t.Errorf("%s gets data disks %v but no Longhorn volume", n.Hostname, own)
	}
	return longhorn
}
