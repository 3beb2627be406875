// Package talos models the Talos Linux cluster: its nodes (each on a
// Proxmox VM), the Image Factory schematic built from the extensions the
// tree needs, the machine configs generated with Talos machinery (committed
// with every secret replaced by a placeholder), and talhelper's
// talconfig.yaml.
package talos
