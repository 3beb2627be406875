package storage

import (
	"cmp"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
)

// StorageClassProps configures a StorageClass.
type StorageClassProps struct {
	// Name of the class. Default: the construct id.
	Name string
	// Provisioner of the class. Required.
	Provisioner string
	// ReclaimPolicy of its volumes. Default: Delete.
	ReclaimPolicy corev1.PersistentVolumeReclaimPolicy
	// Default marks the cluster's default class; exactly one class is.
	Default bool
	// Parameters for the provisioner.
	Parameters map[string]string
	// ManagedBy is the HelmRelease whose chart creates the class from its
	// values; then no object is rendered and the construct only stands for
	// the class.
	ManagedBy *flux.HelmRelease
	// NetworkFilesystem marks a class whose volumes are directories on a
	// network file system (NFS): fine for shared files, not for a
	// database that needs a local file system's locking and fsync
	// semantics (Prometheus does not support NFS at all).
	NetworkFilesystem bool
}

// StorageClass is a Kubernetes StorageClass.
type StorageClass struct {
	constructs.Construct
	info *core.Info

	// Props after defaults.
	Name, Provisioner string
	ReclaimPolicy     corev1.PersistentVolumeReclaimPolicy
	Default           bool
	NetworkFilesystem bool
	// Object is the rendered StorageClass, nil when ManagedBy is set.
	Object *kube.Object

	claims []Claim
}

type classRegistry struct{ classes []*StorageClass }

// classRegistries holds each tree's storage classes.
var classRegistries = core.NewFacet("storage/classes", func() *classRegistry { return &classRegistry{} })

func classesOf(t *core.Tree) *classRegistry { return classRegistries.Of(t) }

// NewStorageClass adds a StorageClass below scope.
func NewStorageClass(scope constructs.Construct, id string, props *StorageClassProps) *StorageClass {
	props = cmp.Or(props, &StorageClassProps{})
	c := &StorageClass{Name: props.Name, Provisioner: props.Provisioner, ReclaimPolicy: props.ReclaimPolicy, Default: props.Default, NetworkFilesystem: props.NetworkFilesystem}
	c.Name = cmp.Or(c.Name, id)
	c.ReclaimPolicy = cmp.Or(c.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete)
	c.info = core.Init(c, scope, id)
	if props.ManagedBy == nil {
		sc := &storagev1.StorageClass{
			ObjectMeta:           metav1.ObjectMeta{Name: c.Name},
			Provisioner:          c.Provisioner,
			ReclaimPolicy:        ptr.To(c.ReclaimPolicy),
			Parameters:           props.Parameters,
			AllowVolumeExpansion: ptr.To(true),
			VolumeBindingMode:    ptr.To(storagev1.VolumeBindingImmediate),
		}
		if c.Default {
			sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
		}
		c.Object = kube.NewObject(c, "class", sc)
	} else {
		c.info.Tree().DeclareExternal(core.ObjectID{Group: "storage.k8s.io", Kind: "StorageClass", Name: c.Name}, "created by the chart of HelmRelease "+props.ManagedBy.Spec.Name)
	}
	t := c.info.Tree()
	classesOf(t).classes = append(classesOf(t).classes, c)
	t.AddCheck("storage/default-class", func() []error { return oneDefault(t) })
	t.AddValidation(func() []error {
		if c.Provisioner == "" {
			return []error{core.Errorf(c.info.Path(), "set StorageClassProps.Provisioner", "storage class %q has no provisioner", c.Name)}
		}
		return nil
	})
	return c
}

// Info returns the construct's place in the tree.
func (c *StorageClass) Info() *core.Info { return c.info }

// ToString overrides the jsii method; it returns the construct path.
func (c *StorageClass) ToString() *string { return core.PathString(c.info) }

func oneDefault(t *core.Tree) []error {
	var defaults []string
	for _, c := range classesOf(t).classes {
		if c.Default {
			defaults = append(defaults, c.info.Path())
		}
	}
	sort.Strings(defaults)
	switch {
	case len(defaults) > 1:
		return []error{core.Errorf(defaults[1], fmt.Sprintf("keep Default on one class only (%s)", strings.Join(defaults, ", ")),
			"%d storage classes are marked default", len(defaults))}
	case len(defaults) == 0 && len(classesOf(t).classes) > 0:
		return []error{core.Errorf(classesOf(t).classes[0].info.Path(), "mark one class Default",
			"no storage class is the default, so claims without a class stay pending")}
	}
	return nil
}

// Volume is a persistent volume claim on a storage class construct.
type Volume struct {
	// Class the volume is provisioned by. Required, unless Export is set.
	Class *StorageClass
	// Export is an existing NFS export to mount instead of a new volume
	// of a class (NFS.Existing, or an NFSExport of another NAS): the
	// claim binds to a PersistentVolume of its own on the export, with
	// reclaim Retain, so nothing is provisioned or deleted.
	Export *NFSExport
	// Size of the volume ("10Gi"). Required; for an Export, the capacity
	// the claim states (NFS enforces none).
	Size string
	// AccessMode of the volume. Default: ReadWriteOnce; ReadWriteMany for
	// an Export.
	AccessMode corev1.PersistentVolumeAccessMode
}

// Mode returns the volume's access mode after defaults.
func (v Volume) Mode() corev1.PersistentVolumeAccessMode {
	if v.AccessMode != "" {
		return v.AccessMode
	}
	if v.Export != nil {
		return corev1.ReadWriteMany
	}
	return corev1.ReadWriteOnce
}

// NewClaim adds a PersistentVolumeClaim for v below scope and registers the
// checks that its class belongs to this homelab and its size parses. For
// a volume on an Export it adds the PersistentVolume the claim binds to,
// named "<namespace>-<name>" (reclaim Retain, no class, pre-bound to the
// claim both ways, so no other claim takes it and no provisioner acts).
func NewClaim(scope constructs.Construct, id, name, namespace string, v Volume) *kube.Object {
	mode := v.Mode()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{mode},
		},
	}
	size := v.Parse()
	if size.Err == nil {
		pvc.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: size.Quantity}
	}
	if v.Export != nil {
		pvName := namespace + "-" + name
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: pvName},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      pvc.Spec.Resources.Requests,
				AccessModes:                   []corev1.PersistentVolumeAccessMode{mode},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource:        v.Export.source(),
				ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: namespace, Name: name},
			},
		}
		// The empty class keeps the default class's provisioner away
		// from the claim; volumeName binds it to the export's volume.
		pvc.Spec.StorageClassName = ptr.To("")
		pvc.Spec.VolumeName = pvName
		kube.NewObject(scope, id+"-pv", pv)
	}
	o := kube.NewObject(scope, id, pvc)
	if v.Class != nil && v.Export == nil {
		pvc.Spec.StorageClassName = ptr.To(v.Class.Name)
		if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			v.Class.Reserve(o.Info().Path(), q)
		}
	}
	o.Info().Tree().AddValidation(func() []error { return size.Validate(o.Info()) })
	return o
}

// Claim is storage a construct provisions on a class.
type Claim struct {
	// Source is the construct path.
	Source string
	Size   resource.Quantity
}

// Reserve records that the construct at source provisions size on the
// class (NewClaim does; constructs whose charts make their own claims,
// such as Prometheus' volume, call it), for the capacity checks of the
// class's provisioner.
func (c *StorageClass) Reserve(source string, size resource.Quantity) {
	c.claims = append(c.claims, Claim{Source: source, Size: size})
}

// Claims returns what was reserved on the class.
func (c *StorageClass) Claims() []Claim { return append([]Claim(nil), c.claims...) }

// ParsedVolume is a Volume with its Size parsed, once.
type ParsedVolume struct {
	Volume
	// Quantity is Size parsed; Err why it does not parse.
	Quantity resource.Quantity
	Err      error
}

// Parse parses the volume's size: constructs render the claim from the
// Quantity and validate with the same ParsedVolume.
func (v Volume) Parse() ParsedVolume {
	q, err := resource.ParseQuantity(v.Size)
	return ParsedVolume{Volume: v, Quantity: q, Err: err}
}

// Validate returns the volume's problems (see ParsedVolume.Validate).
func (v Volume) Validate(at *core.Info) []error { return v.Parse().Validate(at) }

// Validate returns the volume's problems, reported at the construct at:
// no class, a class of another homelab, a size that is no quantity or not
// positive. NewClaim runs it; constructs whose charts make the claim call
// it themselves.
func (pv ParsedVolume) Validate(at *core.Info) []error {
	v := pv.Volume
	var errs []error
	p := at.Path()
	switch {
	case v.Export != nil && v.Class != nil:
		errs = append(errs, core.Errorf(p, "set either Volume.Class (a new volume) or Volume.Export (an existing NFS export), not both", "the volume has both a storage class (%s) and an existing export (%s:%s)", v.Class.Name, v.Export.Server, v.Export.Path))
	case v.Export != nil:
		errs = append(errs, v.Export.validate(p)...)
	case v.Class == nil:
		errs = append(errs, core.Errorf(p, "set Volume.Class to a StorageClass construct (longhorn for databases, nfs-storage for shared data), or Volume.Export to mount an existing NFS export", "the volume has no storage class"))
	case v.Class.info.Tree() != at.Tree():
		errs = append(errs, core.Errorf(p, "use a StorageClass of this homelab", "storage class %q is not in this homelab", v.Class.Name))
	}
	if pv.Err != nil {
		errs = append(errs, core.Errorf(p, `use a size such as "10Gi"`, "volume size %q is not a quantity", v.Size))
	} else if pv.Quantity.Sign() <= 0 {
		errs = append(errs, core.Errorf(p, `use a size such as "10Gi"`, "volume size %q is not positive", v.Size))
	}
	return errs
}
