package backup

import (
	"cmp"
	"fmt"
	"strings"

	"filippo.io/age"
	"github.com/aws/constructs-go/constructs/v10"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/storage"
)

// EtcdSnapshotsProps configures EtcdSnapshots.
type EtcdSnapshotsProps struct {
	// Namespace of the CronJob. Default: "kube-system".
	Namespace string
	// Schedule of the snapshots. Default: core.Cron("0 2 * * *").
	Schedule core.Schedule
	// RetainDays of snapshots. Default: 14.
	RetainDays int
	// Volume holds the snapshots (the memo: on nfs-storage). Required.
	Volume storage.Volume
	// Node is the control-plane address to snapshot. Required.
	Node string
	// TalosVersion picks the talosctl image. Required.
	TalosVersion string
	// Recipients are the age public keys (age1...) each snapshot is
	// encrypted for, with SOPS, before it leaves the job: the operators'
	// (.sops.yaml), so the NAS holds no readable cluster state. Empty:
	// the snapshots are stored as etcd writes them (the Secrets in them
	// are encrypted by Talos' secretbox key, other objects are not).
	Recipients []string
}

// SopsImage encrypts the snapshots: the SOPS release the project's own
// SOPS code is (go.mod), on Alpine for the shell of the rotation step.
const SopsImage = "ghcr.io/getsops/sops:v3.13.3-alpine"

// EtcdSnapshots is a CronJob that takes an etcd snapshot through the Talos
// API (a Talos ServiceAccount with the os:etcd:backup role; Talos mounts
// its talosconfig) and keeps RetainDays of them. It asks the Talos control
// planes to allow that role from its namespace.
type EtcdSnapshots struct {
	constructs.Construct
	info *core.Info
	// Namespace of the job, after defaults.
	Namespace string
}

// PodLabels are the labels of the snapshot job's pods (the namespace's
// policies select them by these).
func PodLabels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "etcd-snapshot"}
}

// CronJobName names the snapshot CronJob (and its Talos ServiceAccount).
const CronJobName = "etcd-snapshot"

// BusyboxImage runs the rotation step.
const BusyboxImage = "busybox:1.37.0"

// NewEtcdSnapshots adds the snapshot CronJob below scope.
func NewEtcdSnapshots(scope constructs.Construct, id string, props *EtcdSnapshotsProps) *EtcdSnapshots {
	props = cmp.Or(props, &EtcdSnapshotsProps{})
	p := *props
	p.Namespace = cmp.Or(p.Namespace, "kube-system")
	p.Schedule = p.Schedule.OrDefault("0 2 * * *")
	p.RetainDays = cmp.Or(p.RetainDays, 14)
	e := &EtcdSnapshots{Namespace: p.Namespace}
	e.info = core.Init(e, scope, id)
	const name = CronJobName
	// Talos turns this into a Secret "etcd-snapshot" holding a talosconfig
	// limited to the role.
	kube.NewObject(e, "talos-service-account", &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "talos.dev/v1alpha1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": name, "namespace": p.Namespace},
		"spec":     map[string]any{"roles": []any{"os:etcd:backup"}},
	}})
	e.info.Tree().DeclareExternal(core.ObjectID{Kind: "Secret", Namespace: p.Namespace, Name: name}, "Talos makes it from the talos.dev ServiceAccount")
	storage.NewClaim(e, "volume", "etcd-snapshots", p.Namespace, p.Volume)
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
	}
	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true), RunAsNonRoot: ptr.To(true),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	mounts := []corev1.VolumeMount{{Name: "snapshots", MountPath: "/snapshots"}}
	rotate := corev1.Container{
		Name: "rotate", Image: BusyboxImage,
		Command:         []string{"sh", "-c"},
		Args:            []string{RotateScript("/snapshots", p.RetainDays, false)},
		Resources:       res,
		SecurityContext: sc,
		VolumeMounts:    mounts,
	}
	if len(p.Recipients) > 0 {
		// SOPS reads the whole snapshot into memory.
		rotate.Image, rotate.Args = SopsImage, []string{RotateScript("/snapshots", p.RetainDays, true)}
		rotate.Env = []corev1.EnvVar{{Name: "SOPS_AGE_RECIPIENTS", Value: strings.Join(p.Recipients, ",")}}
		rotate.Resources = corev1.ResourceRequirements{Requests: res.Requests, Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
	}
	kube.NewObject(e, "cronjob", &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.Namespace},
		Spec: batchv1.CronJobSpec{
			Schedule: p.Schedule.String(), ConcurrencyPolicy: batchv1.ForbidConcurrent,
			SuccessfulJobsHistoryLimit: ptr.To[int32](3), FailedJobsHistoryLimit: ptr.To[int32](3),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit: ptr.To[int32](2),
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: PodLabels()}, Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyOnFailure,
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65534), FSGroup: ptr.To[int64](65534),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					InitContainers: []corev1.Container{{
						Name: "snapshot", Image: "ghcr.io/siderolabs/talosctl:" + p.TalosVersion,
						Args:            []string{"etcd", "snapshot", "/snapshots/etcd.snapshot.part", "--nodes", p.Node},
						Env:             []corev1.EnvVar{{Name: "TALOSCONFIG", Value: "/var/run/secrets/talos.dev/config"}},
						Resources:       res,
						SecurityContext: sc,
						VolumeMounts:    append(mounts, corev1.VolumeMount{Name: "talos", MountPath: "/var/run/secrets/talos.dev", ReadOnly: true}),
					}},
					Containers: []corev1.Container{rotate},
					Volumes: []corev1.Volume{
						{Name: "snapshots", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "etcd-snapshots"}}},
						{Name: "talos", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}},
					},
				}},
			}},
		},
	})
	t := e.info.Tree()
	core.NodeNeeds.Of(t).Add(core.NodeNeed{Source: e.info.Path(), Role: core.ControlPlane,
		TalosAPIAccess: &core.TalosAPIAccess{Roles: []string{"os:etcd:backup"}, Namespaces: []string{p.Namespace}}})
	t.AddValidation(func() []error {
		path := e.info.Path()
		if p.Node == "" || p.TalosVersion == "" {
			return []error{core.Errorf(path, "set Node to a control-plane IP and TalosVersion to the cluster's", "the snapshot job has no node or Talos version")}
		}
		var errs []error
		if err := p.Schedule.Err(); err != nil {
			errs = append(errs, core.Errorf(path, `use five cron fields such as core.Cron("0 2 * * *") (daily at 02:00)`, "schedule %q does not parse: %v", p.Schedule, err))
		}
		for _, r := range p.Recipients {
			if _, err := age.ParseX25519Recipient(r); err != nil {
				errs = append(errs, core.Errorf(path, "use the operators' age public keys (age1..., the recipients in .sops.yaml)", "recipient %q is not an age public key", r))
			}
		}
		if p.RetainDays < 1 {
			errs = append(errs, core.Errorf(path, "keep at least 1 day of snapshots", "RetainDays %d keeps no snapshot", p.RetainDays))
		}
		var cps []string
		found := false
		for _, n := range core.Nodes.Of(t).All() {
			if n.Role == core.ControlPlane {
				cps = append(cps, n.IP.String())
				found = found || n.IP.String() == p.Node || n.Hostname == p.Node
			}
		}
		if len(cps) > 0 && !found {
			errs = append(errs, core.Errorf(path, fmt.Sprintf("set Node to a control-plane address (%s)", strings.Join(cps, ", ")),
				"node %q is no control plane of the cluster, so the snapshot would reach no etcd member", p.Node))
		}
		return errs
	})
	return e
}

// RotateScript is the shell script of the rotation step, over the
// snapshot directory dir: the snapshot talosctl wrote (etcd.snapshot.part)
// gets its date in its name (encrypted for $SOPS_AGE_RECIPIENTS into
// etcd-DATE.db.sops when encrypt is set, written under a temporary name
// first), snapshots older than retainDays go, and the directory is listed.
func RotateScript(dir string, retainDays int, encrypt bool) string {
	keep := fmt.Sprintf(`find %[1]s -name 'etcd-*.db*' -mtime +%[2]d -delete; ls -l %[1]s`, dir, retainDays)
	if !encrypt {
		return fmt.Sprintf(`set -eu; mv %[1]s/etcd.snapshot.part "%[1]s/etcd-$(date -u +%%Y%%m%%dT%%H%%M%%SZ).db"; `, dir) + keep
	}
	return fmt.Sprintf(`set -eu; f="%[1]s/etcd-$(date -u +%%Y%%m%%dT%%H%%M%%SZ).db.sops"; `+
		`sops encrypt --input-type binary --output-type binary %[1]s/etcd.snapshot.part > "$f.tmp"; mv "$f.tmp" "$f"; rm %[1]s/etcd.snapshot.part; `, dir) + keep
}

// Info returns the construct's place in the tree.
func (e *EtcdSnapshots) Info() *core.Info { return e.info }

// ToString overrides the jsii method; it returns the construct path.
func (e *EtcdSnapshots) ToString() *string { return core.PathString(e.info) }
