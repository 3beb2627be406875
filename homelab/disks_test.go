package homelab_test

import (
	"cmp"
	"maps"
	"slices"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/types/block"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	deployproxmox "github.com/funoffshore/homelab/pkg/deploy/proxmox"
	"github.com/funoffshore/homelab/pkg/oracle/talosdisk"
)

// vmDisks returns what Talos reports for the disks deploy gives a node's
// VM: the config deploy sends to Proxmox, read by the oracle.
func vmDisks(t *testing.T, n *talos.Node) []talosdisk.Reported {
	t.Helper()
	cfg := deployproxmox.DesiredConfig(n.VM)
	maps.Copy(cfg, deployproxmox.DiskConfig(n.VM))
	scsihw, disks, err := talosdisk.FromConfig(cfg)
	require.NoError(t, err)
	reported, err := talosdisk.VM(scsihw, disks)
	require.NoError(t, err)
	return reported
}

// TestDisksAsTalosSeesThem resolves every node's install disk and every
// user volume the way Talos v1.13.9 does on the VM deploy creates: the
// disks as Talos' block controller reports them (pkg/oracle/talosdisk),
// each volume's selector evaluated with Talos' own CEL environment. The
// install disk must be the VM's boot disk on every boot; a volume with a
// disk of its own must find that disk alone, big enough; a volume on the
// system disk must find the install disk.
func TestDisksAsTalosSeesThem(t *testing.T) {
	_, h := homelab.NewApp(nil)
	bundle := talos.PlaceholderBundle()
	longhorn := 0
	for _, n := range h.Cluster.Nodes() {
		disks := vmDisks(t, n)
		install, err := talosdisk.InstallDisk(n.InstallDisk, disks)
		require.NoError(t, err, n.Hostname)
		require.Equal(t, "scsi0", install.Disk.Key, "%s: install disk %s", n.Hostname, n.InstallDisk)

		cfg, err := h.Cluster.NodeConfig(n, bundle)
		require.NoError(t, err)
		own := map[string]string{}
		for _, dd := range n.VM.DataDisks() {
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
			if minSize := uv.ProvisioningSpec.MinSize().ValueOrZero(); disks[i].Spec.Size < minSize {
				t.Errorf("%s: volume %q needs %d bytes, disk %s has %d", n.Hostname, uv.MetaName, minSize, want, disks[i].Spec.Size)
			}
			if uv.MetaName == "longhorn" {
				longhorn++
				require.NotEqual(t, "scsi0", want, "%s: Longhorn's volume is on the system disk", n.Hostname)
			}
		}
		if n.Role == talos.ControlPlane && len(own) > 0 {
			t.Errorf("%s (control plane) gets data disks %v", n.Hostname, own)
		}
	}
	require.Equal(t, 2, longhorn, "Longhorn volumes on the two workers")
}
