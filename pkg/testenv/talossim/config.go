package talossim

import (
	"context"
	"fmt"
	"reflect"

	"github.com/cosi-project/runtime/pkg/state"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	configres "github.com/siderolabs/talos/pkg/machinery/resources/config"
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
