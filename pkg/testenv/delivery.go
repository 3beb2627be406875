package testenv

import (
	"context"
	"fmt"
	"sync"

	"github.com/funoffshore/homelab/constructs/talos"
	pvedeploy "github.com/funoffshore/homelab/pkg/deploy/proxmox"
	"github.com/funoffshore/homelab/pkg/oracle/talosboot"
	"github.com/funoffshore/homelab/pkg/testenv/talossim"
)

// SimDelivery is the out-of-band config delivery for a Talos simulator
// alone (the full Simulation goes through the Proxmox simulator instead):
// the config ISO the deployer builds, read back as Talos' metal platform
// reads it at boot, boots the simulated node named like the VM.
type SimDelivery struct {
	Sim *talossim.Sim

	mu        sync.Mutex
	delivered []string
	attached  map[string]bool
}

// Deliver boots the VM's node with config, through the config ISO.
func (s *SimDelivery) Deliver(_ context.Context, m talos.Machine, config []byte) error {
	name := m.MachineName()
	iso, err := pvedeploy.ConfigISO(config)
	if err != nil {
		return err
	}
	data, err := talosboot.ReadConfigISO(iso)
	if err != nil {
		return err
	}
	n := s.Sim.Node(name)
	if n == nil {
		return fmt.Errorf("no simulated machine for VM %s", name)
	}
	s.mu.Lock()
	s.delivered = append(s.delivered, name)
	if s.attached == nil {
		s.attached = map[string]bool{}
	}
	s.attached[name] = true
	s.mu.Unlock()
	return n.Boot(data)
}

// Cleanup detaches the VM's config ISO.
func (s *SimDelivery) Cleanup(_ context.Context, m talos.Machine) error {
	name := m.MachineName()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.attached, name)
	return nil
}

// Delivered lists the VMs delivered to, in order.
func (s *SimDelivery) Delivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.delivered...)
}

// Attached counts the VMs whose config ISO is still attached.
func (s *SimDelivery) Attached() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.attached)
}
