package storage_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	pvhelpers "k8s.io/component-helpers/storage/volume"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// lab is a tree with an NFS provisioner (the default class) and a chart
// for claims in namespace media.
func lab() (*core.App, *storage.NFS, *kube.Chart) {
	app := core.NewApp(nil)
	platform := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	kube.NewNamespace(platform, "flux-system", nil)
	kube.NewNamespace(platform, "nfs-provisioner", &kube.NamespaceProps{PodSecurity: "baseline"})
	kube.NewNamespace(platform, "media", &kube.NamespaceProps{PodSecurity: "restricted"})
	repo := flux.NewHelmRepository(platform, "nfs-repo", &flux.HelmRepositoryProps{Name: "nfs-subdir-external-provisioner", URL: "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner"})
	nfs := storage.NewNFS(platform, "nfs", repo, &storage.NFSProps{Server: "192.168.1.20", Path: "/volume1/k8s"})
	return app, nfs, kube.NewChart(app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"})
}

// decode returns the objects of a rendered file by kind.
func decode(t *testing.T, data []byte) (pvs []*corev1.PersistentVolume, pvcs []*corev1.PersistentVolumeClaim) {
	t.Helper()
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var meta metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &meta))
		switch meta.Kind {
		case "PersistentVolume":
			pv := &corev1.PersistentVolume{}
			require.NoError(t, yaml.Unmarshal([]byte(doc), pv))
			pvs = append(pvs, pv)
		case "PersistentVolumeClaim":
			pvc := &corev1.PersistentVolumeClaim{}
			require.NoError(t, yaml.Unmarshal([]byte(doc), pvc))
			pvcs = append(pvcs, pvc)
		}
	}
	return pvs, pvcs
}

// An existing export (a media library) is mounted as it is: its claim
// binds to a PersistentVolume on the export, kept (Retain) when the claim
// goes, and no other claim can take that volume. Binding is judged with
// the PV controller's own helpers at the pinned Kubernetes
// (k8s.io/component-helpers/storage/volume: FindMatchingVolume for a
// pre-bound volume, then the checks of checkVolumeSatisfyClaim in
// pkg/controller/volume/persistentvolume/pv_controller.go v1.36: class,
// volume mode, access modes).
func TestExistingExportBinds(t *testing.T) {
	app, nfs, apps := lab()
	storage.NewClaim(apps, "media", "media", "media", storage.Volume{Export: nfs.Existing("/volume1/media"), Size: "4Ti"})
	// A new claim on the default class beside it.
	storage.NewClaim(apps, "scratch", "scratch", "media", storage.Volume{Class: nfs.Class, Size: "4Ti"})
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	pvs, pvcs := decode(t, append(files["kubernetes/apps/media-pv.yaml"], append([]byte("\n---\n"), files["kubernetes/apps/media.yaml"]...)...))
	_, scratch := decode(t, files["kubernetes/apps/scratch.yaml"])
	require.Len(t, pvs, 1)
	require.Len(t, pvcs, 1)
	require.Len(t, scratch, 1)
	pv, pvc := pvs[0], pvcs[0]

	assert.Equal(t, &corev1.NFSVolumeSource{Server: "192.168.1.20", Path: "/volume1/media"}, pv.Spec.NFS)
	assert.Equal(t, corev1.PersistentVolumeReclaimRetain, pv.Spec.PersistentVolumeReclaimPolicy, "the data outlives the claim")
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, pvc.Spec.AccessModes, "an export is shared by default")

	got, err := pvhelpers.FindMatchingVolume(pvc, []*corev1.PersistentVolume{pv}, nil, nil, true, false)
	require.NoError(t, err)
	assert.Same(t, pv, got, "the PV controller does not bind the claim to the export's volume")
	assert.Equal(t, pv.Name, pvc.Spec.VolumeName)
	assert.Equal(t, pvhelpers.GetPersistentVolumeClass(pv), pvhelpers.GetPersistentVolumeClaimClass(pvc), "storageClassName does not match")
	assert.False(t, pvhelpers.CheckVolumeModeMismatches(&pvc.Spec, &pv.Spec), "incompatible volumeMode")
	assert.True(t, pvhelpers.CheckAccessModes(pvc, pv), "incompatible accessMode")
	assert.Equal(t, ptr.To(""), pvc.Spec.StorageClassName, "without the empty class the default class's provisioner would make a new volume")

	// Another claim never takes the export's volume, even when it fits.
	pv.Status.Phase = corev1.VolumeAvailable
	other := scratch[0].DeepCopy()
	other.Spec.StorageClassName = ptr.To("")
	other.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	got, err = pvhelpers.FindMatchingVolume(other, []*corev1.PersistentVolume{pv}, nil, nil, false, false)
	require.NoError(t, err)
	assert.Nil(t, got, "another claim was matched to the export's volume")
}

// Exports with a bad address or path, or a volume that names both a
// class and an export, are refused with the fix.
func TestExportValidation(t *testing.T) {
	cases := []struct {
		name   string
		volume func(nfs *storage.NFS) storage.Volume
		want   string
	}{
		{"a relative path", func(nfs *storage.NFS) storage.Volume {
			return storage.Volume{Export: nfs.Existing("volume1/media"), Size: "1Ti"}
		}, `apps/media: NFS path "volume1/media" is not absolute; set NFSExport.Path to the exported directory, such as "/volume1/media"`},
		{"a path not in its clean form", func(nfs *storage.NFS) storage.Volume {
			return storage.Volume{Export: nfs.Existing("/volume1/media/../photos/"), Size: "1Ti"}
		}, `apps/media: NFS path "/volume1/media/../photos/" is not in its clean form (/volume1/photos); set NFSExport.Path`},
		{"a server that is no address", func(*storage.NFS) storage.Volume {
			return storage.Volume{Export: &storage.NFSExport{Server: "nas_01", Path: "/media"}, Size: "1Ti"}
		}, `apps/media: NFS server "nas_01" is neither an IP address nor a DNS name; set NFSExport.Server`},
		{"a server with a leading zero (octal to C resolvers)", func(*storage.NFS) storage.Volume {
			return storage.Volume{Export: &storage.NFSExport{Server: "192.168.1.020", Path: "/media"}, Size: "1Ti"}
		}, `apps/media: NFS server "192.168.1.020" has a group with a leading zero, which C resolvers read as octal (192.168.1.16); set NFSExport.Server: write it as 192.168.1.20`},
		{"a server name that is a malformed address", func(*storage.NFS) storage.Volume {
			return storage.Volume{Export: &storage.NFSExport{Server: "192.168.1.999", Path: "/media"}, Size: "1Ti"}
		}, `apps/media: NFS server "192.168.1.999" is not an IPv4 address: 999 is above 255`},
		{"an IPv4-mapped server", func(*storage.NFS) storage.Volume {
			return storage.Volume{Export: &storage.NFSExport{Server: "::ffff:192.168.1.20", Path: "/media"}, Size: "1Ti"}
		}, `apps/media: NFS server "::ffff:192.168.1.20" is an IPv4-mapped IPv6 address; set NFSExport.Server: write it as 192.168.1.20`},
		{"a non-ASCII server name", func(*storage.NFS) storage.Volume {
			return storage.Volume{Export: &storage.NFSExport{Server: "bücher.lan", Path: "/media"}, Size: "1Ti"}
		}, `apps/media: NFS server "bücher.lan" is not ASCII; set NFSExport.Server: write the name in its punycode (xn--) form`},
		{"a class and an export", func(nfs *storage.NFS) storage.Volume {
			return storage.Volume{Class: nfs.Class, Export: nfs.Existing("/volume1/media"), Size: "1Ti"}
		}, `apps/media: the volume has both a storage class (nfs-storage) and an existing export (192.168.1.20:/volume1/media); set either Volume.Class (a new volume) or Volume.Export (an existing NFS export), not both`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app, nfs, apps := lab()
			storage.NewClaim(apps, "media", "media", "media", tc.volume(nfs))
			err := app.Tree().Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// A media library the NAS already holds, mounted as it is: the claim
// binds to a PersistentVolume on the export, which outlives it.
func ExampleNFS_Existing() {
	app, nfs, apps := lab()
	storage.NewClaim(apps, "media", "media", "media", storage.Volume{Export: nfs.Existing("/volume1/media"), Size: "4Ti"})
	files, err := synth.Render(app.Tree())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, doc := range strings.Split(string(files["kubernetes/apps/media-pv.yaml"])+"\n---\n"+string(files["kubernetes/apps/media.yaml"]), "\n---\n") {
		var o struct {
			Kind string
			Spec struct {
				VolumeName                    string
				PersistentVolumeReclaimPolicy string
				NFS                           *corev1.NFSVolumeSource
			}
		}
		_ = yaml.Unmarshal([]byte(doc), &o)
		switch o.Kind {
		case "PersistentVolume":
			fmt.Println(o.Kind, o.Spec.NFS.Server+":"+o.Spec.NFS.Path, o.Spec.PersistentVolumeReclaimPolicy)
		case "PersistentVolumeClaim":
			fmt.Println(o.Kind, "bound to", o.Spec.VolumeName)
		}
	}
	// Output:
	// PersistentVolume 192.168.1.20:/volume1/media Retain
	// PersistentVolumeClaim bound to media-media
}
