package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	talosmodel "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/manifest"
	"github.com/funoffshore/homelab/pkg/validate"
)

// AddTalos does what Talos does to a fresh cluster before any workload,
// as far as the workloads can see it, reading each setting from the
// machine configs that Talos machinery resolves:
//   - each node's kubelet registers its Node (see Nodes);
//   - each control plane's kubelet runs the static pods of the control
//     plane, which appear as mirror pods in kube-system with Talos' labels
//     and default requests (what the charts' ServiceMonitors select);
//   - the bootstrap manifests: CoreDNS (Deployment and Service kube-dns),
//     the flannel DaemonSet when flannel is the CNI, the kube-proxy
//     DaemonSet when the proxy is enabled, with their upstream requests
//     (so they take their share of every node, as on the real cluster),
//     and the config's inline manifests;
//   - with Kubernetes Talos API access, the talos.dev ServiceAccount CRD.
//
// It returns the Nodes.
func (c *Cluster) AddTalos(ctx context.Context, cluster *talosmodel.Cluster, bundle *secrets.Bundle) ([]*corev1.Node, error) {
	nodes, err := Nodes(cluster, bundle)
	if err != nil {
		return nil, err
	}
	if err := c.AddNodes(ctx, nodes); err != nil {
		return nil, err
	}
	cps := cluster.ControlPlanes()
	if len(cps) == 0 {
		return nodes, nil
	}
	cfg, err := cluster.NodeConfig(cps[0], bundle)
	if err != nil {
		return nil, err
	}
	var objs []client.Object
	for _, n := range nodes {
		if _, ok := n.Labels[controlPlaneLabel]; ok {
			objs = append(objs, staticPods(cfg, n)...)
		}
	}
	objs = append(objs, bootstrapManifests(cfg)...)
	for _, o := range objs {
		if err := c.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("%T %s: %w", o, o.GetName(), err)
		}
	}
	for _, m := range cfg.Cluster().InlineManifests() {
		us, err := manifest.Decode([]byte(m.Contents()))
		if err != nil {
			return nil, fmt.Errorf("inline manifest %s: %w", m.Name(), err)
		}
		for _, u := range us {
			if err := c.Client.Patch(ctx, u, client.Apply, client.FieldOwner("talos"), client.ForceOwnership); err != nil {
				return nil, fmt.Errorf("inline manifest %s: %s %s: %w", m.Name(), u.GetKind(), u.GetName(), err)
			}
		}
	}
	if access := cfg.Machine().Features().KubernetesTalosAPIAccess(); access != nil && access.Enabled() {
		crd := validate.TalosServiceAccountCRD()
		if err := c.Client.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("talos.dev ServiceAccount CRD: %w", err)
		}
		if err := manifest.WaitEstablished(ctx, c.Client, crd.Name, time.Minute); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

const controlPlaneLabel = "node-role.kubernetes.io/control-plane"

func requests(cpu, memory string, r interface {
	CPURequests() string
	MemoryRequests() string
}) corev1.ResourceList {
	if r != nil {
		if v := r.CPURequests(); v != "" {
			cpu = v
		}
		if v := r.MemoryRequests(); v != "" {
			memory = v
		}
	}
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)}
}

// staticPods are the mirror pods of a control plane's static pods, with
// the labels and default requests Talos gives them.
func staticPods(cfg config.Provider, n *corev1.Node) []client.Object {
	cl := cfg.Cluster()
	pods := []struct {
		name, image string
		requests    corev1.ResourceList
	}{
		{"kube-apiserver", cl.APIServer().Image(), requests("200m", "512Mi", cl.APIServer().Resources())},
		{"kube-controller-manager", cl.ControllerManager().Image(), requests("50m", "256Mi", cl.ControllerManager().Resources())},
		{"kube-scheduler", cl.Scheduler().Image(), requests("10m", "64Mi", cl.Scheduler().Resources())},
	}
	var out []client.Object
	for _, p := range pods {
		out = append(out, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: p.name + "-" + n.Name, Namespace: metav1.NamespaceSystem,
				Labels: map[string]string{
					"tier": "control-plane", "k8s-app": p.name, "component": p.name,
					"app.kubernetes.io/name": p.name, "app.kubernetes.io/component": "control-plane", "app.kubernetes.io/managed-by": "Talos",
					"app.kubernetes.io/version": imageVersion(p.image),
				},
				Annotations:     map[string]string{corev1.MirrorPodAnnotationKey: p.name},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID, Controller: ptr.To(true)}},
			},
			Spec: corev1.PodSpec{
				NodeName: n.Name, HostNetwork: true, PriorityClassName: "system-cluster-critical",
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers:  []corev1.Container{{Name: p.name, Image: p.image, Resources: corev1.ResourceRequirements{Requests: p.requests}}},
			},
		})
	}
	return out
}

// imageVersion is the version in an image reference's tag, as Talos
// labels its static pods with it.
func imageVersion(image string) string {
	_, tag, _ := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
	tag, _, _ = strings.Cut(tag, "@")
	return strings.TrimPrefix(tag, "v")
}

// bootstrapManifests are the workloads Talos' bootstrap manifests run:
// its system pods (talos.SystemPods, the ones the capacity check counts:
// CoreDNS with its kube-dns Service, the CNI) and kube-proxy.
func bootstrapManifests(cfg config.Provider) []client.Object {
	var out []client.Object
	podSpec := func(name, image string, sp talosmodel.SystemPod) corev1.PodSpec {
		ctr := corev1.Container{Name: name, Image: image}
		if !sp.CPU.IsZero() || !sp.Memory.IsZero() {
			ctr.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: sp.CPU, corev1.ResourceMemory: sp.Memory}
		}
		if !sp.MemoryLimit.IsZero() {
			ctr.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: sp.MemoryLimit}
		}
		return corev1.PodSpec{PriorityClassName: "system-cluster-critical", Containers: []corev1.Container{ctr},
			Tolerations: []corev1.Toleration{{Key: controlPlaneLabel, Effect: corev1.TaintEffectNoSchedule}}}
	}
	daemonSet := func(sp talosmodel.SystemPod) *appsv1.DaemonSet {
		labels := map[string]string{"k8s-app": sp.Name, "tier": "node"}
		spec := podSpec(sp.Name, sp.Image, sp)
		spec.PriorityClassName, spec.HostNetwork = "system-node-critical", true
		spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
		return &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: sp.Name, Namespace: metav1.NamespaceSystem, Labels: labels},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": sp.Name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
		}
	}
	for _, sp := range talosmodel.SystemPods(cfg) {
		switch {
		case sp.PerNode:
			out = append(out, daemonSet(sp))
		case sp.Name == "coredns":
			labels := map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
			spec := podSpec("coredns", sp.Image, sp)
			spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP}, {Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP}}
			out = append(out,
				&appsv1.Deployment{
					ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: metav1.NamespaceSystem, Labels: labels},
					Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(sp.Replicas)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
						Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
				},
				&corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem, Labels: labels},
					Spec: corev1.ServiceSpec{Selector: map[string]string{"k8s-app": "kube-dns"}, Ports: []corev1.ServicePort{
						{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
						{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
						{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)}}},
				})
		}
	}
	if cl := cfg.Cluster(); cl.Proxy().Enabled() {
		out = append(out, daemonSet(talosmodel.SystemPod{Name: "kube-proxy", Image: cl.Proxy().Image()}))
	}
	return out
}
