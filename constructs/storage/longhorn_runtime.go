package storage

import (
	"maps"
	"net"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// RuntimePod is a pod longhorn-manager (or its driver deployer) makes at
// run time: no chart renders it, yet the cluster's NetworkPolicies meet
// it. Labels and ports are longhorn-manager v1.12.1's, the version the
// chart pins.
type RuntimePod struct {
	// Name says what the pod is.
	Name string
	// Labels the pods carry (the ones policies select by).
	Labels map[string]string
	// Ports the pods serve on the pod network.
	Ports []corev1.ContainerPort
	// PerNode: one on every node that runs Longhorn (a DaemonSet, or one
	// per node like the instance managers); else one pod.
	PerNode bool
	// CallsAPIServer: the pod reads or writes Kubernetes objects.
	CallsAPIServer bool
}

// Ports of longhorn-manager and of the pods it makes (longhorn-manager
// v1.12.1 types/types.go:136-139, engineapi/types.go:46-56,
// types/support_bundle.go:15).
const (
	// ManagerAPIPort is longhorn-manager's API (the longhorn-backend
	// Service), which the UI, the CSI plugin and the driver deployer call.
	ManagerAPIPort = 9500
	// ConversionWebhookPort and AdmissionWebhookPort are its webhooks,
	// called by the API server.
	ConversionWebhookPort = 9501
	AdmissionWebhookPort  = 9502
	// RecoveryBackendPort is where share managers report NFS clients.
	RecoveryBackendPort = 9503
	// InstanceManagerPort is the first of an instance manager's service
	// ports (process manager, proxy, disk, instance: 8500-8503).
	InstanceManagerPort = 8500
	// ShareManagerPort is a share manager's control API; NFSPort the NFS
	// server it exports a ReadWriteMany volume with.
	ShareManagerPort = 9600
	NFSPort          = 2049
	// SupportBundlePort is where a support bundle manager collects and
	// serves a bundle.
	SupportBundlePort = 8080
	// ReplicaPort is a port of the range an instance manager gives its
	// engine and replica processes; replicas of a volume talk across
	// nodes on them.
	ReplicaPort = 10000
)

// ManagerRuntimeLabels are the labels longhorn-manager adds to its own pod
// once its conversion webhook, admission webhook and recovery backend
// serve (app/daemon.go:179, :207, :320; the values types/types.go:544-560):
// the chart's Services and NetworkPolicies for them select the manager's
// pods by these labels, which its DaemonSet template does not carry.
func ManagerRuntimeLabels() map[string]string {
	return map[string]string{
		"longhorn.io/conversion-webhook": "longhorn-conversion-webhook",
		"longhorn.io/admission-webhook":  "longhorn-admission-webhook",
		"longhorn.io/recovery-backend":   "longhorn-recovery-backend",
	}
}

// RuntimePods returns the pods Longhorn makes at run time for the volumes
// of this homelab: the instance managers (controller/
// instance_manager_controller.go; labels types.GetInstanceManagerLabels),
// the CSI plugin and its sidecars (csi/deployment.go), a share manager
// per ReadWriteMany volume (types.GetShareManagerLabels; any claim of
// Longhorn's class may ask for one) and a support bundle manager while
// an operator collects a bundle (datastore/kubernetes.go:73-76).
func (l *Longhorn) RuntimePods() []RuntimePod {
	managed := func(extra map[string]string) map[string]string {
		m := map[string]string{"longhorn.io/managed-by": "longhorn-manager"}
		maps.Copy(m, extra)
		return m
	}
	tcp := func(name string, port int32) corev1.ContainerPort {
		return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
	}
	out := []RuntimePod{
		{Name: "instance-manager", PerNode: true,
			Labels: managed(map[string]string{"longhorn.io/component": "instance-manager", "longhorn.io/instance-manager-type": "aio"}),
			Ports: []corev1.ContainerPort{tcp("process-manager", InstanceManagerPort), tcp("proxy", InstanceManagerPort+1),
				tcp("disk", InstanceManagerPort+2), tcp("instance", InstanceManagerPort+3), tcp("replica", ReplicaPort)}},
		{Name: "longhorn-csi-plugin", PerNode: true, CallsAPIServer: true, Labels: map[string]string{"app": "longhorn-csi-plugin"}},
		{Name: "share-manager", CallsAPIServer: true,
			Labels: managed(map[string]string{"longhorn.io/component": "share-manager", "longhorn.io/share-manager": "pvc-rwx"}),
			Ports:  []corev1.ContainerPort{tcp("share-manager", ShareManagerPort), tcp("nfs", NFSPort)}},
		{Name: "support-bundle-manager", CallsAPIServer: true,
			Labels: map[string]string{"app": "support-bundle-manager", "rancher/supportbundle": "bundle"},
			Ports:  []corev1.ContainerPort{tcp("http", SupportBundlePort)}},
	}
	for _, sidecar := range []string{"csi-attacher", "csi-provisioner", "csi-resizer", "csi-snapshotter"} {
		out = append(out, RuntimePod{Name: sidecar, CallsAPIServer: true, Labels: map[string]string{"app": sidecar}})
	}
	return out
}

// BackupTargetEndpoint is where Longhorn's backups go, as a network
// destination: the NFS server's address (a /32, or 0.0.0.0/0 for a host
// name, which no policy can name) on 2049, since Longhorn mounts NFSv4
// only (github.com/longhorn/backupstore nfs/nfs.go:106-135, minor
// versions 4.2 down to 4.0, type nfs4); an S3 or Azure endpoint on 443
// and a CIFS server on 445. ok is false without a backup target (or with
// one validation refuses).
func (l *Longhorn) BackupTargetEndpoint() (dest netip.Prefix, port int32, ok bool) {
	u := l.backupURL
	if u == nil {
		return netip.Prefix{}, 0, false
	}
	host := u.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	anywhere := netip.MustParsePrefix("0.0.0.0/0")
	switch u.Scheme {
	case "nfs":
		if a, err := netip.ParseAddr(host); err == nil {
			return netip.PrefixFrom(a, a.BitLen()), NFSPort, true
		}
		return anywhere, NFSPort, true
	case "cifs":
		if a, err := netip.ParseAddr(host); err == nil {
			return netip.PrefixFrom(a, a.BitLen()), 445, true
		}
		return anywhere, 445, true
	}
	return anywhere, 443, true
}
