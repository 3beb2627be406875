package talossim

import (
	"context"
	"fmt"
	"net"

	"github.com/cosi-project/runtime/pkg/resource"
	"github.com/cosi-project/runtime/pkg/state"
	"github.com/cosi-project/runtime/pkg/state/impl/inmem"
	"github.com/cosi-project/runtime/pkg/state/impl/namespaced"
	"github.com/siderolabs/talos/pkg/machinery/nethelpers"
	"github.com/siderolabs/talos/pkg/machinery/resources/hardware"
	"github.com/siderolabs/talos/pkg/machinery/resources/network"
)

// Identity is what a machine reports about itself through the Talos API,
// also in maintenance mode: its SMBIOS system UUID and the hardware
// addresses of its links.
type Identity struct {
	UUID string
	MACs []string
}

// SetIdentity sets what the node reports: the hardware.SystemInformation
// and one network.LinkStatus (eth0, eth1, ...) per MAC, served by the COSI
// state API as a real node serves them. An impostor is a node whose
// identity is not its VM's.
func (n *Node) SetIdentity(id Identity) error {
	ctx := context.Background()
	st := n.state
	info := hardware.NewSystemInformation(hardware.SystemInformationID)
	info.TypedSpec().UUID = id.UUID
	if err := replace(ctx, st, info); err != nil {
		return err
	}
	for i, mac := range id.MACs {
		hw, err := net.ParseMAC(mac)
		if err != nil {
			return fmt.Errorf("talossim: node %s: MAC %q: %w", n.Name, mac, err)
		}
		link := network.NewLinkStatus(network.NamespaceName, fmt.Sprintf("eth%d", i))
		link.TypedSpec().Type = nethelpers.LinkEther
		link.TypedSpec().HardwareAddr = nethelpers.HardwareAddr(hw)
		link.TypedSpec().PermanentAddr = nethelpers.HardwareAddr(hw)
		if err := replace(ctx, st, link); err != nil {
			return err
		}
	}
	return nil
}

func replace(ctx context.Context, st state.State, r resource.Resource) error {
	_ = st.Destroy(ctx, r.Metadata())
	return st.Create(ctx, r)
}

// newState is the node's resource store.
func newState() state.State {
	return state.WrapCore(namespaced.NewState(inmem.Build))
}
