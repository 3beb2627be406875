package proxmox_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// vmSpec is a VM of a placement case: its memory, spread group and pin.
type vmSpec struct {
	name, group string
	memGiB      int
	pin         string
}

// TestPlacementSpreadsGroups places VMs automatically: the VMs of one
// spread group on different hosts as far as they fit, largest first,
// pinned VMs where they are pinned (and counted for their group).
func TestPlacementSpreadsGroups(t *testing.T) {
	cases := []struct {
		name  string
		hosts map[string]int // name -> usable GiB (2 GiB reserve added)
		vms   []vmSpec
		want  map[string]string
	}{
		{
			// The new user's homelab: before spreading, both workers went
			// on one host and two control planes on the other.
			name:  "three control planes and two workers on two hosts",
			hosts: map[string]int{"pve-1": 30, "pve-2": 30},
			vms: []vmSpec{
				{"cp-1", "cp", 4, ""}, {"cp-2", "cp", 4, ""}, {"cp-3", "cp", 4, ""},
				{"w-1", "w", 8, ""}, {"w-2", "w", 8, ""},
			},
			want: map[string]string{"w-1": "pve-1", "w-2": "pve-2", "cp-1": "pve-1", "cp-2": "pve-2", "cp-3": "pve-1"},
		},
		{
			name:  "the Funoffshore homelab: a worker joins the control plane's host",
			hosts: map[string]int{"pve-1": 14, "pve-2": 14},
			vms:   []vmSpec{{"talos-cp-1", "cp", 8, ""}, {"talos-w-1", "w", 4, ""}, {"talos-w-2", "w", 4, ""}},
			want:  map[string]string{"talos-cp-1": "pve-1", "talos-w-1": "pve-2", "talos-w-2": "pve-1"},
		},
		{
			name:  "a pin wins and counts for its group",
			hosts: map[string]int{"pve-1": 30, "pve-2": 30},
			vms:   []vmSpec{{"w-1", "w", 4, "pve-2"}, {"w-2", "w", 4, "pve-2"}, {"w-3", "w", 4, ""}},
			want:  map[string]string{"w-1": "pve-2", "w-2": "pve-2", "w-3": "pve-1"},
		},
		{
			name:  "a VM goes where it fits when the spread host is full",
			hosts: map[string]int{"pve-1": 6, "pve-2": 30},
			vms:   []vmSpec{{"w-1", "w", 8, ""}, {"w-2", "w", 8, ""}},
			want:  map[string]string{"w-1": "pve-2", "w-2": "pve-2"},
		},
		{
			name:  "VMs without a group go where the most memory is free",
			hosts: map[string]int{"pve-1": 10, "pve-2": 30},
			vms:   []vmSpec{{"a", "", 4, ""}, {"b", "", 4, ""}},
			want:  map[string]string{"a": "pve-2", "b": "pve-2"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := core.NewApp(nil)
			dc := proxmox.NewDatacenter(app, "proxmox", nil)
			hosts := map[string]*proxmox.Host{}
			for _, name := range []string{"pve-1", "pve-2"} {
				hosts[name] = dc.AddHost(name, &proxmox.HostProps{Endpoint: "https://" + name + ":8006", Cores: 8, MemoryGiB: tc.hosts[name] + 2})
			}
			for i, v := range tc.vms {
				vm := dc.AddVM(v.name, &proxmox.VMProps{VMID: 100 + i, MemoryGiB: v.memGiB, Host: hosts[v.pin]})
				vm.Provision(core.Provisioning{SpreadGroup: v.group})
			}
			got := map[string]string{}
			for vm, h := range dc.Placement() {
				got[vm.Name] = fmt.Sprint(h.Name)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// A host's API endpoint names the host in one written form: an address
// read alike by every client, or a DNS name that is not a malformed
// address (core.ParseHost).
func TestHostEndpointForms(t *testing.T) {
	cases := []struct{ endpoint, want string }{
		{"https://192.168.1.10:8006", ""},
		{"https://pve.lan:8006", ""},
		{"https://192.168.001.010:8006", `proxmox/pve: endpoint host "192.168.001.010" has a group with a leading zero, which C resolvers read as octal (192.168.1.8); write it as 192.168.1.10 (decimal, no leading zeros)`},
		{"https://192.168.1.310:8006", `proxmox/pve: endpoint host "192.168.1.310" is not an IPv4 address: 310 is above 255`},
		{"https://pve_1.lan:8006", `proxmox/pve: endpoint host "pve_1.lan" is neither an IP address nor a DNS name`},
	}
	for _, tc := range cases {
		t.Run(tc.endpoint, func(t *testing.T) {
			app := core.NewApp(nil)
			dc := proxmox.NewDatacenter(app, "proxmox", nil)
			dc.AddHost("pve", &proxmox.HostProps{Endpoint: tc.endpoint})
			err := app.Tree().Validate()
			if tc.want == "" {
				if err != nil {
					assert.NotContains(t, err.Error(), "endpoint")
				}
				return
			}
			if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.want)
			}
		})
	}
}
