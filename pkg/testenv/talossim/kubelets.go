package talossim

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RunKubelets stands in for the kubelets of the simulated nodes against a
// Kubernetes API (a test's kube-apiserver) until ctx ends: every interval
// each configured node of a bootstrapped cluster registers its Node under
// its hostname (Talos' control-plane label, Ready, the kubelet version of
// its config's kubelet image, InternalIP 127.0.0.1), and each control
// plane its static pods' mirror pods (kube-apiserver, kube-controller-
// manager, kube-scheduler) with the image and the version label Talos
// gives them, Ready. A node that was reset stops reporting: its Node turns
// NotReady and stays until deleted, as a real one does; so does a
// stopped one's. So a config
// change shows in the cluster the way kubelet restarts show it.
func (s *Sim) RunKubelets(ctx context.Context, c client.Client, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.syncKubelets(ctx, c)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type kubelet struct {
	hostname string
	role     machine.Type
	cfg      config.Provider
}

func (s *Sim) syncKubelets(ctx context.Context, c client.Client) {
	s.kubelets.Lock()
	defer s.kubelets.Unlock()
	s.mu.Lock()
	running := anyBootstrapped(s)
	var up []kubelet
	var down []string
	for _, name := range slices.Sorted(maps.Keys(s.nodes)) {
		n := s.nodes[name]
		if !n.configured || n.down {
			down = append(down, name)
			continue
		}
		cfg, err := configloader.NewFromBytes(n.config)
		if err != nil {
			continue
		}
		up = append(up, kubelet{hostname: hostnameOf(n.config, n.Addr), role: n.role, cfg: cfg})
	}
	s.mu.Unlock()
	if !running {
		return
	}
	for _, k := range up {
		_ = registerNode(ctx, c, k)
		if k.role == machine.TypeControlPlane {
			cl := k.cfg.Cluster()
			for component, image := range map[string]string{
				"kube-apiserver":          cl.APIServer().Image(),
				"kube-controller-manager": cl.ControllerManager().Image(),
				"kube-scheduler":          cl.Scheduler().Image(),
			} {
				_ = mirrorPod(ctx, c, k.hostname, component, image)
			}
		}
	}
	for _, name := range down {
		// Reset nodes run under the hostname their config gave; the
		// simulator names nodes by it, so the Node is name's.
		var node corev1.Node
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &node); err == nil {
			node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown"}}
			_ = c.Status().Update(ctx, &node)
		}
	}
}

// imageTag is the tag of an image reference ("" without one).
func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}

func registerNode(ctx context.Context, c client.Client, k kubelet) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.hostname}}
	err := c.Get(ctx, client.ObjectKeyFromObject(node), node)
	if apierrors.IsNotFound(err) {
		node.Labels = map[string]string{"kubernetes.io/hostname": k.hostname}
		if k.role == machine.TypeControlPlane {
			node.Labels["node-role.kubernetes.io/control-plane"] = ""
		}
		if err := c.Create(ctx, node); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	status := node.Status.DeepCopy()
	status.NodeInfo.KubeletVersion = imageTag(k.cfg.Machine().Kubelet().Image())
	status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: k.hostname}}
	status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}
	if equality.Semantic.DeepEqual(status, &node.Status) {
		return nil
	}
	node.Status = *status
	return c.Status().Update(ctx, node)
}

func mirrorPod(ctx context.Context, c client.Client, node, component, image string) error {
	version := strings.TrimPrefix(imageTag(image), "v")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: component + "-" + node, Namespace: "kube-system"}}
	err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod)
	switch {
	case err == nil && pod.Spec.Containers[0].Image == image:
		return nil
	case err == nil:
		// A changed static pod: the kubelet replaces the mirror pod.
		if err := c.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil {
			return err
		}
	case !apierrors.IsNotFound(err):
		return err
	}
	pod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: component + "-" + node, Namespace: "kube-system", Labels: map[string]string{
			"k8s-app": component, "tier": "control-plane", "app.kubernetes.io/name": component, "app.kubernetes.io/version": version,
		}, Annotations: map[string]string{corev1.MirrorPodAnnotationKey: image}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: component, Image: image}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		return err
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	return c.Status().Update(ctx, pod)
}
