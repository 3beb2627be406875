package talos

import (
	"fmt"

	"github.com/siderolabs/talos/pkg/machinery/config"
	configconfig "github.com/siderolabs/talos/pkg/machinery/config/config"
	"github.com/siderolabs/talos/pkg/machinery/config/container"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/config/types/network"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"github.com/siderolabs/talos/pkg/machinery/nethelpers"
	"k8s.io/utils/ptr"
)

// NodeConfig returns the machine config node n gets: its role's config
// (MachineConfig) with the node's own hostname (a HostnameConfig that
// turns automatic hostnames off, as talhelper writes it, so the
// Kubernetes Node is named as the model says whatever DHCP sends) and its
// install disk, and where it sends its logs (nodeLogging). The deployer applies it; talhelper renders the same from
// talconfig.yaml.
func (c *Cluster) NodeConfig(n *Node, bundle *secrets.Bundle) (config.Provider, error) {
	role := n.machineType()
	cfg, err := c.MachineConfig(role, bundle)
	if err != nil {
		return nil, err
	}
	hostname := network.NewHostnameConfigV1Alpha1()
	hostname.ConfigHostname = n.Hostname
	hostname.ConfigAuto = ptr.To(nethelpers.AutoHostnameKindOff)
	docs := []configconfig.Document{}
	for _, d := range cfg.Documents() {
		if _, ok := d.(*network.HostnameConfigV1Alpha1); ok {
			continue
		}
		docs = append(docs, d)
	}
	docs = append(docs, hostname)
	docs, err = c.withNodeLogging(n, docs)
	if err != nil {
		return nil, err
	}
	out, err := container.New(docs...)
	if err != nil {
		return nil, fmt.Errorf("%s: node config: %w", n.Hostname, err)
	}
	if n.InstallDisk == "" || n.InstallDisk == c.InstallDisk {
		return out, nil
	}
	patched, err := out.PatchV1Alpha1(func(v *v1alpha1.Config) error {
		v.MachineConfig.MachineInstall.InstallDisk = n.InstallDisk
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: node config: %w", n.Hostname, err)
	}
	return patched, nil
}

// machineType is the type of machine config the node gets.
func (n *Node) machineType() machine.Type {
	if n.Role == ControlPlane {
		return machine.TypeControlPlane
	}
	return machine.TypeWorker
}
