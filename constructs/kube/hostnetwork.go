package kube

import (
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/funoffshore/homelab/constructs/core"
)

// hostNetworkPolicies refuses a NetworkPolicy that selects pods on the
// host network: those the tree renders itself and those its parts declare
// (core.HostNetworkPods, from charts). Such a pod's IP is its node's, and
// kube-network-policies v1.1.0, which Talos v1.13.9 enables for flannel,
// then manages the node's own address
// (pkg/networkpolicy/networkpolicy.go:163-183 has no hostNetwork filter;
// v1.1.1 adds it), so every packet from or to the node's address goes
// through its engine and is judged by the policies of the pods it meets.
func hostNetworkPolicies(t *core.Tree) []error {
	type hostPods struct {
		name, namespace string
		labels          map[string]string
	}
	var pods []hostPods
	for _, d := range core.HostNetwork.Of(t).All() {
		pods = append(pods, hostPods{d.Name, d.Namespace, d.Labels})
	}
	var policies []*Object
	for _, o := range t.Objects() {
		ko, ok := o.(*Object)
		if !ok {
			continue
		}
		if _, ok := ko.typed.(*networkingv1.NetworkPolicy); ok {
			policies = append(policies, ko)
		}
		if spec := podSpecOf(ko.typed); spec != nil && spec.HostNetwork {
			pods = append(pods, hostPods{ko.typed.GetName(), ko.typed.GetNamespace(), podLabels(ko.typed)})
		}
	}
	var errs []error
	for _, o := range policies {
		np := o.typed.(*networkingv1.NetworkPolicy)
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			continue // the API server's dry run names a malformed selector
		}
		var hit []string
		for _, p := range pods {
			if p.namespace == np.Namespace && sel.Matches(labels.Set(p.labels)) {
				hit = append(hit, p.name)
			}
		}
		if len(hit) > 0 {
			slices.Sort(hit)
			errs = append(errs, core.Errorf(o.info.Path(),
				"select only pod-network pods: security.PodNetworkPods(), or a selector requiring that "+core.HostNetworkLabel+" does not exist",
				"NetworkPolicy %q selects pods on the host network (%s in %s): their IP is the node's, so the node's own traffic would be judged by this policy",
				np.Name, strings.Join(hit, ", "), np.Namespace))
		}
	}
	return errs
}
