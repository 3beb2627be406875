package backup

import (
	"cmp"
	"fmt"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/siderolabs/talos/pkg/machinery/constants"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/constructs/storage"
)

// Dir is the directory of the backup part below
// cluster/kubernetes/platform.
const Dir = "backup"

// EtcdSnapshotsPart takes the etcd snapshots (NewEtcdSnapshots) as a
// platform part. A Volume without a class goes to the NFS share
// (storage.NFSPart, before it in the parts): the snapshots leave the
// nodes.
func EtcdSnapshotsPart(props *EtcdSnapshotsProps) platform.Part {
	return &snapshotsPart{props: *cmp.Or(props, &EtcdSnapshotsProps{})}
}

type snapshotsPart struct {
	props EtcdSnapshotsProps
	e     *EtcdSnapshots
}

func (sp *snapshotsPart) Charts() []flux.Chart { return nil }

// Namespaces: none of its own (kube-system, the cluster's).
func (sp *snapshotsPart) Namespaces() []platform.Namespace { return nil }

func (sp *snapshotsPart) Build(p *platform.Platform) {
	props := sp.props
	if props.Volume.Class == nil {
		if n, ok := platform.Find[*storage.NFS](p); ok {
			props.Volume.Class = n.Class
		}
	}
	sp.e = NewEtcdSnapshots(p.Chart(Dir), "etcd-snapshots", &props)
	p.Add(sp.e)
}

// Alerts: no snapshot in 25 hours. The last success is too old; or there
// never was one although the CronJob has existed for longer than a day
// (a fresh install is quiet until its first run is due); or the CronJob
// is gone.
func (sp *snapshotsPart) Alerts() []platform.AlertGroup {
	sel := fmt.Sprintf(`{namespace=%q, cronjob=%q}`, sp.e.Namespace, CronJobName)
	lastSuccess, created := "kube_cronjob_status_last_successful_time"+sel, "kube_cronjob_created"+sel
	// A day plus an hour of slack for the daily schedule.
	const maxAge = "90000"
	return []platform.AlertGroup{{Name: "backups", Alerts: []platform.Alert{{
		Name: "EtcdSnapshotMissing",
		Expr: `(time() - max(` + lastSuccess + `) > ` + maxAge + `)` +
			` or (time() - max(` + created + `) > ` + maxAge + ` unless max(` + lastSuccess + `))` +
			` or absent(` + created + `)`,
		For: "1h", Severity: "critical", Summary: "No etcd snapshot was taken in the last 25 hours",
	}}}}
}

// Isolate: the snapshot job holds a Talos credential in kube-system: it
// takes no connections and makes only its own, to the Talos API of the
// control planes (the Service talos.default, which Talos points at their
// apid port) and DNS.
func (sp *snapshotsPart) Isolate(p *platform.Platform, scope constructs.Construct) {
	snap := security.NewPodPolicy(scope, "etcd-snapshot", &security.PodPolicyProps{
		Name: "etcd-snapshot", Namespace: sp.e.Namespace, Pods: PodLabels(),
	})
	snap.AllowTo(security.DNS())
	snap.AllowTo(p.Nodes().On(security.TCP(constants.ApidPort)))
}
