package talos

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	machineapi "github.com/siderolabs/talos/pkg/machinery/api/machine"
	talosclient "github.com/siderolabs/talos/pkg/machinery/client"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	model "github.com/funoffshore/homelab/constructs/talos"
)

// The checks of `talosctl health` the gates run, in its order, each
// encoded once from Talos v1.13.9's pkg/cluster/check (talosctl's code
// lives in the talos module, which does not build from the module proxy
// here: its github.com/siderolabs/go-kubernetes is not served):
//   - etcd: the member list is the same on every control plane
//     (EtcdConsistentAssertion, etcd.go:25-91) and its members are
//     control planes (EtcdControlPlaneNodesAssertion, etcd.go:94-131);
//   - every node of the model has a Ready Node (K8sAllNodesReadyAssertion,
//     kubernetes.go:216-246);
//   - the control plane's components: every control plane of the model
//     has a Node labelled as one, and kube-apiserver, kube-scheduler and
//     kube-controller-manager each have as many pods (label k8s-app) as
//     there are such Nodes, all Ready (K8sFullControlPlaneAssertion,
//     kubernetes.go:83-213);
//   - kube-proxy and CoreDNS, when their DaemonSet (k8s-app=kube-proxy)
//     or Deployment (k8s-app=kube-dns) exists: as many Ready pods as the
//     DaemonSet's desiredNumberScheduled or the Deployment's replicas, and
//     none not Ready (default.go:38-75, K8sPodReadyAssertion at
//     kubernetes.go:280-359, DaemonSetPresent and DeploymentPresent at
//     362-403).

// kubernetesHealthy waits until the cluster passes the Kubernetes checks
// of `talosctl health` (above) before and after each node goes down;
// without Options.Kube (no cluster yet) it checks nothing. The error
// names the first check that fails and what it saw.
func (d *deployer) kubernetesHealthy(ctx context.Context) error {
	if d.opts.Kube == nil {
		return nil
	}
	kc, err := d.opts.Kube(ctx)
	if err != nil {
		return err
	}
	last := "the Kubernetes API did not answer"
	// A few polls a second: the client's rate limit is never what the
	// wait runs into.
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, d.opts.Timeout, true, func(ctx context.Context) (bool, error) {
		why, err := d.kubernetesProblem(ctx, kc)
		if err != nil {
			return false, nil // keep the last thing seen
		}
		last = why
		return why == "", nil
	})
	if err != nil {
		return fmt.Errorf("%s after %s; the cluster must pass talosctl health's checks before a node goes down, and again after it comes back: fix it, or take a dead node out of the model first", last, d.opts.Timeout)
	}
	return nil
}

// kubernetesProblem returns the first check the cluster fails, or "".
func (d *deployer) kubernetesProblem(ctx context.Context, kc client.Client) (string, error) {
	var nodeList corev1.NodeList
	if err := kc.List(ctx, &nodeList); err != nil {
		return "", err
	}
	nodes := map[string]corev1.Node{}
	for _, n := range nodeList.Items {
		nodes[n.Name] = n
	}
	for _, n := range d.cluster.Nodes() {
		node, ok := nodes[n.Hostname]
		if !ok {
			return fmt.Sprintf("%s has no Kubernetes Node", n.Hostname), nil
		}
		ready, reason := false, "no Ready condition"
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				ready, reason = c.Status == corev1.ConditionTrue, string(c.Status)+": "+c.Reason
			}
		}
		if !ready {
			return fmt.Sprintf("the Kubernetes Node %s is not Ready (%s)", n.Hostname, reason), nil
		}
	}
	controlPlanes := 0
	for _, n := range nodeList.Items {
		if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; ok {
			controlPlanes++
		}
	}
	for _, n := range d.cluster.ControlPlanes() {
		if _, ok := nodes[n.Hostname].Labels["node-role.kubernetes.io/control-plane"]; !ok {
			return fmt.Sprintf("the Kubernetes Node %s is not labelled node-role.kubernetes.io/control-plane", n.Hostname), nil
		}
	}
	var pods corev1.PodList
	if err := kc.List(ctx, &pods, client.InNamespace("kube-system")); err != nil {
		return "", err
	}
	for _, app := range []string{"kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
		var of, notReady []string
		for _, p := range pods.Items {
			if p.Labels["k8s-app"] != app {
				continue
			}
			if _, checkpoint := p.Annotations["checkpointer.alpha.coreos.com/checkpoint-of"]; checkpoint {
				continue
			}
			of = append(of, p.Name)
			if c := podReady(p); c != nil && c.Status != corev1.ConditionTrue {
				notReady = append(notReady, p.Name)
			}
		}
		if len(of) != controlPlanes {
			return fmt.Sprintf("%d %s pods for %d control planes (%s)", len(of), app, controlPlanes, orNone(of)), nil
		}
		if len(notReady) > 0 {
			return fmt.Sprintf("%s pods not Ready: %s", app, strings.Join(notReady, ", ")), nil
		}
	}
	var dss appsv1.DaemonSetList
	if err := kc.List(ctx, &dss, client.InNamespace("kube-system"), client.MatchingLabels{"k8s-app": "kube-proxy"}); err != nil {
		return "", err
	}
	if len(dss.Items) > 0 {
		if why := podsReady(pods.Items, "k8s-app=kube-proxy", int(dss.Items[0].Status.DesiredNumberScheduled)); why != "" {
			return "kube-proxy: " + why, nil
		}
	}
	var deps appsv1.DeploymentList
	if err := kc.List(ctx, &deps, client.InNamespace("kube-system"), client.MatchingLabels{"k8s-app": "kube-dns"}); err != nil {
		return "", err
	}
	if len(deps.Items) > 0 {
		replicas := 1
		if r := deps.Items[0].Spec.Replicas; r != nil {
			replicas = int(*r)
		}
		if why := podsReady(pods.Items, "k8s-app=kube-dns", replicas); why != "" {
			return "CoreDNS: " + why, nil
		}
	}
	return "", nil
}

// podsReady is K8sPodReadyAssertion over the pods matching selector:
// deleted, failed and completed pods do not count; there must be Ready
// ones, none not Ready, and as many Ready as replicas.
func podsReady(pods []corev1.Pod, selector string, replicas int) string {
	sel := labels.SelectorFromSet(mustLabels(selector))
	var ready, notReady []string
	found := false
	for _, p := range pods {
		if !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		found = true
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodFailed || allTerminated(p) {
			continue
		}
		if c := podReady(p); c != nil && c.Status == corev1.ConditionTrue {
			ready = append(ready, p.Name)
		} else {
			notReady = append(notReady, p.Name)
		}
	}
	switch {
	case !found:
		return fmt.Sprintf("no pods with %s", selector)
	case len(ready) == 0:
		return fmt.Sprintf("no Ready pods with %s", selector)
	case len(notReady) > 0:
		slices.Sort(notReady)
		return "pods not Ready: " + strings.Join(notReady, ", ")
	case len(ready) != replicas:
		return fmt.Sprintf("%d Ready pods, %d expected", len(ready), replicas)
	}
	return ""
}

func mustLabels(selector string) labels.Set {
	k, v, _ := strings.Cut(selector, "=")
	return labels.Set{k: v}
}

// allTerminated: every container of p has terminated (`kubectl get pods`
// says Completed), which a graceful kubelet shutdown leaves behind.
func allTerminated(p corev1.Pod) bool {
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Terminated == nil {
			return false
		}
	}
	return true
}

func podReady(p corev1.Pod) *corev1.PodCondition {
	for i, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// etcdConsistent checks the etcd member list as `talosctl health` does:
// the same members (hostname, ID, learner) on every control plane, and
// every member one of the model's control planes (or a node this deploy
// removes, at its end).
func (d *deployer) etcdConsistent(ctx context.Context) error {
	type member struct {
		hostname string
		id       uint64
		learner  bool
	}
	cps := d.cluster.ControlPlanes()
	var first []member
	var firstOn string
	for _, n := range cps {
		members, err := onNode(ctx, d, n, func(c *talosclient.Client) ([]member, error) {
			resp, err := c.EtcdMemberList(ctx, &machineapi.EtcdMemberListRequest{})
			if err != nil {
				return nil, err
			}
			var out []member
			for _, m := range resp.GetMessages()[0].GetMembers() {
				out = append(out, member{m.GetHostname(), m.GetId(), m.GetIsLearner()})
			}
			slices.SortFunc(out, func(a, b member) int { return cmp.Compare(a.id, b.id) })
			return out, nil
		})
		if err != nil {
			return fmt.Errorf("etcd member list on %s: %w", n.Hostname, err)
		}
		for _, m := range members {
			if !slices.ContainsFunc(cps, func(cp *model.Node) bool { return cp.Hostname == m.hostname }) && !slices.Contains(d.leaving, m.hostname) {
				// Waiting does not take it away: no retry.
				return &strayMember{fmt.Errorf("etcd on %s lists member %s (%x), which is not a control plane of the model: remove it (`talosctl etcd remove-member`) or add it to the model", n.Hostname, m.hostname, m.id)}
			}
		}
		if firstOn == "" {
			first, firstOn = members, n.Hostname
			continue
		}
		if !slices.Equal(first, members) {
			return fmt.Errorf("etcd's members differ between %s (%s) and %s (%s)", firstOn, memberNames(first, func(m member) string { return m.hostname }), n.Hostname, memberNames(members, func(m member) string { return m.hostname }))
		}
	}
	return nil
}

// strayMember is an etcd member the model does not have: a finding the
// gate reports at once, where others (a node answering slowly, members
// still joining) are waited out.
type strayMember struct{ error }

func (s *strayMember) Unwrap() error { return s.error }

func memberNames[T any](ms []T, name func(T) string) string {
	var out []string
	for _, m := range ms {
		out = append(out, name(m))
	}
	return orNone(out)
}
