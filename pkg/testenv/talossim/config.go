package talossim

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/cosi-project/runtime/pkg/state"
	"github.com/siderolabs/talos/pkg/machinery/api/common"
	machineapi "github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	configres "github.com/siderolabs/talos/pkg/machinery/resources/config"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// injected fails this node's next call of rpc when asked to (FailNext).
func (n *Node) injected(rpc string) error {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	if n.fail[rpc] > 0 {
		n.fail[rpc]--
		return errUnavailable
	}
	return nil
}

// storeMachineConfig publishes cfg as the node's active MachineConfig
// resource, as machined does (what `talosctl get machineconfig` reads).
func storeMachineConfig(ctx context.Context, st state.State, cfg config.Provider) error {
	return replace(ctx, st, configres.NewMachineConfig(cfg))
}

// needsReboot reports whether moving from the running config to next
// needs a reboot. Talos decides this in machined (not in machinery); the
// simulator approximates it: a change to the install section, the kernel
// or the disks reboots, anything else applies live.
func needsReboot(running []byte, next config.Provider) (bool, error) {
	prev, err := configloader.NewFromBytes(running)
	if err != nil {
		return true, fmt.Errorf("running config: %w", err)
	}
	a, b := prev.RawV1Alpha1(), next.RawV1Alpha1()
	if a == nil || b == nil || a.MachineConfig == nil || b.MachineConfig == nil {
		return a != b, nil
	}
	return !reflect.DeepEqual(a.MachineConfig.MachineInstall, b.MachineConfig.MachineInstall) ||
		!reflect.DeepEqual(a.MachineConfig.MachineKernel, b.MachineConfig.MachineKernel) ||
		!reflect.DeepEqual(a.MachineConfig.MachineDisks, b.MachineConfig.MachineDisks), nil
}

// Upgrade installs the release of req's installer image and reboots into
// it: the node then reports the image's tag as its version. Injected
// failures (FailNext "Upgrade") leave it on the old one.
func (s *service) Upgrade(ctx context.Context, req *machineapi.UpgradeRequest) (*machineapi.UpgradeResponse, error) {
	if err := s.secure(ctx); err != nil {
		return nil, err
	}
	n := s.node
	if err := n.sim.injected("Upgrade"); err != nil {
		return nil, err
	}
	if err := n.injected("Upgrade"); err != nil {
		return nil, err
	}
	ref := req.GetImage()
	tag := ref[strings.LastIndex(ref, ":")+1:]
	if i := strings.LastIndex(ref, ":"); i < 0 || strings.Contains(tag, "/") || !strings.HasPrefix(tag, "v") {
		return nil, status.Errorf(codes.InvalidArgument, "installer image %q has no version tag", ref)
	}
	n.sim.mu.Lock()
	n.version, n.image = tag, ref
	n.reboots++
	n.upgrades = append(n.upgrades, ref)
	n.sim.mu.Unlock()
	return &machineapi.UpgradeResponse{Messages: []*machineapi.Upgrade{{
		Metadata: &common.Metadata{Hostname: n.Name}, Ack: "Upgrade request received",
	}}}, nil
}

// Upgrades returns the installer images the node was upgraded to, in
// order.
func (n *Node) Upgrades() []string {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return append([]string(nil), n.upgrades...)
}
