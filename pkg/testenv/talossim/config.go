package talossim

import (
	"context"
	"fmt"
	"strings"

	"github.com/cosi-project/runtime/pkg/state"
	"github.com/siderolabs/talos/pkg/machinery/api/common"
	machineapi "github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/extensions"
	configres "github.com/siderolabs/talos/pkg/machinery/resources/config"
	runtimeres "github.com/siderolabs/talos/pkg/machinery/resources/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/funoffshore/homelab/pkg/oracle/talosapply"
	"github.com/funoffshore/homelab/pkg/upgradepath"
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
	if err := replace(ctx, st, configres.NewMachineConfig(cfg)); err != nil {
		return err
	}
	// A first install comes from the config's installer image.
	if cfg.Machine() != nil {
		if _, err := st.Get(ctx, runtimeres.NewExtensionStatus(runtimeres.NamespaceName, "schematic").Metadata()); state.IsNotFoundError(err) {
			return publishSchematic(ctx, st, cfg.Machine().Install().Image())
		}
	}
	return nil
}

// needsReboot reports whether moving from the running config to next
// needs a reboot, as Talos' auto mode decides it (pkg/oracle/talosapply:
// machined's CanApplyImmediate, encoded once).
func needsReboot(running []byte, next config.Provider) (bool, error) {
	prev, err := configloader.NewFromBytes(running)
	if err != nil {
		return true, fmt.Errorf("running config: %w", err)
	}
	if prev.RawV1Alpha1() == nil || next.RawV1Alpha1() == nil {
		return prev.RawV1Alpha1() != next.RawV1Alpha1(), nil
	}
	live, _, err := talosapply.Immediate(prev, next)
	return !live, err
}

// Upgrade installs the release of req's installer image and reboots into
// it: the node then reports the image's tag as its version. Injected
// failures (FailNext "Upgrade") leave it on the old one; after
// RollBackNextUpgrade it reboots and comes back on the old one.
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
	// The installer's pre-flight check runs in the upgrade sequence,
	// after the API has acknowledged the request (machined's Upgrade
	// starts runtime.SequenceUpgrade in a goroutine,
	// internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go
	// lines 598-606 at v1.13.9, and the installer checks
	// UpgradeableFrom, cmd/installer/pkg/install/preflight.go:109): a
	// release the node cannot upgrade to from its own is logged as
	// "upgrade failed" and the node stays as it was, without a reboot.
	if err := upgradepath.Upgradeable(n.version, tag); err != nil {
		n.refusedUpgrades = append(n.refusedUpgrades, fmt.Sprintf("%s: %v", ref, err))
		n.sim.mu.Unlock()
		return &machineapi.UpgradeResponse{Messages: []*machineapi.Upgrade{{
			Metadata: &common.Metadata{Hostname: n.Name}, Ack: "Upgrade request received",
		}}}, nil
	}
	rollBack := n.rollBack
	n.rollBack = false
	n.reboots++
	n.upgrades = append(n.upgrades, ref)
	if !rollBack {
		n.version, n.image = tag, ref
	}
	n.sim.mu.Unlock()
	if !rollBack {
		if err := publishSchematic(ctx, n.state, ref); err != nil {
			return nil, status.Errorf(codes.Internal, "publishing the schematic: %v", err)
		}
	}
	return &machineapi.UpgradeResponse{Messages: []*machineapi.Upgrade{{
		Metadata: &common.Metadata{Hostname: n.Name}, Ack: "Upgrade request received",
	}}}, nil
}

// RefusedUpgrades returns the installer images whose pre-flight check
// failed on the node, each with the installer's reason, in order.
func (n *Node) RefusedUpgrades() []string {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return append([]string(nil), n.refusedUpgrades...)
}

// Upgrades returns the installer images the node was upgraded to, in
// order.
func (n *Node) Upgrades() []string {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return append([]string(nil), n.upgrades...)
}

// publishSchematic publishes the Image Factory schematic of the installer
// image ref (.../installer/<schematic>:<version>) as the node's
// "schematic" extension, as a node installed from the factory reports it
// (`talosctl get extensions`). An image of no schematic publishes none.
func publishSchematic(ctx context.Context, st state.State, ref string) error {
	path, _, _ := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
	if len(path) != 64 {
		return nil
	}
	return SetSchematicIn(ctx, st, path)
}

// SetSchematicIn publishes id as the "schematic" extension in st.
func SetSchematicIn(ctx context.Context, st state.State, id string) error {
	ext := runtimeres.NewExtensionStatus(runtimeres.NamespaceName, "schematic")
	ext.TypedSpec().Metadata = extensions.Metadata{Name: "schematic", Version: id, Description: "Image Factory schematic"}
	return replace(ctx, st, ext)
}

// SetSchematic makes the node report another Image Factory schematic, as
// one installed with other extensions would.
func (n *Node) SetSchematic(id string) error {
	return SetSchematicIn(context.Background(), n.state, id)
}
