// Package netpol enforces NetworkPolicies the way a Talos node with
// flannel and kube-network-policies does. kube-network-policies' own
// engine, at the version the pinned Talos bundles (machinery's
// constants.KubeNetworkPoliciesVersion; the test of this package checks
// go.mod requires that version), decides every packet handed to it, and
// says which addresses it manages. Which packets reach the engine, with
// which addresses, is the datapath around it: netfilter hooks, flannel's
// and kube-proxy's masquerading, conntrack. That part cannot run here and
// is encoded once, in datapath.go, each rule citing its source.
package netpol

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/kube-network-policies/pkg/api"
	"sigs.k8s.io/kube-network-policies/pkg/network"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
	"sigs.k8s.io/kube-network-policies/pkg/podinfo"
)

// Node is a Kubernetes node.
type Node struct {
	Name string
	// IP is the node's address (its InternalIP).
	IP netip.Addr
	// PodSubnet is the node's share of the cluster CIDR (its
	// spec.podCIDR). flannel gives flannel.1 its first address and the
	// cni0 bridge the second.
	PodSubnet netip.Prefix
}

func (n Node) flannelAddr() netip.Addr { return n.PodSubnet.Addr() }
func (n Node) bridgeAddr() netip.Addr  { return n.PodSubnet.Addr().Next() }

// Cluster is what the nodes' policy engines see.
type Cluster struct {
	// ClusterCIDR is the pod network (kube-proxy's --cluster-cidr,
	// flannel's network).
	ClusterCIDR netip.Prefix
	Nodes       []Node
	// Namespaces with their labels.
	Namespaces []*corev1.Namespace
	// Pods with spec.nodeName, spec.hostNetwork and status.podIPs set
	// (a hostNetwork pod's IP is its node's).
	Pods     []*corev1.Pod
	Policies []*networkingv1.NetworkPolicy
}

// Enforcer holds one kube-network-policies engine per node.
type Enforcer struct {
	c       Cluster
	engines map[string]*networkpolicy.PolicyEngine
	managed map[string]map[netip.Addr]bool
}

// New starts one policy engine per node over the cluster's objects, as
// kube-network-policies' standard command wires it with NRI off
// (cmd/kube-network-policies/standard/main.go:106-172): an informer IP
// resolver, the informer pod info provider and the standard
// NetworkPolicy evaluator for the node.
func New(c Cluster) (*Enforcer, error) {
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	nsInformer := factory.Core().V1().Namespaces()
	npInformer := factory.Networking().V1().NetworkPolicies()
	podInformer := factory.Core().V1().Pods()
	resolver, err := podinfo.NewInformerResolver(podInformer.Informer())
	if err != nil {
		return nil, err
	}
	for _, ns := range c.Namespaces {
		if err := nsInformer.Informer().GetStore().Add(ns); err != nil {
			return nil, err
		}
	}
	e := &Enforcer{c: c, engines: map[string]*networkpolicy.PolicyEngine{}, managed: map[string]map[netip.Addr]bool{}}
	for _, p := range c.Pods {
		if err := podInformer.Informer().GetIndexer().Add(p); err != nil {
			return nil, err
		}
	}
	for _, np := range c.Policies {
		if err := npInformer.Informer().GetStore().Add(defaulted(np)); err != nil {
			return nil, err
		}
	}
	provider := podinfo.NewInformerProvider(podInformer, nsInformer, nil, []podinfo.IPResolver{resolver})
	for _, n := range c.Nodes {
		engine := networkpolicy.NewPolicyEngine(provider, []api.PolicyEvaluator{
			networkpolicy.NewStandardNetworkPolicy(n.Name, nsInformer, podInformer, npInformer),
		})
		ips, divertAll, err := engine.GetManagedIPs(context.Background())
		if err != nil {
			return nil, err
		}
		if divertAll {
			return nil, fmt.Errorf("node %s: the engine diverts all traffic, which the datapath here does not encode", n.Name)
		}
		set := map[netip.Addr]bool{}
		for _, ip := range ips {
			set[ip] = true
		}
		e.engines[n.Name], e.managed[n.Name] = engine, set
	}
	return e, nil
}

// Managed returns whether the node's engine manages ip: packets from or
// to it are queued to the engine (its podips sets).
func (e *Enforcer) Managed(node string, ip netip.Addr) bool { return e.managed[node][ip] }

// evaluate hands one packet to the node's engine.
func (e *Enforcer) evaluate(node string, p packet) (bool, error) {
	return e.engines[node].EvaluatePacket(context.Background(), &network.Packet{
		Family: corev1.IPv4Protocol, SrcIP: net.IP(p.src.AsSlice()), DstIP: net.IP(p.dst.AsSlice()),
		SrcPort: p.srcPort, DstPort: p.dstPort, Proto: p.proto,
	})
}

func (e *Enforcer) node(name string) (Node, bool) {
	for _, n := range e.c.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// EngineVersion is the kube-network-policies module this package runs;
// it must equal the version the pinned Talos enables for flannel
// (constants.KubeNetworkPoliciesVersion), which the package's test checks.
const EngineVersion = "v1.1.0"

// defaulted is a policy as the API server stores it, which is what the
// engine reads from its informer: the defaults of
// k8s.io/kubernetes pkg/apis/networking/v1/defaults.go
// (SetDefaults_NetworkPolicyPort: protocol TCP; SetDefaults_NetworkPolicy:
// policyTypes Ingress, plus Egress when there are egress rules). The
// engine evaluates only the listed policy types and dereferences every
// port's protocol.
func defaulted(np *networkingv1.NetworkPolicy) *networkingv1.NetworkPolicy {
	np = np.DeepCopy()
	tcp := corev1.ProtocolTCP
	for i := range np.Spec.Ingress {
		for j := range np.Spec.Ingress[i].Ports {
			if np.Spec.Ingress[i].Ports[j].Protocol == nil {
				np.Spec.Ingress[i].Ports[j].Protocol = &tcp
			}
		}
	}
	for i := range np.Spec.Egress {
		for j := range np.Spec.Egress[i].Ports {
			if np.Spec.Egress[i].Ports[j].Protocol == nil {
				np.Spec.Egress[i].Ports[j].Protocol = &tcp
			}
		}
	}
	if len(np.Spec.PolicyTypes) == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
	return np
}
