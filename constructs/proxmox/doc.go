// Package proxmox models the hypervisor layer: Proxmox VE hosts, the VMs on
// them (with MAC addresses derived from their identity so DHCP leases never
// change), their placement within each host's capacity, and the inventory
// with the DHCP static-lease table the router needs.
package proxmox
