package talos_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/oracle/talosdisk"
)

// A user volume on a disk of its own is provisioned by Talos only when the
// empty disk holds the minimum size plus 67 sectors of GPT and protective
// MBR (v1.13.9 internal/app/machined/pkg/controllers/block/internal/volumes/disk.go:57-60);
// a volume without a minimum gets 100 MiB (volumeconfig/user_volumes.go:106).
func TestUserVolumeFitsItsDisk(t *testing.T) {
	cases := []struct {
		name, min string
		disk      int
		want      string
	}{
		{"the default Longhorn volume", "10GiB", 50, ""},
		{"a minimum as large as the disk", "50GiB", 50,
			`other/data: user volume "data": min size 50GiB does not fit its 50 GiB disk: Talos provisions it only on a disk of the min size plus 34304 bytes of partition tables; give the volume a disk of at least 51 GiB (DiskGiB) or a smaller min size`},
		{"a minimum one GiB below the disk", "49GiB", 50, ""},
		{"the partition tables tip it over", "1GiB", 1, `min size 1GiB does not fit its 1 GiB disk`},
		{"the largest minimum a 1 GiB disk holds", "1073707520B", 1, ""},
		{"one byte more", "1073707521B", 1, `min size 1073707521B does not fit its 1 GiB disk`},
		{"no minimum: Talos' 100 MiB", "", 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := core.NewApp(nil)
			c := talos.NewCluster(app, "talos", &talos.ClusterProps{Name: "lab", Subnet: "10.0.0.0/24"})
			c.AddNode("n", &talos.NodeProps{IP: "10.0.0.10", Role: talos.ControlPlane})
			c.AddNode("w", &talos.NodeProps{IP: "10.0.0.11"})
			core.NodeNeeds.Of(app.Tree()).Add(core.NodeNeed{Source: "other/data", Role: core.WorkloadNodes,
				UserVolumes: []core.UserVolume{{Name: "data", MinSize: tc.min, DiskGiB: tc.disk}}})
			err := app.Tree().Validate()
			if tc.want == "" {
				if err != nil {
					assert.NotContains(t, err.Error(), "does not fit")
				}
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The rule and the oracle of Talos' own check (pkg/oracle/talosdisk, on
// the disk as Talos reports it for a VM's virtio data disk) agree on every
// minimum around the boundary, for disks of 1 to 4 GiB.
func TestUserVolumeRuleAgreesWithTalos(t *testing.T) {
	for disk := 1; disk <= 4; disk++ {
		reported, err := talosdisk.VM("virtio-scsi-single", []talosdisk.Disk{{Key: "virtio1", SizeGiB: disk}})
		require.NoError(t, err)
		edge := int64(disk)<<30 - 67*512
		for _, minSize := range []int64{0, 1 << 20, 100 << 20, edge - 1, edge, edge + 1, int64(disk) << 30} {
			app := core.NewApp(nil)
			c := talos.NewCluster(app, "talos", &talos.ClusterProps{Name: "lab", Subnet: "10.0.0.0/24"})
			c.AddNode("n", &talos.NodeProps{IP: "10.0.0.10", Role: talos.ControlPlane})
			c.AddNode("w", &talos.NodeProps{IP: "10.0.0.11"})
			written := ""
			if minSize > 0 {
				written = fmt.Sprintf("%dB", minSize)
			}
			core.NodeNeeds.Of(app.Tree()).Add(core.NodeNeed{Source: "other/data", Role: core.WorkloadNodes,
				UserVolumes: []core.UserVolume{{Name: "data", MinSize: written, DiskGiB: disk}}})
			err := app.Tree().Validate()
			accepted := err == nil || !strings.Contains(err.Error(), "does not fit")
			assert.Equal(t, talosdisk.CanProvision(reported[0], uint64(minSize)), accepted, "disk %d GiB, min size %q", disk, written)
		}
	}
}

// A need for the nodes pods run on reaches a control plane exactly when
// Talos leaves it untainted (cluster.allowSchedulingOnControlPlanes;
// v1.13.9 internal/app/machined/pkg/controllers/k8s/node_taint_spec.go:74):
// a single-node cluster's one node gets the volume, its disk and its
// mount, and a tainted control plane gets none of them.
func TestWorkloadNodesNeeds(t *testing.T) {
	for _, tc := range []struct {
		name               string
		schedule, workers  bool
		cpVolume, cpMounts bool
	}{
		{"single node running workloads", true, false, true, true},
		{"tainted control plane beside a worker", false, true, false, false},
		{"control plane running workloads beside a worker", true, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := core.NewApp(nil)
			dc := proxmox.NewDatacenter(app, "proxmox", nil)
			dc.AddHost("pve", &proxmox.HostProps{Endpoint: "https://10.0.0.2:8006", Cores: 16, MemoryGiB: 64})
			var patches []talos.Patch
			if tc.schedule {
				on := true
				patches = append(patches, talos.Patch{Role: talos.ControlPlane, Config: &v1alpha1.Config{ClusterConfig: &v1alpha1.ClusterConfig{AllowSchedulingOnControlPlanes: &on}}})
			}
			c := talos.NewCluster(app, "talos", &talos.ClusterProps{Name: "lab", Subnet: "10.0.0.0/24", Patches: patches})
			cpVM := dc.AddVM("cp", &proxmox.VMProps{VMID: 200, Cores: 4, MemoryGiB: 8, DiskGiB: 64})
			c.AddNode("cp", &talos.NodeProps{IP: "10.0.0.10", Role: talos.ControlPlane, Machine: cpVM})
			if tc.workers {
				c.AddNode("w", &talos.NodeProps{IP: "10.0.0.11", Machine: dc.AddVM("w", &proxmox.VMProps{VMID: 201, Cores: 4, MemoryGiB: 8, DiskGiB: 64})})
			}
			core.NodeNeeds.Of(app.Tree()).Add(core.NodeNeed{Source: "storage/engine", Role: core.WorkloadNodes,
				KubeletMounts: []core.Mount{{Source: "/var/mnt/engine", Destination: "/var/mnt/engine", Options: []string{"bind", "rshared", "rw"}}},
				UserVolumes:   []core.UserVolume{{Name: "engine", MinSize: "10GiB", DiskGiB: 20}},
			})
			require.NoError(t, app.Tree().Validate())

			assert.Equal(t, tc.cpVolume, len(c.UserVolumes(machine.TypeControlPlane)) == 1, "control plane user volume")
			assert.Equal(t, tc.cpVolume, len(cpVM.DataDisks()) == 1, "control plane VM data disk")
			assert.Len(t, c.UserVolumes(machine.TypeWorker), 1, "workers always get the volume")
			cfg, err := c.MachineConfig(machine.TypeControlPlane, talos.PlaceholderBundle())
			require.NoError(t, err)
			mounted := false
			for _, m := range cfg.Machine().Kubelet().ExtraMounts() {
				mounted = mounted || m.Destination == "/var/mnt/engine"
			}
			assert.Equal(t, tc.cpMounts, mounted, "control plane kubelet mount")
			for _, n := range core.Nodes.Of(app.Tree()).All() {
				want := n.Role == core.Worker || tc.schedule
				assert.Equal(t, want, n.Workloads, "node %s published as running workloads", n.Hostname)
				assert.True(t, strings.HasPrefix(n.Hostname, "cp") || n.Role == core.Worker)
			}
		})
	}
}
