package talos_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/talos"
)

// TestHostLoss says what losing each Proxmox host does: etcd quorum
// lost, no node left for the workloads, or workloads that no longer fit;
// a warning by default, a validation error with SurviveHostLoss.
func TestHostLoss(t *testing.T) {
	type node struct {
		name string
		role core.Role
		mem  int
		host string // "" for automatic placement
	}
	cases := []struct {
		name     string
		hosts    []string
		nodes    []node
		requests string // memory each of an app's two pods requests
		want     []string
	}{
		{
			name:  "three control planes on two hosts: the host with two loses quorum",
			hosts: []string{"pve-1", "pve-2"},
			nodes: []node{{"cp-1", talos.ControlPlane, 4, ""}, {"cp-2", talos.ControlPlane, 4, ""}, {"cp-3", talos.ControlPlane, 4, ""},
				{"w-1", talos.Worker, 8, ""}, {"w-2", talos.Worker, 8, ""}},
			want: []string{"talos: losing Proxmox host pve-1 loses etcd quorum (2 of 3 control planes run on it: cp-1, cp-3), so the Kubernetes API stops; add a third host: with two, one of them always runs a majority of the control planes"},
		},
		{
			name:  "three hosts, one control plane and one worker on each: nothing",
			hosts: []string{"pve-1", "pve-2", "pve-3"},
			nodes: []node{{"cp-1", talos.ControlPlane, 4, ""}, {"cp-2", talos.ControlPlane, 4, ""}, {"cp-3", talos.ControlPlane, 4, ""},
				{"w-1", talos.Worker, 8, ""}, {"w-2", talos.Worker, 8, ""}, {"w-3", talos.Worker, 8, ""}},
		},
		{
			name:  "every worker pinned to one host: its loss stops every app",
			hosts: []string{"pve-1", "pve-2", "pve-3"},
			nodes: []node{{"cp-1", talos.ControlPlane, 4, "pve-1"}, {"cp-2", talos.ControlPlane, 4, "pve-2"}, {"cp-3", talos.ControlPlane, 4, "pve-3"},
				{"w-1", talos.Worker, 8, "pve-3"}, {"w-2", talos.Worker, 8, "pve-3"}},
			want: []string{"talos: losing Proxmox host pve-3 leaves no node to run workloads (w-1, w-2 ran them), so every app stops; add workers on the other hosts or give them more RAM, or pin the worker VMs apart with VMProps.Host"},
		},
		{
			name:  "the workers left cannot hold what the apps request",
			hosts: []string{"pve-1", "pve-2", "pve-3"},
			nodes: []node{{"cp-1", talos.ControlPlane, 4, ""}, {"cp-2", talos.ControlPlane, 4, ""}, {"cp-3", talos.ControlPlane, 4, ""},
				{"w-1", talos.Worker, 8, ""}, {"w-2", talos.Worker, 8, ""}},
			requests: "6Gi", // two replicas: each fits a node, both do not fit one
			want: []string{
				// 12478Mi: the two 6Gi pods and Talos' own pods.
				"talos: losing Proxmox host pve-1 leaves 1 node(s) with 7808Mi allocatable for workloads requesting 12478Mi of memory, so pods stay Pending",
				"talos: losing Proxmox host pve-2 leaves 1 node(s) with 7808Mi allocatable for workloads requesting 12478Mi of memory, so pods stay Pending",
			},
		},
	}
	for _, tc := range cases {
		for _, survive := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/survive=%v", tc.name, survive), func(t *testing.T) {
				app := core.NewApp(nil)
				dc := proxmox.NewDatacenter(app, "proxmox", nil)
				hosts := map[string]*proxmox.Host{}
				for i, h := range tc.hosts {
					hosts[h] = dc.AddHost(h, &proxmox.HostProps{Endpoint: fmt.Sprintf("https://10.0.0.%d:8006", i+2), Cores: 16, MemoryGiB: 64})
				}
				cluster := talos.NewCluster(app, "talos", &talos.ClusterProps{Name: "lab", Subnet: "10.0.0.0/24", SurviveHostLoss: survive})
				for i, n := range tc.nodes {
					vm := dc.AddVM(n.name, &proxmox.VMProps{VMID: 200 + i, Cores: 2, MemoryGiB: n.mem, Host: hosts[n.host]})
					cluster.AddNode(n.name, &talos.NodeProps{IP: fmt.Sprintf("10.0.0.%d", 10+i), Role: n.role, Machine: vm})
				}
				if tc.requests != "" {
					core.Workloads.Of(app.Tree()).Add(core.Workload{Source: "apps/big", Name: "big", Role: core.AllNodes, Replicas: 2, Memory: resource.MustParse(tc.requests), CPU: resource.MustParse("100m")})
				}
				var got []string
				for _, w := range core.Warnings.Of(app.Tree()).Run() {
					got = append(got, w.Error())
				}
				err := app.Tree().Validate()
				if survive {
					assert.Empty(t, got, "with SurviveHostLoss the findings are errors, not warnings")
					got = nil
					if err != nil {
						for _, l := range strings.Split(err.Error(), "\n") {
							if strings.Contains(l, "losing Proxmox host") {
								got = append(got, strings.TrimPrefix(strings.TrimSpace(l), "- "))
							}
						}
					}
				} else {
					require.NoError(t, err)
				}
				require.Len(t, got, len(tc.want), "%q", got)
				for i := range tc.want {
					assert.True(t, strings.HasPrefix(got[i], tc.want[i]), "got  %s\nwant %s...", got[i], tc.want[i])
				}
			})
		}
	}
}
