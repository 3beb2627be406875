package backup_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/funoffshore/homelab/constructs/backup"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// lab is the smallest lab the snapshots run in: a control plane published
// by the OS layer, the NFS part and the snapshots part on a platform.
func lab(t *testing.T, props *backup.EtcdSnapshotsProps) *core.App {
	t.Helper()
	app := core.NewApp(nil)
	core.Nodes.Of(app.Tree()).Publish(core.NodeAddress{Hostname: "cp", IP: netip.MustParseAddr("10.0.0.10"), Role: core.ControlPlane})
	root := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	p := platform.New(root, &platform.Props{
		Cluster: platform.Cluster{Nodes: netip.MustParsePrefix("10.0.0.0/24"), Pods: netip.MustParsePrefix("10.244.0.0/16"), NodeCount: 1},
		Parts:   []platform.Part{storage.NFSPart(&storage.NFSProps{Server: "10.0.0.20", Path: "/k8s"}), backup.EtcdSnapshotsPart(props)},
	})
	for _, ns := range append(p.Namespaces(), platform.Namespace{Name: "flux-system"}, platform.Namespace{Name: "kube-system"}) {
		kube.NewNamespace(root, ns.Name, &kube.NamespaceProps{Name: ns.Name, PodSecurity: ns.PodSecurity})
	}
	p.Build()
	p.Isolate(p.Chart("security"))
	return app
}

func find[T any](t *testing.T, app *core.App, name string) T {
	t.Helper()
	for _, o := range app.Tree().Objects() {
		if o.Identity().Name != name {
			continue
		}
		if typed, ok := o.(interface{ Typed() kube.Typed }); ok {
			if v, ok := typed.Typed().(T); ok {
				return v
			}
		}
	}
	var zero T
	t.Fatalf("no %T %q in the tree", zero, name)
	return zero
}

func TestEtcdSnapshotsPart(t *testing.T) {
	app := lab(t, &backup.EtcdSnapshotsProps{Volume: storage.Volume{Size: "5Gi"}, Node: "10.0.0.10", TalosVersion: "v1.13.9"})
	require.NoError(t, app.Tree().Validate())

	claim := find[*corev1.PersistentVolumeClaim](t, app, "etcd-snapshots")
	assert.Equal(t, "nfs-storage", *claim.Spec.StorageClassName, "the snapshots leave the nodes, onto the NFS share")
	cj := find[*batchv1.CronJob](t, app, "etcd-snapshot")
	assert.Equal(t, "0 2 * * *", cj.Spec.Schedule)
	snap := cj.Spec.JobTemplate.Spec.Template.Spec.InitContainers[0]
	assert.Equal(t, "ghcr.io/siderolabs/talosctl:v1.13.9", snap.Image)
	assert.Equal(t, []string{"etcd", "snapshot", "/snapshots/etcd.snapshot.part", "--nodes", "10.0.0.10"}, snap.Args)
	assert.Equal(t, backup.BusyboxImage, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image, "no recipients: stored as etcd writes them")

	np := find[*networkingv1.NetworkPolicy](t, app, "etcd-snapshot")
	assert.Equal(t, backup.PodLabels(), np.Spec.PodSelector.MatchLabels)
	assert.Empty(t, np.Spec.Ingress, "the job takes no connections")
	require.Len(t, np.Spec.Egress, 2)
	assert.Equal(t, "10.0.0.0/24", np.Spec.Egress[1].To[0].IPBlock.CIDR)
	assert.Equal(t, int32(50000), np.Spec.Egress[1].Ports[0].Port.IntVal, "only the Talos API of the nodes")

	needs := core.NodeNeeds.Of(app.Tree()).All()
	var access *core.TalosAPIAccess
	for _, n := range needs {
		if n.TalosAPIAccess != nil {
			access = n.TalosAPIAccess
		}
	}
	require.NotNil(t, access)
	assert.Equal(t, []string{"os:etcd:backup"}, access.Roles)
}

func TestEtcdSnapshotsEncrypted(t *testing.T) {
	const key = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	app := lab(t, &backup.EtcdSnapshotsProps{Volume: storage.Volume{Size: "5Gi"}, Node: "10.0.0.10", TalosVersion: "v1.13.9", Recipients: []string{key}})
	require.NoError(t, app.Tree().Validate())
	rotate := find[*batchv1.CronJob](t, app, "etcd-snapshot").Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	assert.Equal(t, backup.SopsImage, rotate.Image)
	assert.Equal(t, []corev1.EnvVar{{Name: "SOPS_AGE_RECIPIENTS", Value: key}}, rotate.Env)
	assert.Equal(t, backup.RotateScript("/snapshots", 14, true), rotate.Args[0])
}

func TestEtcdSnapshotsInvalid(t *testing.T) {
	base := backup.EtcdSnapshotsProps{Volume: storage.Volume{Size: "5Gi"}, Node: "10.0.0.10", TalosVersion: "v1.13.9"}
	for _, c := range []struct {
		name   string
		mutate func(p *backup.EtcdSnapshotsProps)
		want   string
	}{
		{"no node", func(p *backup.EtcdSnapshotsProps) { p.Node = "" },
			"platform/backup/etcd-snapshots: the snapshot job has no node or Talos version; set Node to a control-plane IP and TalosVersion to the cluster's"},
		{"a node that is no control plane", func(p *backup.EtcdSnapshotsProps) { p.Node = "10.0.0.99" },
			`platform/backup/etcd-snapshots: node "10.0.0.99" is no control plane of the cluster, so the snapshot would reach no etcd member; set Node to a control-plane address (10.0.0.10)`},
		{"a recipient that is no age key", func(p *backup.EtcdSnapshotsProps) { p.Recipients = []string{"ssh-ed25519 AAAA"} },
			`platform/backup/etcd-snapshots: recipient "ssh-ed25519 AAAA" is not an age public key; use the operators' age public keys (age1..., the recipients in .sops.yaml)`},
		{"a schedule that does not parse", func(p *backup.EtcdSnapshotsProps) { p.Schedule = core.Cron("daily") },
			`platform/backup/etcd-snapshots: schedule "daily" does not parse: expected exactly 5 fields, found 1: [daily]; use five cron fields such as core.Cron("0 2 * * *") (daily at 02:00)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := base
			c.mutate(&p)
			err := lab(t, &p).Tree().Validate()
			var v *core.ValidationError
			require.True(t, errors.As(err, &v), "want a validation error, got %v", err)
			var got []string
			for _, e := range v.Errors {
				got = append(got, e.Error())
			}
			assert.Contains(t, got, c.want)
		})
	}
}
