package talos

import (
	"strconv"

	k8sres "github.com/siderolabs/talos/pkg/machinery/resources/k8s"

	"github.com/funoffshore/homelab/constructs/core"
)

// Ports the control plane serves metrics on once a NodeNeed asks for
// ControlPlaneMetrics: Kubernetes' secure ports of the controller manager
// and the scheduler (bound to every address by the patch below), and
// etcd's metrics listener.
const (
	ControllerManagerMetricsPort = 10257
	SchedulerMetricsPort         = 10259
	EtcdMetricsPort              = 2381
)

// etcdMetricsURL is what etcd's listen-metrics-urls is set to.
var etcdMetricsURL = "http://0.0.0.0:" + strconv.Itoa(EtcdMetricsPort)

// controlPlaneMetrics is how Talos runs the control plane: the controller
// manager and the scheduler as static pods labelled k8s-app=<their
// Talos ID> (Talos' own constants), etcd as a host service.
func controlPlaneMetrics() core.ControlPlaneMetrics {
	return core.ControlPlaneMetrics{
		ControllerManager: core.MetricsTarget{Labels: map[string]string{"k8s-app": k8sres.ControllerManagerID}, Port: ControllerManagerMetricsPort},
		Scheduler:         core.MetricsTarget{Labels: map[string]string{"k8s-app": k8sres.SchedulerID}, Port: SchedulerMetricsPort},
		EtcdPort:          EtcdMetricsPort,
	}
}
