// Package deploy is the thin deployer: it applies what Flux cannot (the
// Proxmox VMs, the Talos machine configs, the Flux bootstrap), planning
// first from live state and logging every action. Each layer is a
// subpackage.
package deploy
