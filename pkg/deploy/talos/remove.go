package talos

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/cosi-project/runtime/pkg/safe"
	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/resources/network"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"

	model "github.com/funoffshore/homelab/constructs/talos"
)

// Removal is a node the cluster runs (a Kubernetes Node or an etcd
// member) that the model no longer has. Apply removes it as an operator
// would by hand: drain it (when it is Ready), reset its Talos install
// (gracefully, so a control plane leaves etcd first; the machine wipes
// itself and powers off, so its kubelet cannot register it again), or,
// when it no longer answers, remove its etcd member through a control
// plane of the model; then delete its Kubernetes Node. Its VM goes only
// with deploy --prune, after this.
type Removal struct {
	Hostname string
	// ControlPlane is set for a Node with the control-plane role or an
	// etcd member.
	ControlPlane bool
	// Address is the Node's InternalIP (invalid when only etcd knows it,
	// or when it is a model node's: a kubelet reports its own address,
	// and anyone with a worker's bootstrap token can register a Node).
	Address netip.Addr
	// Claimed is the model node whose address the Node reported, if any.
	Claimed string
	// Member is its etcd member ID (0: none); Node says Kubernetes has it,
	// Ready whether it is Ready there.
	Member      uint64
	Node, Ready bool
}

func (r Removal) String() string {
	var steps []string
	if r.Ready {
		steps = append(steps, "drain")
	}
	at := "at " + r.Address.String()
	if !r.Address.IsValid() {
		at = "at no address"
	}
	switch {
	case r.Claimed != "":
		steps = append(steps, fmt.Sprintf("no reset: its Node reports %s's address, so what answers there is not it", r.Claimed))
	case r.Member != 0:
		steps = append(steps, fmt.Sprintf("leave etcd (graceful reset of the machine %s, once it proves it runs as %s; removed by member ID if it does not answer)", at, r.Hostname), "wipe")
	default:
		steps = append(steps, fmt.Sprintf("reset the machine %s once it proves it runs as %s (wipe, power off)", at, r.Hostname))
	}
	if r.Node {
		steps = append(steps, "delete its Kubernetes Node")
	}
	role := "worker"
	if r.ControlPlane {
		role = "control plane"
	}
	return fmt.Sprintf("%s: remove the %s (not in the model): %s; one node at a time; its VM goes with --prune", r.Hostname, role, strings.Join(steps, ", "))
}

// node is the model-like node the deployer reaches the removed node as.
func (r Removal) node() *model.Node {
	role := model.Worker
	if r.ControlPlane {
		role = model.ControlPlane
	}
	return &model.Node{Hostname: r.Hostname, IP: r.Address, Role: role}
}

// ErrNotTheNode is a machine that is not the node deploy meant to act on.
var ErrNotTheNode = errors.New("the machine is not the node")

// planRemovals finds the Kubernetes Nodes and etcd members whose names
// the model does not have.
func (d *deployer) planRemovals(ctx context.Context) ([]Removal, error) {
	known := map[string]bool{}
	owner := map[netip.Addr]string{}
	for _, n := range d.cluster.Nodes() {
		known[n.Hostname] = true
		owner[n.IP] = n.Hostname
	}
	found := map[string]*Removal{}
	members, err := d.etcdMembers(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if !known[m.Hostname] {
			found[m.Hostname] = &Removal{Hostname: m.Hostname, ControlPlane: true, Member: m.Id}
		}
	}
	if d.opts.Kube != nil {
		kc, err := d.opts.Kube(ctx)
		if err != nil {
			return nil, fmt.Errorf("reaching the Kubernetes API to compare its nodes with the model: %w", err)
		}
		var nodes corev1.NodeList
		if err := kc.List(ctx, &nodes); err != nil {
			return nil, fmt.Errorf("listing the Kubernetes nodes: %w", err)
		}
		for _, n := range nodes.Items {
			if known[n.Name] {
				continue
			}
			r := found[n.Name]
			if r == nil {
				r = &Removal{Hostname: n.Name}
				found[n.Name] = r
			}
			_, cp := n.Labels["node-role.kubernetes.io/control-plane"]
			r.ControlPlane = r.ControlPlane || cp
			r.Node = true
			for _, c := range n.Status.Conditions {
				r.Ready = r.Ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
			}
			for _, a := range n.Status.Addresses {
				if ip, err := netip.ParseAddr(a.Address); err == nil && a.Type == corev1.NodeInternalIP && !r.Address.IsValid() {
					r.Address = ip
				}
			}
		}
	}
	var out []Removal
	for _, r := range found {
		if m, ok := owner[r.Address]; ok {
			r.Claimed, r.Address = m, netip.Addr{}
		}
		out = append(out, *r)
	}
	// Workers first: the control planes go last, one at a time.
	slices.SortFunc(out, func(a, b Removal) int {
		if a.ControlPlane != b.ControlPlane {
			if a.ControlPlane {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Hostname, b.Hostname)
	})
	return out, nil
}

// etcdMembers lists etcd's members through the first control plane of the
// model that runs it.
func (d *deployer) etcdMembers(ctx context.Context) ([]*machine.EtcdMember, error) {
	var errs []error
	for _, n := range d.cluster.ControlPlanes() {
		c, err := d.secure(ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp, err := c.EtcdMemberList(ctx, &machine.EtcdMemberListRequest{})
		c.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Hostname, err))
			continue
		}
		var out []*machine.EtcdMember
		for _, m := range resp.GetMessages() {
			out = append(out, m.GetMembers()...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("listing the etcd members: no control plane of the model answers: %w", errors.Join(errs...))
}

// remove carries the removals out one at a time; the first failure stops
// it, naming what is left.
func (d *deployer) remove(ctx context.Context, rs []Removal) error {
	for i, r := range rs {
		if err := d.removeNode(ctx, r); err != nil {
			var left []string
			for _, later := range rs[i+1:] {
				left = append(left, later.Hostname)
			}
			return errors.Join(fmt.Errorf("talos %s: removing it: %w", r.Hostname, err),
				fmt.Errorf("stopped there; not yet removed: %s; fix the cause and run deploy again to resume", orNone(left)))
		}
	}
	return nil
}

func (d *deployer) removeNode(ctx context.Context, r Removal) error {
	if r.Member != 0 {
		// Never take a member away from an etcd that is not whole: the
		// model's control planes must all run it first.
		if err := d.etcdHealthy(ctx); err != nil {
			return fmt.Errorf("before leaving etcd: %w", err)
		}
	}
	if r.Ready {
		if err := d.drain(ctx, r.Hostname); err != nil {
			return err
		}
	}
	// A node that answers is reset; one that does not (a failed node
	// being replaced) is only taken out of etcd below.
	n := r.node()
	if r.Address.IsValid() && d.configured(ctx, n) {
		err := d.opts.Log.Record("talos", r.Hostname, "reset", func() error {
			c, err := d.secure(ctx, n)
			if err != nil {
				return err
			}
			defer c.Close()
			// The address came from the Node's status, which its kubelet
			// writes: reset only the machine that says, over mutual TLS,
			// that it is the node being removed.
			hs, err := safe.StateGet[*network.HostnameStatus](ctx, c.COSI, network.NewHostnameStatus(network.NamespaceName, network.HostnameID).Metadata())
			if err != nil {
				return fmt.Errorf("reading the hostname of the machine at %s: %w", r.Address, err)
			}
			if got := hs.TypedSpec().Hostname; got != r.Hostname {
				return fmt.Errorf("%w: the machine at %s runs as %q, not %s: not resetting it (the Node's address is what some kubelet reported)", ErrNotTheNode, r.Address, got, r.Hostname)
			}
			return c.ResetGeneric(ctx, &machine.ResetRequest{Graceful: true, Reboot: false})
		})
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	if r.Member != 0 {
		if err := d.leftEtcd(ctx, r); err != nil {
			return err
		}
	}
	if r.Node {
		err := d.opts.Log.Record("kubernetes", r.Hostname, "delete-node", func() error {
			kc, err := d.opts.Kube(ctx)
			if err != nil {
				return err
			}
			node := &corev1.Node{}
			node.Name = r.Hostname
			if err := kc.Delete(ctx, node); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("deleting the Kubernetes Node: %w", err)
		}
	}
	return nil
}

// leftEtcd makes sure member r is gone from etcd: a graceful reset took it
// out; a node that did not answer is removed by its member ID through a
// control plane of the model.
func (d *deployer) leftEtcd(ctx context.Context, r Removal) error {
	still := func() (bool, error) {
		members, err := d.etcdMembers(ctx)
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(members, func(m *machine.EtcdMember) bool { return m.Id == r.Member }), nil
	}
	in, err := still()
	if err != nil || !in {
		return err
	}
	err = d.opts.Log.Record("talos", r.Hostname, "etcd-remove-member", func() error {
		var errs []error
		for _, cp := range d.cluster.ControlPlanes() {
			c, err := d.secure(ctx, cp)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			err = c.EtcdRemoveMemberByID(ctx, &machine.EtcdRemoveMemberByIDRequest{MemberId: r.Member})
			c.Close()
			if err == nil {
				return nil
			}
			errs = append(errs, fmt.Errorf("through %s: %w", cp.Hostname, err))
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return fmt.Errorf("removing etcd member %x: %w", r.Member, err)
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, d.opts.Timeout, true, func(context.Context) (bool, error) {
		in, err := still()
		return err == nil && !in, nil
	})
}
