package storage

import (
	"cmp"
	"fmt"
	"github.com/aws/constructs-go/constructs/v10"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
)

// LonghornProps configures Longhorn.
type LonghornProps struct {
	// Namespace of Longhorn. Default: "longhorn-system".
	Namespace string
	// Replicas of each volume. Default: 2.
	Replicas int
	// BackupTarget is where backups go, such as
	// "nfs://192.168.1.20:/volume1/longhorn-backups". Empty for none.
	BackupTarget string
	// UserVolumeMinSize is the minimum size of the Talos user volume that
	// holds Longhorn's data. Default: "10GiB".
	UserVolumeMinSize string
	// DiskGiB is the size of the virtual disk each VM that runs
	// workloads gets for Longhorn's replicas: every worker, and a control
	// plane that runs workloads (a tainted one holds none). Longhorn
	// schedules 70% of it (ReservedPercentForDefaultDisk). Default: 50.
	DiskGiB int
	// Default makes the "longhorn" class the cluster's default class
	// (the chart's persistence.defaultClass), for a homelab whose only
	// storage is Longhorn. Default: false.
	Default bool
}

// Longhorn is Longhorn installed by a HelmRelease, with its StorageClass
// (created by the chart) and what it needs from the nodes: the iscsi-tools
// and util-linux-tools extensions, a Talos user volume for its data and
// that volume mounted into the kubelet.
type Longhorn struct {
	constructs.Construct
	info *core.Info

	// Release is the HelmRelease; Class the "longhorn" StorageClass.
	Release *flux.HelmRelease
	Class   *StorageClass
	// Namespace and DataPath after defaults.
	Namespace, DataPath string

	backupTarget string
	// backupURL is the backup target parsed once; nil when there is none
	// or it is no URL of a known scheme with a host, which validation
	// reports.
	backupURL *url.URL
}

// longhornValues are the chart values this construct sets.
type longhornValues struct {
	Persistence struct {
		DefaultClass             bool   `json:"defaultClass"`
		DefaultClassReplicaCount int    `json:"defaultClassReplicaCount"`
		ReclaimPolicy            string `json:"reclaimPolicy"`
	} `json:"persistence"`
	DefaultSettings struct {
		DefaultDataPath     string `json:"defaultDataPath"`
		DefaultReplicaCount int    `json:"defaultReplicaCount"`
		UpgradeChecker      bool   `json:"upgradeChecker"`
	} `json:"defaultSettings"`
	DefaultBackupStore *struct {
		BackupTarget string `json:"backupTarget"`
	} `json:"defaultBackupStore,omitempty"`
	CSI struct {
		AttacherReplicaCount    int `json:"attacherReplicaCount"`
		ProvisionerReplicaCount int `json:"provisionerReplicaCount"`
		ResizerReplicaCount     int `json:"resizerReplicaCount"`
		SnapshotterReplicaCount int `json:"snapshotterReplicaCount"`
	} `json:"csi"`
	LonghornUI struct {
		Replicas int `json:"replicas"`
	} `json:"longhornUI"`
	LonghornManager struct {
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"longhornManager"`
}

// longhornManagerResources are longhorn-manager's (the chart's only
// resources value). The chart has none for its UI, driver deployer,
// CSI sidecars, the share-manager image pre-pull container or its
// upgrade and uninstall jobs, and the instance managers are made at run
// time: those stay estimates in the capacity check.
func longhornManagerResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("192Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
}

// NewLonghorn adds Longhorn below scope (a chart applied by a Kustomization
// that waits for it). repo is the Longhorn chart repository.
func NewLonghorn(scope constructs.Construct, id string, repo *flux.HelmRepository, props *LonghornProps) *Longhorn {
	props = cmp.Or(props, &LonghornProps{})
	l := &Longhorn{Namespace: props.Namespace, DataPath: "/var/mnt/longhorn", backupTarget: props.BackupTarget}
	l.Namespace = cmp.Or(l.Namespace, "longhorn-system")
	if u, err := url.Parse(props.BackupTarget); props.BackupTarget != "" && err == nil && slices.Contains(backupSchemes, u.Scheme) && u.Host != "" {
		l.backupURL = u
	}
	replicas := cmp.Or(props.Replicas, 2)
	minSize := cmp.Or(props.UserVolumeMinSize, "10GiB")
	diskGiB := cmp.Or(props.DiskGiB, 50)
	l.info = core.Init(l, scope, id)

	var v longhornValues
	v.Persistence.DefaultClass = props.Default
	v.Persistence.DefaultClassReplicaCount = replicas
	v.Persistence.ReclaimPolicy = string(corev1.PersistentVolumeReclaimDelete)
	v.DefaultSettings.DefaultDataPath = l.DataPath
	v.DefaultSettings.DefaultReplicaCount = replicas
	// Off: Renovate proposes Longhorn's upgrades, and the checker would
	// send the cluster's versions and node count to SUSE's upgrade
	// responder over the internet, which the namespace's policies do not
	// let Longhorn reach (the setting's default is on, types/setting.go:
	// 734-743).
	v.DefaultSettings.UpgradeChecker = false
	if props.BackupTarget != "" {
		v.DefaultBackupStore = &struct {
			BackupTarget string `json:"backupTarget"`
		}{props.BackupTarget}
	}
	// One of each CSI sidecar and UI pod: an N100 homelab has no spare RAM.
	v.CSI.AttacherReplicaCount, v.CSI.ProvisionerReplicaCount, v.CSI.ResizerReplicaCount, v.CSI.SnapshotterReplicaCount = 1, 1, 1, 1
	v.LonghornUI.Replicas = 1
	v.LonghornManager.Resources = longhornManagerResources()

	l.Release = flux.NewHelmRelease(l, "release", &flux.HelmReleaseProps{
		Name: "longhorn", Namespace: l.Namespace, Repository: repo, Chart: LonghornChart.Name, Version: LonghornChart.Version,
		Values: v, CRDGroups: []string{"longhorn.io"},
	})
	l.Class = NewStorageClass(l, "storage-class", &StorageClassProps{
		Name: "longhorn", Provisioner: "driver.longhorn.io", ReclaimPolicy: corev1.PersistentVolumeReclaimDelete, ManagedBy: l.Release,
		Default: props.Default,
	})

	t := l.info.Tree()
	// Every node attaches Longhorn volumes (iSCSI); the nodes pods run
	// on, where the replicas live, get a disk of their own for them.
	core.NodeNeeds.Of(t).Add(core.NodeNeed{
		Source:     l.info.Path(),
		Role:       core.AllNodes,
		Extensions: []string{"siderolabs/iscsi-tools", "siderolabs/util-linux-tools"},
	})
	core.NodeNeeds.Of(t).Add(core.NodeNeed{
		Source:        l.info.Path(),
		Role:          core.WorkloadNodes,
		UserVolumes:   []core.UserVolume{{Name: "longhorn", MinSize: minSize, DiskGiB: diskGiB}},
		KubeletMounts: []core.Mount{{Source: l.DataPath, Destination: l.DataPath, Options: []string{"bind", "rshared", "rw"}}},
	})
	// The chart sets no resource requests for its pods and offers no value
	// to set them; these are the measured footprints Longhorn documents for
	// small clusters, declared so the capacity check counts them.
	t.AddValidation(func() []error { return l.validateCapacity(replicas, diskGiB) })
	t.AddValidation(func() []error { return l.validateProps(replicas, diskGiB) })
	mgr := v.LonghornManager.Resources
	core.Workloads.Of(t).Add(core.Workload{Source: l.info.Path(), Name: "longhorn-manager", Role: core.AllNodes, PerNode: true,
		CPU: mgr.Requests[corev1.ResourceCPU], Memory: mgr.Requests[corev1.ResourceMemory], MemoryLimit: mgr.Limits[corev1.ResourceMemory]})
	// The chart's other pods have no resources value: helm-controller
	// patches them in after rendering (a post-renderer), and the capacity
	// check counts what the patches set.
	for _, w := range l.patchRequests() {
		if w.Name != "" {
			core.Workloads.Of(t).Add(core.Workload{Source: l.info.Path(), Name: w.Name, Replicas: 1, Role: core.AllNodes, PerNode: w.perNode,
				CPU: w.r.Requests[corev1.ResourceCPU], Memory: w.r.Requests[corev1.ResourceMemory], MemoryLimit: w.r.Limits[corev1.ResourceMemory]})
		}
	}
	// Estimates: pods Longhorn makes at run time, not the chart (instance
	// managers, the CSI sidecars the driver deployer starts).
	core.Workloads.Of(t).Add(core.Workload{Source: l.info.Path(), Name: "longhorn-instance-manager (estimate)", Role: core.AllNodes, PerNode: true,
		CPU: resource.MustParse("150m"), Memory: resource.MustParse("192Mi")})
	core.Workloads.Of(t).Add(core.Workload{Source: l.info.Path(), Name: "longhorn-csi (estimate)", Replicas: 1,
		CPU: resource.MustParse("100m"), Memory: resource.MustParse("192Mi")})
	return l
}

// requestsPatch is one container the chart renders without resources.
type requestsPatch struct {
	// Name is the workload's name in the capacity table.
	Name    string
	r       corev1.ResourceRequirements
	perNode bool
}

func requests(cpu, mem, limit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)},
	}
}

// patchRequests adds to the release the post-renderer patches that give
// requests and limits to the containers Longhorn's chart (1.12.1) renders
// without them and has no value for, and returns the long-running ones.
func (l *Longhorn) patchRequests() []requestsPatch {
	small, job := requests("10m", "32Mi", "64Mi"), requests("50m", "64Mi", "256Mi")
	init := requests("10m", "16Mi", "32Mi")
	deployment := func(name string, containers, inits map[string]corev1.ResourceRequirements) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: l.Namespace}}
		d.Spec.Template.Spec = podResources(containers, inits)
		return d
	}
	l.Release.Patch(deployment("longhorn-ui", map[string]corev1.ResourceRequirements{"longhorn-ui": small}, nil))
	l.Release.Patch(deployment("longhorn-driver-deployer", map[string]corev1.ResourceRequirements{"longhorn-driver-deployer": small},
		map[string]corev1.ResourceRequirements{"wait-longhorn-manager": init}))
	// A second container of every longhorn-manager pod, pulling the
	// share-manager image and then sleeping.
	prePull := requests("5m", "8Mi", "16Mi")
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "longhorn-manager", Namespace: l.Namespace}}
	ds.Spec.Template.Spec = podResources(map[string]corev1.ResourceRequirements{"pre-pull-share-manager-image": prePull}, nil)
	l.Release.Patch(ds)
	// Hooks: helm-controller post-renders them with the templates.
	for _, name := range []string{"longhorn-pre-upgrade", "longhorn-post-upgrade", "longhorn-uninstall"} {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: l.Namespace}}
		j.Spec.Template.Spec = podResources(map[string]corev1.ResourceRequirements{name: job}, nil)
		l.Release.Patch(j)
	}
	return []requestsPatch{{"longhorn-ui", small, false}, {"longhorn-driver-deployer", small, false}, {"longhorn-manager image pre-pull", prePull, true}}
}

// podResources is a partial pod spec setting the resources of the named
// containers and init containers, in name order.
func podResources(containers, inits map[string]corev1.ResourceRequirements) corev1.PodSpec {
	var spec corev1.PodSpec
	for _, name := range slices.Sorted(maps.Keys(containers)) {
		spec.Containers = append(spec.Containers, corev1.Container{Name: name, Resources: containers[name]})
	}
	for _, name := range slices.Sorted(maps.Keys(inits)) {
		spec.InitContainers = append(spec.InitContainers, corev1.Container{Name: name, Resources: inits[name]})
	}
	return spec
}

// Info returns the construct's place in the tree.
func (l *Longhorn) Info() *core.Info { return l.info }

// Longhorn's scheduling settings, at the defaults the chart keeps
// (longhorn-manager types/setting.go: storage-reserved-percentage-for-
// default-disk 30, storage-over-provisioning-percentage 100). Its third,
// storage-minimal-available-percentage (25), limits the data actually on
// the disk (snapshots included), not the sizes scheduled, so it is no
// rule of the tree's.
const (
	// ReservedPercentForDefaultDisk is the share of the default disk
	// (the one at the data path, which this construct uses) Longhorn
	// never schedules.
	ReservedPercentForDefaultDisk = 30
	// OverProvisioningPercent is how much volume size Longhorn schedules
	// relative to the unreserved space.
	OverProvisioningPercent = 100
)

// SchedulableBytes is the volume size Longhorn schedules on a default disk
// of diskGiB GiB: a replica of size S goes on a disk only while S plus
// what is scheduled there stays within (maximum - reserved) x
// over-provisioning (longhorn-manager scheduler/replica_scheduler.go,
// IsSchedulableToDisk). The disk's size stands for the file system's
// maximum, which is a little smaller: a volume this check lets through by
// less than the file system's overhead is left for Longhorn to refuse.
func SchedulableBytes(diskGiB int) int64 {
	maximum := int64(diskGiB) << 30
	unreserved := maximum - percent(maximum, ReservedPercentForDefaultDisk)
	return percent(unreserved, OverProvisioningPercent)
}

// percent is floor(x * p / 100) without overflowing for any disk size.
func percent(x, p int64) int64 { return x/100*p + x%100*p/100 }

// backupSchemes are the backup target kinds Longhorn supports.
var backupSchemes = []string{"nfs", "s3", "cifs", "azblob"}

func (l *Longhorn) validateProps(replicas, diskGiB int) []error {
	var errs []error
	p := l.info.Path()
	if replicas < 1 {
		errs = append(errs, core.Errorf(p, "use 1 or more replicas (default 2)", "LonghornProps.Replicas %d is below 1", replicas))
	}
	if diskGiB < 1 {
		errs = append(errs, core.Errorf(p, "use a disk of 1 GiB or more (default 50)", "LonghornProps.DiskGiB %d is below 1", diskGiB))
	}
	if bt := l.backupTarget; bt != "" {
		if l.backupURL == nil {
			errs = append(errs, core.Errorf(p, `use a URL such as "nfs://192.168.1.20:/volume1/longhorn-backups" or "s3://bucket@region/"`,
				"backup target %q is not a %s URL with a host", bt, strings.Join(backupSchemes, ", ")))
		}
	}
	return errs
}

// validateCapacity checks Longhorn's volumes against the nodes that hold
// its replicas: those pods are scheduled on (the workers, and a control
// plane that runs workloads), each with a Longhorn disk of diskGiB. Each
// replica of a volume goes on another node (replica-soft-anti-affinity is
// off by default), and a replica is whole on one disk.
func (l *Longhorn) validateCapacity(replicas, diskGiB int) []error {
	t := l.info.Tree()
	nodes := core.Nodes.Of(t).All()
	if len(nodes) == 0 || replicas < 1 || diskGiB < 1 {
		return nil // no OS layer in the tree, or refused by validateProps
	}
	holders := 0
	for _, n := range nodes {
		if n.Workloads {
			holders++
		}
	}
	p := l.info.Path()
	if holders == 0 {
		return []error{core.Errorf(p, "add a worker, or let the control planes run workloads (cluster.allowSchedulingOnControlPlanes)",
			"no node runs workloads, so none holds a Longhorn replica")}
	}
	var errs []error
	if replicas > holders {
		errs = append(errs, core.Errorf(p, fmt.Sprintf("lower LonghornProps.Replicas to %d or add workers", holders),
			"%d replicas per volume but only %d nodes run workloads and hold Longhorn replicas (one per node)", replicas, holders))
	}
	perDisk := SchedulableBytes(diskGiB)
	var need resource.Quantity
	var sources []string
	oversized := false
	for _, c := range l.Class.Claims() {
		need.Add(c.Size)
		sources = append(sources, fmt.Sprintf("%s %s", c.Source, c.Size.String()))
		if c.Size.Value() > perDisk {
			oversized = true
			errs = append(errs, core.Errorf(p, fmt.Sprintf("raise LonghornProps.DiskGiB to %d or shrink the volume", diskFor(c.Size.Value())),
				"volume %s of %s does not fit one node's Longhorn disk: each replica is whole on one disk, and Longhorn schedules at most %s of a %d GiB disk (%d%% reserved)",
				c.Source, c.Size.String(), gib(perDisk), diskGiB, ReservedPercentForDefaultDisk))
		}
	}
	needBytes := need.Value() * int64(replicas)
	haveBytes := int64(holders) * perDisk
	if needBytes > haveBytes && !oversized { // an oversized volume's fix comes first
		errs = append(errs, core.Errorf(p, "raise LonghornProps.DiskGiB, add workers or shrink the volumes",
			"Longhorn volumes need %s (%s, x%d replicas) but the Longhorn disks schedule %s (%d x %d GiB, %d%% reserved)",
			gib(needBytes), strings.Join(sources, " + "), replicas, gib(haveBytes), holders, diskGiB, ReservedPercentForDefaultDisk))
	}
	return errs
}

// diskFor is the smallest whole-GiB Longhorn disk that schedules size.
func diskFor(size int64) int {
	// A first guess from the ratio, then at most a step or two up.
	g := max(1, int(size/SchedulableBytes(1)))
	for SchedulableBytes(g) < size && SchedulableBytes(g) > 0 {
		g++
	}
	return g
}

// gib formats bytes as GiB, with a decimal when it is not whole.
func gib(b int64) string {
	if b%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", b>>30)
	}
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}

// ToString overrides the jsii method; it returns the construct path.
func (l *Longhorn) ToString() *string { return core.PathString(l.info) }

// RecurringBackup is a Longhorn RecurringJob that backs up every volume of
// the "default" group to the backup target on schedule
// (core.Cron("0 3 * * *")), keeping retain backups.
func (l *Longhorn) RecurringBackup(scope constructs.Construct, id string, schedule core.Schedule, retain int) *kube.Object {
	o := l.recurringJob(scope, id, schedule.String(), retain)
	o.Info().Tree().AddValidation(func() []error {
		var errs []error
		if err := schedule.Err(); err != nil {
			errs = append(errs, core.Errorf(o.Info().Path(), `use five cron fields such as core.Cron("0 3 * * *")`, "schedule %q does not parse: %v", schedule, err))
		}
		if retain < 1 {
			errs = append(errs, core.Errorf(o.Info().Path(), "retain at least 1 backup", "retain %d keeps no backup", retain))
		}
		if l.backupTarget == "" {
			errs = append(errs, core.Errorf(o.Info().Path(), "set LonghornProps.BackupTarget", "a recurring backup needs a backup target, and Longhorn has none"))
		}
		return errs
	})
	return o
}

func (l *Longhorn) recurringJob(scope constructs.Construct, id, cron string, retain int) *kube.Object {
	return kube.NewObject(scope, id, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "longhorn.io/v1beta2",
		"kind":       "RecurringJob",
		"metadata":   map[string]any{"name": id, "namespace": l.Namespace},
		"spec": map[string]any{
			"cron": cron, "task": "backup", "retain": int64(retain), "concurrency": int64(1),
			"groups": []any{"default"}, "labels": map[string]any{},
		},
	}})
}
