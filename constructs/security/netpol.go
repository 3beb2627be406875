package security

import (
	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// Peer is the other end of an allowed flow.
type Peer struct {
	// Namespace selects pods of that namespace ("" with no CIDR: any
	// namespace); SameNamespace selects the policy's own namespace.
	Namespace     string
	SameNamespace bool
	// AnyNamespace selects every pod in the cluster.
	AnyNamespace bool
	// CIDR selects addresses outside the pod network (nodes, the Internet).
	CIDR string
	// Ports restricts the flow; empty allows every port.
	Ports []Port
}

// Port is a protocol and port number.
type Port struct {
	Protocol corev1.Protocol
	Port     int32
}

// TCP returns a TCP port.
func TCP(p int32) Port { return Port{Protocol: corev1.ProtocolTCP, Port: p} }

// UDP returns a UDP port.
func UDP(p int32) Port { return Port{Protocol: corev1.ProtocolUDP, Port: p} }

// DNS returns the flow every pod needs: to the cluster DNS in kube-system.
func DNS() Peer { return Peer{Namespace: "kube-system", Ports: []Port{UDP(53), TCP(53)}} }

// IsolationProps configures Isolation.
type IsolationProps struct {
	// Namespace to isolate. Required.
	Namespace string
	// Ingress and Egress list the allowed flows into and out of the
	// namespace's pods; everything else is denied.
	Ingress, Egress []Peer
}

// NewIsolation adds a default-deny policy for the namespace and one policy
// with its allow lists.
func NewIsolation(scope constructs.Construct, id string, props *IsolationProps) {
	if props == nil {
		props = &IsolationProps{}
	}
	g := kube.NewGroup(scope, id)
	ns := props.Namespace
	if ns == "" {
		g.Info().Tree().AddValidation(func() []error {
			return []error{core.Errorf(g.Info().Path(), "set IsolationProps.Namespace to the namespace to isolate", "the isolation has no namespace")}
		})
	}
	// A NetworkPolicy does nothing unless the CNI enforces it.
	g.Info().Tree().AddNodeNeed(core.NodeNeed{Source: g.Info().Path(), Roles: core.AllNodes, NetworkPolicies: true})
	kube.NewObject(g, "default-deny", &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	})
	allow := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-list", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
	var bad []Peer
	for _, p := range props.Ingress {
		if from := peers(p); from != nil {
			allow.Spec.Ingress = append(allow.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: from, Ports: ports(p)})
		} else {
			bad = append(bad, p)
		}
	}
	for _, p := range props.Egress {
		if to := peers(p); to != nil {
			allow.Spec.Egress = append(allow.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: to, Ports: ports(p)})
		} else {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		g.Info().Tree().AddValidation(func() []error {
			var errs []error
			for _, p := range bad {
				errs = append(errs, core.Errorf(g.Info().Path(), "set one of Peer.Namespace, SameNamespace, AnyNamespace or CIDR",
					"peer %+v selects nothing (an empty peer would allow everything)", p))
			}
			return errs
		})
	}
	kube.NewObject(g, "allow-list", allow)
}

func peers(p Peer) []networkingv1.NetworkPolicyPeer {
	switch {
	case p.CIDR != "":
		return []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: p.CIDR}}}
	case p.SameNamespace:
		return []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	case p.AnyNamespace:
		return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}
	case p.Namespace != "":
		return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"kubernetes.io/metadata.name": p.Namespace},
		}}}
	}
	return nil
}

func ports(p Peer) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, pt := range p.Ports {
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: ptr.To(pt.Protocol), Port: ptr.To(intstr.FromInt32(pt.Port))})
	}
	return out
}
