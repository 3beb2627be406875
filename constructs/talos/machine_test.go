package talos_test

import (
	"strings"
	"testing"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/talos"
)

// metal is a bare-metal machine: no hypervisor, NVMe disks, in a rack.
type metal struct {
	constructs.Construct
	info        *core.Info
	name, rack  string
	size        core.MachineSize
	provisioned core.Provisioning
}

func newMetal(scope constructs.Construct, name, rack string, size core.MachineSize) *metal {
	m := &metal{name: name, rack: rack, size: size}
	m.info = core.Init(m, scope, name)
	return m
}

func (m *metal) Info() *core.Info              { return m.info }
func (m *metal) ToString() *string             { return core.PathString(m.info) }
func (m *metal) MachineName() string           { return m.name }
func (m *metal) Size() core.MachineSize        { return m.size }
func (m *metal) FailureDomain() string         { return m.rack }
func (m *metal) Identity() (string, string)    { return "uuid-" + m.name, "02:00:00:00:00:01" }
func (m *metal) Provision(p core.Provisioning) { m.provisioned = p }
func (m *metal) InstallDiskProblem(disk string) (string, string) {
	if strings.HasPrefix(disk, "/dev/nvme") {
		return "", ""
	}
	return "install disk " + disk + " is not an NVMe disk", `use "/dev/nvme0n1"`
}

// TestBareMetalMachine runs the OS layer on machines that are no Proxmox
// VM: the node takes its name, size, failure domain and disk bus from the
// machine, and the machine gets the node's address, ISO and data disks.
func TestBareMetalMachine(t *testing.T) {
	app := core.NewApp(nil)
	machines := kube.NewGroup(app, "metal")
	cluster := talos.NewCluster(app, "talos", &talos.ClusterProps{Name: "lab", Subnet: "10.0.0.0/24", InstallDisk: "/dev/nvme0n1"})
	var ms []*metal
	for i, rack := range []string{"rack-a", "rack-b", "rack-a"} {
		m := newMetal(machines, []string{"cp-1", "cp-2", "cp-3"}[i], rack, core.MachineSize{Cores: 4, MemoryMiB: 8192, DiskGiB: 256})
		ms = append(ms, m)
		cluster.AddNode(m.name, &talos.NodeProps{IP: "10.0.0.1" + string(rune('0'+i)), Role: talos.ControlPlane, Machine: m})
	}
	require.NoError(t, app.Tree().Validate())

	n := cluster.Nodes()[0]
	assert.Equal(t, "cp-1", n.Hostname, "the hostname defaults to the machine's name")
	assert.Equal(t, "10.0.0.10", ms[0].provisioned.Address.String())
	url, file := ms[0].provisioned.BootISO()
	assert.Contains(t, url, "factory.talos.dev")
	assert.NotEmpty(t, file)
	_, _, ok := n.Allocatable()
	assert.True(t, ok, "the machine's size is known")

	losses := cluster.HostLosses()
	require.Len(t, losses, 2)
	assert.Equal(t, "rack-a", losses[0].Host)
	assert.True(t, losses[0].QuorumLost, "rack-a holds two of three control planes")

	other := core.NewApp(nil)
	c2 := talos.NewCluster(other, "talos", &talos.ClusterProps{Name: "lab", Subnet: "10.0.0.0/24"})
	c2.AddNode("cp", &talos.NodeProps{IP: "10.0.0.10", Role: talos.ControlPlane, Machine: newMetal(kube.NewGroup(other, "metal"), "cp", "", core.MachineSize{Cores: 4, MemoryMiB: 8192, DiskGiB: 256})})
	err := other.Tree().Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `install disk /dev/sda is not an NVMe disk`, "the machine, not the OS layer, knows its disk bus")
}
