// Package lab holds a built homelab as the commands meet it: the construct
// tree they render and validate, and the typed layers they act on (the
// Talos cluster, the Proxmox datacenter), handed over by whoever built it
// rather than found again in the tree.
package lab

import (
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/talos"
)

// Lab is a built homelab.
type Lab struct {
	// App holds the construct tree. Required.
	App *core.App
	// Cluster is the Talos cluster and Datacenter the Proxmox hosts and
	// VMs: nil in a tree without them (synth, secrets and the offline
	// checks of the Kubernetes tree need neither; validate's Talos checks,
	// plan and deploy need both).
	Cluster    *talos.Cluster
	Datacenter *proxmox.Datacenter
}

// Tree returns the construct tree.
func (l *Lab) Tree() *core.Tree { return l.App.Tree() }
