package backup

import (
	"cmp"

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
