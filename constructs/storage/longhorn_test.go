package storage_test

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/storage"
)

// Longhorn schedules a replica of size S on a default disk only while S
// plus what is scheduled there stays within (maximum - 30% reserved) x
// 100% (longhorn-manager scheduler/replica_scheduler.go IsSchedulableToDisk,
// defaults in types/setting.go); one replica per node, each whole on one
// disk. The nodes that hold replicas are those pods run on.
func TestLonghornArithmetic(t *testing.T) {
	type node struct {
		role      core.Role
		workloads bool
	}
	cp, cpSchedulable, worker := node{core.ControlPlane, false}, node{core.ControlPlane, true}, node{core.Worker, true}
	cases := []struct {
		name     string
		nodes    []node
		replicas int
		diskGiB  int
		claims   []string
		want     []string
	}{
		{"two workers, two replicas", []node{cp, worker, worker}, 2, 50, []string{"10Gi", "20Gi"}, nil},
		{"a single node that runs workloads holds one replica", []node{cpSchedulable}, 1, 50, []string{"10Gi"}, nil},
		{"a single node that runs workloads holds only one", []node{cpSchedulable}, 2, 50, []string{"10Gi"},
			[]string{"lh: 2 replicas per volume but only 1 nodes run workloads and hold Longhorn replicas (one per node); lower LonghornProps.Replicas to 1 or add workers"}},
		{"no node runs workloads", []node{cp}, 1, 50, nil,
			[]string{"lh: no node runs workloads, so none holds a Longhorn replica; add a worker, or let the control planes run workloads (cluster.allowSchedulingOnControlPlanes)"}},
		{"a volume larger than one disk schedules", []node{cp, worker, worker}, 2, 50, []string{"36Gi"},
			[]string{"lh: volume apps/v0 of 36Gi does not fit one node's Longhorn disk: each replica is whole on one disk, and Longhorn schedules at most 35 GiB of a 50 GiB disk (30% reserved); raise LonghornProps.DiskGiB to 52 or shrink the volume"}},
		{"a volume of exactly what one disk schedules", []node{cp, worker, worker}, 2, 50, []string{"35Gi"}, nil},
		{"the volumes together overflow the disks", []node{cp, worker, worker}, 2, 50, []string{"20Gi", "20Gi"},
			[]string{"lh: Longhorn volumes need 80 GiB (apps/v0 20Gi + apps/v1 20Gi, x2 replicas) but the Longhorn disks schedule 70 GiB (2 x 50 GiB, 30% reserved); raise LonghornProps.DiskGiB, add workers or shrink the volumes"}},
		{"a third replica holder makes room", []node{cpSchedulable, worker, worker}, 2, 50, []string{"20Gi", "20Gi"}, nil},
		// The fix's arithmetic neither overflows nor loops (a fuzz seed).
		{"an exbibyte volume", []node{cp, worker, worker}, 2, 50, []string{"1Ei"},
			[]string{"lh: volume apps/v0 of 1Ei does not fit one node's Longhorn disk: each replica is whole on one disk, and Longhorn schedules at most 35 GiB of a 50 GiB disk (30% reserved); raise LonghornProps.DiskGiB to 1533916892 or shrink the volume"}},
		{"no OS layer: nothing to check against", nil, 3, 50, []string{"500Gi"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := core.NewApp(nil)
			for i, n := range tc.nodes {
				core.Nodes.Of(app.Tree()).Publish(core.NodeAddress{Hostname: fmt.Sprintf("n%d", i), IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i)}), Role: n.role, Workloads: n.workloads})
			}
			platform := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
			repo := flux.NewHelmRepository(platform, "longhorn-repo", &flux.HelmRepositoryProps{Name: "longhorn", URL: "https://charts.longhorn.io"})
			l := storage.NewLonghorn(app, "lh", repo, &storage.LonghornProps{Replicas: tc.replicas, DiskGiB: tc.diskGiB})
			for i, size := range tc.claims {
				l.Class.Reserve(fmt.Sprintf("apps/v%d", i), resource.MustParse(size))
			}
			var got []string
			var ve *core.ValidationError
			if errors.As(app.Tree().Validate(), &ve) {
				for _, err := range ve.Errors {
					if e := (*core.Error)(nil); errors.As(err, &e) && e.Path == "lh" {
						got = append(got, err.Error())
					}
				}
			}
			if len(tc.want) == 0 {
				assert.Empty(t, got)
				return
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// Longhorn's default disk is on a Talos user volume on the nodes pods run
// on; the need says so rather than naming workers.
func TestLonghornDiskFollowsThePods(t *testing.T) {
	app := core.NewApp(nil)
	platform := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	repo := flux.NewHelmRepository(platform, "longhorn-repo", &flux.HelmRepositoryProps{Name: "longhorn", URL: "https://charts.longhorn.io"})
	storage.NewLonghorn(app, "lh", repo, &storage.LonghornProps{DiskGiB: 40})
	var disk []core.NodeNeed
	for _, n := range core.NodeNeeds.Of(app.Tree()).All() {
		if len(n.UserVolumes) > 0 {
			disk = append(disk, n)
		}
	}
	require.Len(t, disk, 1)
	assert.Equal(t, core.WorkloadNodes, disk[0].Role)
	assert.Equal(t, []core.UserVolume{{Name: "longhorn", MinSize: "10GiB", DiskGiB: 40}}, disk[0].UserVolumes)
	assert.Equal(t, "/var/mnt/longhorn", disk[0].KubeletMounts[0].Destination)
	assert.Equal(t, int64(35<<30), storage.SchedulableBytes(50))
}

// The backup target as a network destination: the NAS' address on NFSv4's
// port (Longhorn mounts nfs4 only), every address for a name, HTTPS for
// object stores, SMB for CIFS, nothing without a target.
func TestBackupTargetEndpoint(t *testing.T) {
	for target, want := range map[string]string{
		"nfs://192.168.1.20:/volume1/longhorn-backups": "192.168.1.20/32:2049",
		"nfs://nas.lan:/volume1/longhorn-backups":      "0.0.0.0/0:2049",
		"cifs://192.168.1.20/backups":                  "192.168.1.20/32:445",
		"s3://bucket@us-east-1/":                       "0.0.0.0/0:443",
		"":                                             "none",
	} {
		app := core.NewApp(nil)
		repo := flux.NewHelmRepository(app, "repo", &flux.HelmRepositoryProps{Name: "longhorn", URL: "https://charts.longhorn.io"})
		l := storage.NewLonghorn(app, "lh", repo, &storage.LonghornProps{BackupTarget: target})
		got := "none"
		if dest, port, ok := l.BackupTargetEndpoint(); ok {
			got = fmt.Sprintf("%s:%d", dest, port)
		}
		if got != want {
			t.Errorf("backup target %q: endpoint %s, want %s", target, got, want)
		}
	}
}
