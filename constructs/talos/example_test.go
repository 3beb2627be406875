package talos_test

import (
	"fmt"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/talos"
)

// Example puts a Talos node on a Proxmox VM: the VM gets the node's IP as
// its DHCP lease and boots the ISO of the schematic the tree needs (the
// QEMU guest agent, which every Proxmox VM declares).
func Example() {
	app := core.NewApp(nil)
	dc := proxmox.NewDatacenter(app, "proxmox", nil)
	dc.AddHost("pve", &proxmox.HostProps{Endpoint: "https://10.0.0.2:8006"})
	vm := dc.AddVM("cp", &proxmox.VMProps{VMID: 100, MemoryGiB: 4})
	cluster := talos.NewCluster(app, "talos", &talos.ClusterProps{Name: "lab", Subnet: "10.0.0.0/24"})
	cluster.AddNode("cp", &talos.NodeProps{IP: "10.0.0.10", Role: talos.ControlPlane, Machine: vm})

	fmt.Println(app.Tree().Validate())
	fmt.Println(cluster.Endpoint(), cluster.KubernetesVersion)
	fmt.Println(vm.Address(), vm.MAC)
	fmt.Println(cluster.Schematic().Extensions(), cluster.Schematic().ID())
	// Output:
	// <nil>
	// https://10.0.0.10:6443 1.36.3
	// 10.0.0.10 02:23:f4:90:73:28
	// [siderolabs/qemu-guest-agent] ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515
}
