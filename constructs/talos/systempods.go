package talos

import (
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/constants"
	"k8s.io/apimachinery/pkg/api/resource"
)

// SystemPod is a workload Talos' bootstrap manifests run on every
// cluster, besides the control plane's static pods: it takes its share of
// the nodes before any workload of the tree.
type SystemPod struct {
	// Name of the Deployment or DaemonSet (in kube-system).
	Name string
	// Replicas of a Deployment; PerNode marks a DaemonSet on every node.
	Replicas int
	PerNode  bool
	// Image from the machine config.
	Image string
	// CPU and Memory are the pod's requests, MemoryLimit its limit (the
	// upstream manifests' values, which Talos keeps).
	CPU, Memory, MemoryLimit resource.Quantity
}

// SystemPods returns the pods Talos runs for cfg (a control plane's
// config): CoreDNS (two replicas) unless disabled, and the flannel
// DaemonSet when flannel is the CNI (Talos' default). kube-proxy requests
// nothing.
func SystemPods(cfg config.Provider) []SystemPod {
	var out []SystemPod
	cl := cfg.Cluster()
	if cl == nil {
		return nil
	}
	if cl.CoreDNS().Enabled() {
		out = append(out, SystemPod{Name: "coredns", Replicas: 2, Image: cl.CoreDNS().Image(),
			CPU: resource.MustParse("100m"), Memory: resource.MustParse("70Mi"), MemoryLimit: resource.MustParse("170Mi")})
	}
	if cl.Network().CNI().Name() == constants.FlannelCNI {
		out = append(out, SystemPod{Name: "kube-flannel", PerNode: true, Image: "ghcr.io/siderolabs/flannel:v" + constants.FlannelVersion,
			CPU: resource.MustParse("100m"), Memory: resource.MustParse("50Mi")})
	}
	return out
}

// systemPods are the cluster's system pods, from its control-plane config
// rendered with the placeholder bundle (nil when it does not render:
// validation reports that).
func (c *Cluster) systemPods() []SystemPod {
	if len(c.ControlPlanes()) == 0 {
		return nil
	}
	cfg, err := c.MachineConfig(machine.TypeControlPlane, PlaceholderBundle())
	if err != nil {
		return nil
	}
	return SystemPods(cfg)
}
