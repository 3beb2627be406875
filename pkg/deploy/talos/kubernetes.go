package talos

import (
	"cmp"
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

// KubernetesDrift compares the Kubernetes version the cluster reports
// with the model's: each node's kubelet (Node.status.nodeInfo.
// kubeletVersion) and each control plane's kube-apiserver (the version
// label Talos puts on its static pod). deploy.Plan asks it once the
// machine configs agree with the model (NewPlan plans the upgrade from
// the configs otherwise), so a difference here is a component that has
// not come back on its config's version: the note names it and where to
// look. A version the skew policy would not allow moving from is named as
// NewPlan's refusals are.
func KubernetesDrift(ctx context.Context, c client.Client, cluster *model.Cluster) ([]string, error) {
	want, err := version.ParseGeneric(cluster.KubernetesVersion)
	if err != nil {
		return nil, fmt.Errorf("the model's Kubernetes version %q: %w", cluster.KubernetesVersion, err)
	}
	type component struct{ name, node string }
	running := map[string][]component{} // version -> what runs it
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return nil, fmt.Errorf("reading the nodes' kubelet versions: %w", err)
	}
	for _, n := range nodes.Items {
		if v := n.Status.NodeInfo.KubeletVersion; v != "" {
			running[v] = append(running[v], component{"kubelet", n.Name})
		}
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace("kube-system"), client.MatchingLabels{"k8s-app": "kube-apiserver"}); err != nil {
		return nil, fmt.Errorf("reading the API servers' versions: %w", err)
	}
	for _, p := range pods.Items {
		if v := p.Labels["app.kubernetes.io/version"]; v != "" {
			running[v] = append(running[v], component{"kube-apiserver", p.Spec.NodeName})
		}
	}
	ips := map[string]string{}
	for _, n := range cluster.Nodes() {
		ips[n.Hostname] = n.IP.String()
	}
	var notes []string
	for _, tag := range slices.Sorted(maps.Keys(running)) {
		var who, look []string
		for _, c := range running[tag] {
			who = append(who, c.name+" on "+c.node)
			if c.name == "kubelet" {
				look = append(look, fmt.Sprintf("`talosctl -n %s service kubelet`", cmp.Or(ips[c.node], c.node)))
			} else {
				look = append(look, fmt.Sprintf("`talosctl -n %s get staticpodstatus`", cmp.Or(ips[c.node], c.node)))
			}
		}
		have, err := version.ParseGeneric(tag)
		if err == nil && have.EqualTo(want) {
			continue
		}
		if why := skew(strings.Join(who, ", "), tag, want); why != "" {
			notes = append(notes, why)
			continue
		}
		notes = append(notes, fmt.Sprintf("Kubernetes: %s reports %s although the machine config names the model's %s: it has not come back on it; see %s",
			strings.Join(who, ", "), have, want, strings.Join(look, ", ")))
	}
	return notes, nil
}
