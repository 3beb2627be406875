package e2e

import (
	"fmt"
	"maps"
	"strings"

	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/constants"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	talosmodel "github.com/funoffshore/homelab/constructs/talos"
)

// kwokNodeAnnotation marks a Node kwok plays the kubelet of.
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// maxPods is the kubelet's default pod limit, which Talos keeps.
const maxPods = 110

// Nodes returns one fake Node per Talos node of cluster, as its kubelet
// would register it: named after the node's hostname, with the labels and
// taints its machine config (resolved by Talos machinery) gives it — a
// control plane carries Talos' control-plane label and, unless the config
// allows scheduling there, its NoSchedule taint — and the allocatable the
// VM leaves after Talos' reservation. A node without a VM is an error: its
// size is unknown.
func Nodes(cluster *talosmodel.Cluster, bundle *secrets.Bundle) ([]*corev1.Node, error) {
	var out []*corev1.Node
	for _, n := range cluster.Nodes() {
		cfg, err := cluster.NodeConfig(n, bundle)
		if err != nil {
			return nil, err
		}
		cpu, mem, ok := n.Allocatable()
		if !ok {
			return nil, fmt.Errorf("%s: no VM, so its size is unknown", n.Hostname)
		}
		labels := map[string]string{
			corev1.LabelHostname:   n.Hostname,
			corev1.LabelOSStable:   "linux",
			corev1.LabelArchStable: "amd64",
			"type":                 "kwok",
		}
		maps.Copy(labels, cfg.Machine().NodeLabels())
		var taints []corev1.Taint
		if n.Role == talosmodel.ControlPlane {
			labels[constants.LabelNodeRoleControlPlane] = ""
			if !cfg.Cluster().ScheduleOnControlPlanes() {
				taints = append(taints, corev1.Taint{Key: constants.LabelNodeRoleControlPlane, Effect: corev1.TaintEffectNoSchedule})
			}
		}
		for key, spec := range cfg.Machine().NodeTaints() {
			value, effect, found := strings.Cut(spec, ":")
			if !found {
				value, effect = "", spec
			}
			taints = append(taints, corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)})
		}
		resources := corev1.ResourceList{
			corev1.ResourceCPU:    cpu,
			corev1.ResourceMemory: mem,
			corev1.ResourcePods:   *resource.NewQuantity(maxPods, resource.DecimalSI),
		}
		out = append(out, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        n.Hostname,
				Labels:      labels,
				Annotations: map[string]string{kwokNodeAnnotation: "fake"},
			},
			Spec: corev1.NodeSpec{Taints: taints},
			Status: corev1.NodeStatus{
				Capacity:    resources,
				Allocatable: resources.DeepCopy(),
				Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.IP.String()}, {Type: corev1.NodeHostName, Address: n.Hostname}},
				NodeInfo:    corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KubeletVersion: "v" + cluster.KubernetesVersion},
			},
		})
	}
	return out, nil
}
