package storage

import (
	"cmp"
	"fmt"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
)

// NFSProps configures NFS.
type NFSProps struct {
	// Server is the NFS server (the Synology), such as "192.168.1.20". Required.
	Server string
	// Path is the exported path, such as "/volume1/k8s". Required.
	Path string
	// Namespace of the provisioner. Default: "nfs-provisioner".
	Namespace string
	// ClassName of the StorageClass. Default: "nfs-storage".
	ClassName string
	// Default makes the class the cluster default. Default: true.
	Default *bool
}

// NFS is the nfs-subdir-external-provisioner and its StorageClass (reclaim
// Retain: data on the NAS outlives the claim).
type NFS struct {
	constructs.Construct
	info *core.Info

	// Namespace the provisioner runs in, after defaults.
	Namespace string
	// Release is the HelmRelease; Class the StorageClass.
	Release *flux.HelmRelease
	Class   *StorageClass

	server string
}

type nfsValues struct {
	NFS struct {
		Server string `json:"server"`
		Path   string `json:"path"`
	} `json:"nfs"`
	StorageClass struct {
		Create          bool   `json:"create"`
		ProvisionerName string `json:"provisionerName"`
	} `json:"storageClass"`
	ReplicaCount int                         `json:"replicaCount"`
	Resources    corev1.ResourceRequirements `json:"resources"`
}

// NewNFS adds the NFS provisioner below scope.
func NewNFS(scope constructs.Construct, id string, repo *flux.HelmRepository, props *NFSProps) *NFS {
	props = cmp.Or(props, &NFSProps{})
	ns := cmp.Or(props.Namespace, "nfs-provisioner")
	className := cmp.Or(props.ClassName, "nfs-storage")
	def := true
	if props.Default != nil {
		def = *props.Default
	}
	n := &NFS{Namespace: ns, server: props.Server}
	n.info = core.Init(n, scope, id)
	const provisioner = "k8s-sigs.io/nfs-subdir-external-provisioner"
	var v nfsValues
	v.NFS.Server, v.NFS.Path = props.Server, props.Path
	// The class is rendered here, typed; the chart only runs the provisioner.
	v.StorageClass.Create = false
	v.StorageClass.ProvisionerName = provisioner
	v.ReplicaCount = 1
	v.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
	n.Release = flux.NewHelmRelease(n, "release", &flux.HelmReleaseProps{
		Name: "nfs-subdir-external-provisioner", Namespace: ns, Repository: repo,
		Chart: NFSChart.Name, Version: NFSChart.Version, Values: v,
	})
	n.Class = NewStorageClass(n, "storage-class", &StorageClassProps{
		Name: className, Provisioner: provisioner, ReclaimPolicy: corev1.PersistentVolumeReclaimRetain, Default: def,
		Parameters:        map[string]string{"archiveOnDelete": "true", "pathPattern": "${.PVC.namespace}-${.PVC.name}"},
		NetworkFilesystem: true,
	})
	t := n.info.Tree()
	server, _ := core.ParseHost(props.Server, "NFS server")
	core.Addresses.Of(t).Claim(server, n.info.Path(), "NFS server")
	core.Workloads.Of(t).Add(core.Workload{Source: n.info.Path(), Name: "nfs-subdir-external-provisioner", Replicas: 1,
		CPU: v.Resources.Requests[corev1.ResourceCPU], Memory: v.Resources.Requests[corev1.ResourceMemory], MemoryLimit: v.Resources.Limits[corev1.ResourceMemory]})
	t.AddValidation(func() []error {
		var errs []error
		if props.Server == "" {
			errs = append(errs, core.Errorf(n.info.Path(), "set NFSProps.Server to the NAS address", "NFS server is empty"))
		} else if problem := checkServer(props.Server); problem != nil {
			errs = append(errs, core.Errorf(n.info.Path(), "set NFSProps.Server: "+problem.Fix, "%s", problem.Problem))
		}
		if len(props.Path) == 0 || props.Path[0] != '/' {
			errs = append(errs, core.Errorf(n.info.Path(), fmt.Sprintf("set NFSProps.Path to the exported path, such as %q", "/volume1/k8s"), "NFS path %q is not absolute", props.Path))
		}
		return errs
	})
	return n
}

// Info returns the construct's place in the tree.
func (n *NFS) Info() *core.Info { return n.info }

// ToString overrides the jsii method; it returns the construct path.
func (n *NFS) ToString() *string { return core.PathString(n.info) }
