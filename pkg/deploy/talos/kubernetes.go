package talos

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/controller-runtime/pkg/client"

	model "github.com/funoffshore/homelab/constructs/talos"
)

// KubernetesDrift compares the Kubernetes version the cluster runs with
// the model's: each node's kubelet (Node.status.nodeInfo.kubeletVersion)
// and each control plane's kube-apiserver (the version label Talos puts
// on its static pod). It returns one note per version found that differs,
// naming the nodes: within one minor, the `talosctl upgrade-k8s` command
// that upgrades the control plane and then the kubelets; more than one
// minor ahead, a refusal, since the version-skew policy allows one minor
// at a time, with the intermediate version to go to first; behind the
// running version, a refusal, since Kubernetes does not downgrade.
func KubernetesDrift(ctx context.Context, c client.Client, cluster *model.Cluster) ([]string, error) {
	want, err := version.ParseGeneric(cluster.KubernetesVersion)
	if err != nil {
		return nil, fmt.Errorf("the model's Kubernetes version %q: %w", cluster.KubernetesVersion, err)
	}
	running := map[string][]string{} // version -> what runs it
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return nil, fmt.Errorf("reading the nodes' kubelet versions: %w", err)
	}
	for _, n := range nodes.Items {
		if v := n.Status.NodeInfo.KubeletVersion; v != "" {
			running[v] = append(running[v], "kubelet on "+n.Name)
		}
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace("kube-system"), client.MatchingLabels{"k8s-app": "kube-apiserver"}); err != nil {
		return nil, fmt.Errorf("reading the API servers' versions: %w", err)
	}
	for _, p := range pods.Items {
		if v := p.Labels["app.kubernetes.io/version"]; v != "" {
			running[v] = append(running[v], "kube-apiserver on "+p.Spec.NodeName)
		}
	}
	var notes []string
	for _, tag := range slices.Sorted(maps.Keys(running)) {
		who := strings.Join(running[tag], ", ")
		have, err := version.ParseGeneric(tag)
		if err != nil {
			notes = append(notes, fmt.Sprintf("Kubernetes: %s reports version %q, which does not parse", who, tag))
			continue
		}
		switch {
		case !have.LessThan(want) && !want.LessThan(have):
		case want.LessThan(have):
			notes = append(notes, fmt.Sprintf("Kubernetes: %s runs %s, newer than the model's %s: Kubernetes does not downgrade; set the model to %s",
				who, have, want, have))
		case want.Minor() > have.Minor()+1 || want.Major() != have.Major():
			next := fmt.Sprintf("%d.%d", have.Major(), have.Minor()+1)
			notes = append(notes, fmt.Sprintf("Kubernetes: %s runs %s, the model %s: refused, the version-skew policy allows one minor at a time; set the model to the latest %s.x release first, upgrade, then to %s",
				who, have, want, next, want))
		default:
			notes = append(notes, fmt.Sprintf("Kubernetes: %s runs %s, the model %s: upgrade the control plane, then the kubelets, with `talosctl upgrade-k8s -n %s --to %s`; deploy does not upgrade Kubernetes yet",
				who, have, want, firstControlPlaneIP(cluster), want))
		}
	}
	return notes, nil
}

func firstControlPlaneIP(cluster *model.Cluster) string {
	if cps := cluster.ControlPlanes(); len(cps) > 0 {
		return cps[0].IP.String()
	}
	return "<control plane>"
}
