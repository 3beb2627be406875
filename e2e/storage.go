package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// StandIns run, until ctx ends, what the pods of the tree's charts would
// do on a real cluster where it matters to the rest of the tree: the
// storage drivers (see storageStandIn) and the webhook certificate Jobs
// (see certgenStandIn).
func (c *Cluster) StandIns(ctx context.Context) {
	go c.storageStandIn(ctx)
	go c.certgenStandIn(ctx)
}

// longhornStorageClassConfigMap is where the Longhorn chart puts the
// StorageClass that longhorn-manager creates at start.
var longhornStorageClassConfigMap = types.NamespacedName{Namespace: "longhorn-system", Name: "longhorn-storageclass"}

// storageStandIn does what the storage drivers' pods would do on a real
// cluster, since on fake nodes they do not run: it creates Longhorn's
// StorageClass from the chart's ConfigMap (longhorn-manager's job), and
// provisions a volume for each pending claim of an existing StorageClass
// (the CSI provisioner's and the NFS provisioner's job), which
// kube-controller-manager then binds. A claim of a class nobody created
// stays pending, as it would on a real cluster.
func (c *Cluster) storageStandIn(ctx context.Context) {
	for {
		c.syncLonghornStorageClass(ctx)
		c.provision(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *Cluster) syncLonghornStorageClass(ctx context.Context) {
	cm := &corev1.ConfigMap{}
	if err := c.Client.Get(ctx, longhornStorageClassConfigMap, cm); err != nil {
		return
	}
	sc := &storagev1.StorageClass{}
	if err := yaml.UnmarshalStrict([]byte(cm.Data["storageclass.yaml"]), sc); err != nil || sc.Name == "" {
		return
	}
	if err := c.Client.Create(ctx, sc); err != nil && !apierrors.IsAlreadyExists(err) {
		return
	}
}

func (c *Cluster) provision(ctx context.Context) {
	var claims corev1.PersistentVolumeClaimList
	if err := c.Client.List(ctx, &claims); err != nil {
		return
	}
	for i := range claims.Items {
		pvc := &claims.Items[i]
		if pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.StorageClassName == nil {
			continue
		}
		sc := &storagev1.StorageClass{}
		if err := c.Client.Get(ctx, client.ObjectKey{Name: *pvc.Spec.StorageClassName}, sc); err != nil {
			continue
		}
		if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer &&
			pvc.Annotations["volume.kubernetes.io/selected-node"] == "" {
			continue
		}
		reclaim := corev1.PersistentVolumeReclaimDelete
		if sc.ReclaimPolicy != nil {
			reclaim = *sc.ReclaimPolicy
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{
				Name:        "pvc-" + string(pvc.UID),
				Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": sc.Provisioner},
			},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
				AccessModes:                   pvc.Spec.AccessModes,
				PersistentVolumeReclaimPolicy: reclaim,
				StorageClassName:              sc.Name,
				VolumeMode:                    pvc.Spec.VolumeMode,
				ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
					Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join("/var/lib/e2e-volumes", fmt.Sprint(pvc.UID))},
				},
			},
		}
		_ = c.Client.Create(ctx, pv)
	}
}
