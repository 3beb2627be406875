package synthtest

import (
	"bytes"
	"errors"
	"io"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/funoffshore/homelab/synth"
)

// Pod is one end of a connection between pods: its namespace and labels.
type Pod struct {
	Namespace string
	Labels    map[string]string
}

// Policies are the NetworkPolicies of a synthesized tree, evaluated the
// way a CNI enforces them (kube-network-policies, Calico, Cilium): a pod
// selected by a policy of a direction accepts only what a rule of one of
// those policies allows, and a connection needs both the source's egress
// and the destination's ingress.
type Policies []networkingv1.NetworkPolicy

// NetworkPolicies decodes every NetworkPolicy in files.
func NetworkPolicies(t testing.TB, files synth.Files) Policies {
	t.Helper()
	var out Policies
	for _, p := range files.Paths() {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(files[p]), 4096)
		for {
			var np networkingv1.NetworkPolicy
			err := dec.Decode(&np)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if np.Kind == "NetworkPolicy" {
				out = append(out, np)
			}
		}
	}
	return out
}

// Allows reports whether from may connect to port/proto of to.
func (ps Policies) Allows(from, to Pod, port int32, proto corev1.Protocol) bool {
	return ps.side(from, to, port, proto, true) && ps.side(to, from, port, proto, false)
}

// side evaluates the policies selecting pod in one direction against the
// other end.
func (ps Policies) side(pod, other Pod, port int32, proto corev1.Protocol, egress bool) bool {
	want := networkingv1.PolicyTypeIngress
	if egress {
		want = networkingv1.PolicyTypeEgress
	}
	isolated := false
	for _, p := range ps {
		if p.Namespace != pod.Namespace || !selects(&p.Spec.PodSelector, pod.Labels) || !hasType(p, want) {
			continue
		}
		isolated = true
		if egress {
			for _, r := range p.Spec.Egress {
				if PortsAdmit(r.Ports, port, proto) && peersMatch(r.To, p.Namespace, other) {
					return true
				}
			}
		} else {
			for _, r := range p.Spec.Ingress {
				if PortsAdmit(r.Ports, port, proto) && peersMatch(r.From, p.Namespace, other) {
					return true
				}
			}
		}
	}
	return !isolated
}

func hasType(p networkingv1.NetworkPolicy, want networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		// The API server's default: Ingress, and Egress with egress rules.
		return want == networkingv1.PolicyTypeIngress || len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		if t == want {
			return true
		}
	}
	return false
}

// peersMatch reports whether a rule's peers admit other (no peers: every
// source). Only pods are evaluated: ipBlocks never match pod traffic.
func peersMatch(peers []networkingv1.NetworkPolicyPeer, policyNS string, other Pod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, pe := range peers {
		if pe.IPBlock != nil {
			continue
		}
		nsOK := other.Namespace == policyNS
		if pe.NamespaceSelector != nil {
			// A namespace's labels here are the one Kubernetes sets on each.
			nsOK = selects(pe.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": other.Namespace})
		}
		if nsOK && (pe.PodSelector == nil || selects(pe.PodSelector, other.Labels)) {
			return true
		}
	}
	return false
}

func selects(sel *metav1.LabelSelector, set map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(set))
}

// PortsAdmit reports whether a rule's ports admit port/proto: no ports
// admit every port; a port without a number every port of its protocol;
// EndPort makes a range. Named ports are not resolved (they match no
// number).
func PortsAdmit(ports []networkingv1.NetworkPolicyPort, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		switch {
		case pp != proto:
		case p.Port == nil, p.Port.IntVal == port, p.EndPort != nil && port >= p.Port.IntVal && port <= *p.EndPort:
			return true
		}
	}
	return false
}
