package security

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// Peer is the other end of an allowed flow, made by Namespace,
// OwnNamespace, AllNamespaces, Pods or CIDR and narrowed to ports with On.
// The zero Peer selects nothing and is refused by validation: a
// NetworkPolicy peer without selectors would allow every source.
type Peer struct {
	namespace string
	own, all  bool
	except    []string
	pods      map[string]string
	cidr      string
	// prefix is a parsed network (Prefix); parsed marks a peer made by
	// Prefix, whose invalid prefix makes no rule.
	prefix netip.Prefix
	parsed bool
	// exceptNets are networks a Prefix peer leaves out.
	exceptNets []netip.Prefix
	ports      []Port
}

// Namespace selects every pod of the namespace name.
func Namespace(name string) Peer { return Peer{namespace: name} }

// OwnNamespace selects every pod of the policy's own namespace.
func OwnNamespace() Peer { return Peer{own: true} }

// AllNamespaces selects every pod in the cluster.
func AllNamespaces() Peer { return Peer{all: true} }

// AllNamespacesExcept selects every pod in the cluster outside the
// namespaces named: a part that must reach namespaces the tree does not
// know in advance (the backends of Ingresses, scrape targets) while the
// platform's internal namespaces stay out of its reach.
func AllNamespacesExcept(names ...string) Peer {
	return Peer{all: true, except: slices.Sorted(slices.Values(names))}
}

// Pods selects the pods with labels in namespace ("" is the policy's own).
func Pods(namespace string, labels map[string]string) Peer {
	return Peer{namespace: namespace, own: namespace == "", pods: maps.Clone(labels)}
}

// CIDR selects addresses outside the pod network (nodes, the Internet),
// such as "10.0.0.0/24" or "0.0.0.0/0"; validation parses it
// (core.ParsePrefix).
func CIDR(cidr string) Peer { return Peer{cidr: cidr} }

// Prefix selects the addresses of a network parsed already, such as a
// node subnet (talos.Cluster.Subnet). An invalid Prefix, the value of one
// that did not parse, makes no rule: where it was parsed, validation
// reports it.
func Prefix(p netip.Prefix) Peer { return Peer{prefix: p.Masked(), parsed: true} }

// Internet selects every IPv4 address outside the pod network: a CIDR
// 0.0.0.0/0 would also match every pod (kube-network-policies matches an
// ipBlock against pod addresses too), so a flow meant for the internet
// would reach any pod on its ports. An invalid podNetwork leaves nothing
// out (its error is reported where it was parsed).
func Internet(podNetwork netip.Prefix) Peer {
	p := Peer{prefix: netip.MustParsePrefix("0.0.0.0/0"), parsed: true}
	if podNetwork.IsValid() {
		p.exceptNets = []netip.Prefix{podNetwork.Masked()}
	}
	return p
}

// Ports returns the ports the peer is restricted to (none: every port).
func (p Peer) Ports() []Port { return slices.Clone(p.ports) }

// On returns the peer restricted to ports; a peer without ports allows
// every port.
func (p Peer) On(ports ...Port) Peer {
	p.ports = append(slices.Clone(p.ports), ports...)
	return p
}

// String describes the peer for messages ("namespace monitoring on TCP/9090").
func (p Peer) String() string {
	var s string
	switch {
	case p.parsed:
		s = "CIDR " + p.prefix.String()
		for _, e := range p.exceptNets {
			s += " except " + e.String()
		}
	case p.cidr != "":
		s = "CIDR " + p.cidr
	case len(p.pods) > 0 && p.own:
		s = "pods " + labels.SelectorFromSet(p.pods).String() + " of the own namespace"
	case len(p.pods) > 0:
		s = "pods " + labels.SelectorFromSet(p.pods).String() + " of namespace " + p.namespace
	case p.own:
		s = "the own namespace"
	case p.all && len(p.except) > 0:
		s = "every namespace but " + strings.Join(p.except, ", ")
	case p.all:
		s = "every namespace"
	case p.namespace != "":
		s = "namespace " + p.namespace
	default:
		s = "the zero Peer"
	}
	if len(p.ports) > 0 {
		ps := make([]string, len(p.ports))
		for i, pt := range p.ports {
			ps[i] = fmt.Sprintf("%s/%d", pt.Protocol, pt.Port)
		}
		s += " on " + strings.Join(ps, ", ")
	}
	return s
}

// problem says what is wrong with the peer, if anything.
func (p Peer) problem() string {
	switch {
	case p.cidr != "":
		if _, problem := core.ParsePrefix(p.cidr, "CIDR"); problem != nil {
			return problem.Problem + "; " + problem.Fix
		}
	case !p.own && !p.all && p.namespace == "":
		return "the zero Peer selects nothing (an empty NetworkPolicy peer would allow everything)"
	case p.namespace != "" || len(p.except) > 0:
		// The peer selects namespaces by their name label, which only a
		// valid namespace name (a DNS label) can carry.
		for _, name := range append([]string{p.namespace}, p.except...) {
			if name == "" {
				continue
			}
			if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
				return fmt.Sprintf("namespace %q is not a namespace name: %s", name, strings.Join(msgs, "; "))
			}
		}
	}
	return p.portsProblem()
}

// portsProblem says what is wrong with the peer's ports, if anything.
func (p Peer) portsProblem() string {
	for _, pt := range p.ports {
		if pt.Port < 1 || pt.Port > 65535 || (pt.Protocol != corev1.ProtocolTCP && pt.Protocol != corev1.ProtocolUDP && pt.Protocol != corev1.ProtocolSCTP) {
			return fmt.Sprintf("port %s/%d is no TCP, UDP or SCTP port in 1-65535", pt.Protocol, pt.Port)
		}
	}
	return ""
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
func DNS() Peer { return Namespace("kube-system").On(UDP(53), TCP(53)) }

// PodNetworkPods selects every pod of a namespace except those on the
// host network (core.HostNetworkLabel), which no policy may select.
func PodNetworkPods() metav1.LabelSelector {
	return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: core.HostNetworkLabel, Operator: metav1.LabelSelectorOpDoesNotExist}}}
}

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
	props = cmp.Or(props, &IsolationProps{})
	g := kube.NewGroup(scope, id)
	ns := props.Namespace
	if ns == "" {
		g.Info().Tree().AddValidation(func() []error {
			return []error{core.Errorf(g.Info().Path(), "set IsolationProps.Namespace to the namespace to isolate", "the isolation has no namespace")}
		})
	}
	// A NetworkPolicy does nothing unless the CNI enforces it.
	core.NodeNeeds.Of(g.Info().Tree()).Add(core.NodeNeed{Source: g.Info().Path(), Role: core.AllNodes, NetworkPolicies: true})
	kube.NewObject(g, "default-deny", &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: PodNetworkPods(),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	})
	in, out := rules(g.Info(), props.Ingress, props.Egress)
	// NetworkPolicies add up: a namespace-wide ingress rule would also
	// admit its sources into pods that admit only their own peers (a
	// PodPolicy, apps.App.AllowFrom), so the ingress allow list leaves
	// those pods out; the egress allow list covers every pod.
	if len(in) > 0 {
		ingress := PodNetworkPods()
		ingress.MatchExpressions = append(ingress.MatchExpressions, metav1.LabelSelectorRequirement{Key: OwnIngressLabel, Operator: metav1.LabelSelectorOpDoesNotExist})
		kube.NewObject(g, "allow-ingress", &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "allow-ingress", Namespace: ns},
			Spec:       networkingv1.NetworkPolicySpec{PodSelector: ingress, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, Ingress: in},
		})
	}
	if len(out) > 0 {
		kube.NewObject(g, "allow-egress", &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "allow-egress", Namespace: ns},
			Spec:       networkingv1.NetworkPolicySpec{PodSelector: PodNetworkPods(), PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, Egress: out},
		})
	}
}

// OwnIngressLabel marks pods whose ingress a PodPolicy of their own
// decides (apps.App.AllowFrom sets it on its pods): a namespace's
// Isolation admits nothing into them.
const OwnIngressLabel = "homelab.funoffshore.com/own-ingress"

// rules turns the peers into a policy's rules; a peer with a problem is
// left out of them and refused by validation.
func rules(at *core.Info, ingress, egress []Peer) ([]networkingv1.NetworkPolicyIngressRule, []networkingv1.NetworkPolicyEgressRule) {
	var in []networkingv1.NetworkPolicyIngressRule
	var out []networkingv1.NetworkPolicyEgressRule
	for _, p := range ingress {
		if checkPeer(at, "ingress", p) {
			in = append(in, networkingv1.NetworkPolicyIngressRule{From: p.selectors(), Ports: p.policyPorts()})
		}
	}
	for _, p := range egress {
		if checkPeer(at, "egress", p) {
			out = append(out, networkingv1.NetworkPolicyEgressRule{To: p.selectors(), Ports: p.policyPorts()})
		}
	}
	return in, out
}

// checkPeer reports whether p can be a rule's peer, and otherwise adds the
// validation error naming it.
func checkPeer(at *core.Info, dir string, p Peer) bool {
	if p.parsed {
		return p.prefix.IsValid() && p.portsProblem() == ""
	}
	msg := p.problem()
	if msg == "" {
		return true
	}
	at.Tree().AddValidation(func() []error {
		return []error{core.Errorf(at.Path(), "make each peer with security.Namespace, OwnNamespace, AllNamespaces, Pods or CIDR",
			"%s peer %s: %s", dir, p, msg)}
	})
	return false
}

// PodPolicyProps configures a PodPolicy.
type PodPolicyProps struct {
	// Name and Namespace of the NetworkPolicy. Required.
	Name, Namespace string
	// Pods are the labels of the pods the policy protects. Required: a
	// policy for every pod of a namespace is NewIsolation's.
	Pods map[string]string
	// EgressOnly makes a policy of AllowTo rules alone: it adds
	// destinations to the pods' egress and leaves their ingress to the
	// other policies (a policy of type Ingress would isolate it).
	EgressOnly bool
}

// PodPolicy admits into some pods only the peers allowed with Allow: once
// a NetworkPolicy selects a pod for ingress, the CNI drops every other
// connection to it. It is the policy behind apps.App.AllowFrom.
type PodPolicy struct {
	constructs.Construct
	info       *core.Info
	policy     *networkingv1.NetworkPolicy
	egressOnly bool
}

// NewPodPolicy adds a NetworkPolicy that admits nothing yet into the pods
// of props.Pods.
func NewPodPolicy(scope constructs.Construct, id string, props *PodPolicyProps) *PodPolicy {
	p := cmp.Or(props, &PodPolicyProps{})
	pp := &PodPolicy{policy: &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: maps.Clone(p.Pods)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{},
		},
	}}
	if p.EgressOnly {
		pp.policy.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		pp.policy.Spec.Ingress, pp.policy.Spec.Egress = nil, []networkingv1.NetworkPolicyEgressRule{}
		pp.egressOnly = true
	}
	pp.info = core.Init(pp, scope, id)
	t := pp.info.Tree()
	if len(p.Pods) == 0 {
		t.AddValidation(func() []error {
			return []error{core.Errorf(pp.info.Path(), "set PodPolicyProps.Pods to the labels of the pods to protect (NewIsolation protects a whole namespace)", "the policy selects no pods")}
		})
	}
	core.NodeNeeds.Of(t).Add(core.NodeNeed{Source: pp.info.Path(), Role: core.AllNodes, NetworkPolicies: true})
	kube.NewObject(pp, "policy", pp.policy)
	return pp
}

// Allow admits from into the pods (on from's ports; every port without).
func (pp *PodPolicy) Allow(from Peer) {
	if pp.egressOnly {
		path := pp.info.Path()
		pp.info.Tree().AddValidation(func() []error {
			return []error{core.Errorf(path, "admit ingress with a policy without EgressOnly", "an egress-only policy cannot admit %s", from)}
		})
		return
	}
	if checkPeer(pp.info, "ingress", from) {
		pp.policy.Spec.Ingress = append(pp.policy.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: from.selectors(), Ports: from.policyPorts()})
	}
}

// AllowTo lets the pods connect to to (on its ports; every port
// without); from the first call on, they connect to nothing else.
func (pp *PodPolicy) AllowTo(to Peer) {
	if !slices.Contains(pp.policy.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		pp.policy.Spec.PolicyTypes = append(pp.policy.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		pp.policy.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{}
	}
	if checkPeer(pp.info, "egress", to) {
		pp.policy.Spec.Egress = append(pp.policy.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: to.selectors(), Ports: to.policyPorts()})
	}
}

// Info returns the construct's place in the tree.
func (pp *PodPolicy) Info() *core.Info { return pp.info }

// ToString overrides the jsii method; it returns the construct path.
func (pp *PodPolicy) ToString() *string { return core.PathString(pp.info) }

func (p Peer) selectors() []networkingv1.NetworkPolicyPeer {
	var pods *metav1.LabelSelector
	if len(p.pods) > 0 {
		pods = &metav1.LabelSelector{MatchLabels: maps.Clone(p.pods)}
	}
	switch {
	case p.parsed:
		block := &networkingv1.IPBlock{CIDR: p.prefix.String()}
		for _, e := range p.exceptNets {
			block.Except = append(block.Except, e.String())
		}
		return []networkingv1.NetworkPolicyPeer{{IPBlock: block}}
	case p.cidr != "":
		return []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: p.cidr}}}
	case p.own:
		return []networkingv1.NetworkPolicyPeer{{PodSelector: cmp.Or(pods, &metav1.LabelSelector{})}}
	case p.all && len(p.except) > 0:
		return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: slices.Clone(p.except)}}}}}
	case p.all:
		return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}
	}
	return []networkingv1.NetworkPolicyPeer{{PodSelector: pods, NamespaceSelector: &metav1.LabelSelector{
		MatchLabels: map[string]string{"kubernetes.io/metadata.name": p.namespace},
	}}}
}

func (p Peer) policyPorts() []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, pt := range p.ports {
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: ptr.To(pt.Protocol), Port: ptr.To(intstr.FromInt32(pt.Port))})
	}
	return out
}
