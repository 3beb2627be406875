package talossim

import (
	"context"
	"hash/fnv"
	"maps"
	"slices"

	"github.com/cosi-project/runtime/pkg/state"
	"github.com/siderolabs/talos/pkg/machinery/api/common"
	machineapi "github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	configres "github.com/siderolabs/talos/pkg/machinery/resources/config"
	"github.com/siderolabs/talos/pkg/machinery/resources/k8s"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// etcdMember reports whether the node is a member of the cluster's etcd:
// a configured control plane, once etcd was bootstrapped somewhere, that
// has not left. The caller holds the lock.
func (n *Node) etcdMember() bool {
	return n.configured && n.role == machine.TypeControlPlane && !n.etcdLeft && (n.bootstrapped || anyBootstrapped(n.sim))
}

// memberID is the node's etcd member ID (stable per node name).
func (n *Node) memberID() uint64 {
	h := fnv.New64a()
	h.Write([]byte(n.Name))
	return h.Sum64()
}

// EtcdMember reports whether the node is an etcd member.
func (n *Node) EtcdMember() bool {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return n.etcdMember()
}

// Resets counts the Reset calls the node carried out.
func (n *Node) Resets() int {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return n.resets
}

// etcdCall checks a call of rpc to the node's etcd (mutual TLS, an
// injected failure, etcd running there) and returns with the lock held
// on success.
func (s *service) etcdCall(ctx context.Context, rpc string) error {
	if err := s.secure(ctx); err != nil {
		return err
	}
	if err := s.node.injected(rpc); err != nil {
		return err
	}
	s.node.sim.mu.Lock()
	if !s.node.etcdMember() {
		s.node.sim.mu.Unlock()
		return status.Error(codes.FailedPrecondition, "etcd is not running on this node")
	}
	return nil
}

// EtcdMemberList lists the members, as a control plane's etcd does.
func (s *service) EtcdMemberList(ctx context.Context, _ *machineapi.EtcdMemberListRequest) (*machineapi.EtcdMemberListResponse, error) {
	if err := s.etcdCall(ctx, "EtcdMemberList"); err != nil {
		return nil, err
	}
	n := s.node
	defer n.sim.mu.Unlock()
	var members []*machineapi.EtcdMember
	for _, name := range slices.Sorted(maps.Keys(n.sim.nodes)) {
		m := n.sim.nodes[name]
		if m.etcdMember() {
			members = append(members, &machineapi.EtcdMember{Id: m.memberID(), Hostname: hostnameOf(m.config, m.Addr)})
		}
	}
	members = append(members, n.sim.stray...)
	return &machineapi.EtcdMemberListResponse{Messages: []*machineapi.EtcdMembers{{
		Metadata: &common.Metadata{Hostname: n.Name}, Members: members,
	}}}, nil
}

// EtcdRemoveMemberByID removes another member, as `talosctl etcd
// remove-member` does for a control plane that is gone.
func (s *service) EtcdRemoveMemberByID(ctx context.Context, req *machineapi.EtcdRemoveMemberByIDRequest) (*machineapi.EtcdRemoveMemberByIDResponse, error) {
	if err := s.etcdCall(ctx, "EtcdRemoveMemberByID"); err != nil {
		return nil, err
	}
	n := s.node
	defer n.sim.mu.Unlock()
	for _, m := range n.sim.nodes {
		if m.etcdMember() && m.memberID() == req.MemberId {
			if m == n {
				return nil, status.Error(codes.InvalidArgument, "cannot remove the member of the node serving the request; use another control plane")
			}
			m.etcdLeft = true
			n.sim.writes++
			return &machineapi.EtcdRemoveMemberByIDResponse{}, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "etcd member %x not found", req.MemberId)
}

// Reset wipes the node back to maintenance mode, as `talosctl reset`
// does: a graceful reset of a control plane leaves etcd first, and is
// refused when it is the last member. Injected failures (FailNext
// "Reset") change nothing.
func (s *service) Reset(ctx context.Context, req *machineapi.ResetRequest) (*machineapi.ResetResponse, error) {
	if err := s.secure(ctx); err != nil {
		return nil, err
	}
	if err := s.node.injected("Reset"); err != nil {
		return nil, err
	}
	n := s.node
	n.sim.kubelets.Lock()
	defer n.sim.kubelets.Unlock()
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	if req.Graceful && n.etcdMember() {
		others := 0
		for _, m := range n.sim.nodes {
			if m != n && m.etcdMember() {
				others++
			}
		}
		if others == 0 {
			return nil, status.Error(codes.FailedPrecondition, "etcd: the last member cannot leave the cluster")
		}
		n.etcdLeft = true
	}
	if err := n.state.Destroy(ctx, configres.NewMachineConfig(nil).Metadata()); err != nil && !state.IsNotFoundError(err) {
		return nil, status.Errorf(codes.Internal, "wiping the config: %v", err)
	}
	n.configured, n.config, n.role, n.bootstrapped = false, nil, machine.TypeUnknown, false
	n.resets++
	n.sim.writes++
	return &machineapi.ResetResponse{Messages: []*machineapi.Reset{{Metadata: &common.Metadata{Hostname: n.Name}}}}, nil
}

// publishManifests renders the control plane's bootstrap manifests as
// Manifest resources, as Talos' manifest controller does (what
// `talosctl get manifests` lists). The simulator renders one, the
// kube-proxy DaemonSet with the config's proxy image, standing in for
// Talos' full set (CoreDNS, the CNI, RBAC): enough to see whether a
// Kubernetes upgrade syncs them.
func publishManifests(ctx context.Context, st state.State, cfg config.Provider) error {
	if cfg.Machine() == nil || cfg.Machine().Type() != machine.TypeControlPlane || cfg.Cluster() == nil {
		return nil
	}
	m := k8s.NewManifest(k8s.ControlPlaneNamespaceName, "10-kube-proxy")
	labels := map[string]any{"k8s-app": "kube-proxy", "tier": "node"}
	m.TypedSpec().Items = []k8s.SingleManifest{{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "DaemonSet",
		"metadata":   map[string]any{"name": "kube-proxy", "namespace": "kube-system", "labels": labels},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": "kube-proxy", "image": cfg.Cluster().Proxy().Image(),
				}}},
			},
		},
	}}}
	return replace(ctx, st, m)
}
