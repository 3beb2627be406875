package deploy_test

import (
	"bytes"
	"github.com/funoffshore/homelab/pkg/lab"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/testenv"
)

// TestFindTargetAsksTheTree renders a homelab whose Flux chart is not in
// kubernetes/flux: deploy finds gotk-components.yaml and gotk-sync.yaml
// through the constructs, and every object's Info.File is the file synth
// wrote it to.
func TestFindTargetAsksTheTree(t *testing.T) {
	app := core.NewApp(nil)
	dc := proxmox.NewDatacenter(app, "proxmox", nil)
	host := dc.AddHost("pve", &proxmox.HostProps{Endpoint: "https://192.168.5.10:8006"})
	// One node that also runs the pods, as a single-node lab does.
	cluster := talos.NewCluster(app, "os", &talos.ClusterProps{Name: "lab", Subnet: "192.168.5.0/24", Dir: "machines",
		Patches: []talos.Patch{{Role: talos.ControlPlane, Config: &v1alpha1.Config{ClusterConfig: &v1alpha1.ClusterConfig{AllowSchedulingOnControlPlanes: ptr.To(true)}}}}})
	vm := dc.AddVM("cp", &proxmox.VMProps{VMID: 100, Host: host, MemoryGiB: 4})
	cluster.AddNode("cp", &talos.NodeProps{IP: "192.168.5.20", Role: talos.ControlPlane, Machine: vm})
	gitops := kube.NewChart(app, "gitops", &kube.ChartProps{Dir: "gitops/flux"})
	install := flux.NewInstall(gitops, "components", nil)
	flux.NewSync(gitops, "sync", &flux.SyncProps{URL: "ssh://git@example.com/lab", Chart: gitops, Install: install})
	files, target := testenv.RenderTarget(t, &lab.Lab{App: app, Cluster: cluster, Datacenter: dc})
	if !bytes.Equal(target.Components, files["gitops/flux/components.yaml"]) || !bytes.Equal(target.Sync, files["gitops/flux/sync.yaml"]) {
		t.Errorf("FindTarget did not read gitops/flux/components.yaml and gitops/flux/sync.yaml")
	}
	for _, o := range app.Tree().Objects() {
		if !bytes.Contains(files[o.Info().File()], []byte("name: "+o.Identity().Name)) {
			t.Errorf("%s: Info.File %q does not hold %s", o.Info().Path(), o.Info().File(), o.Identity())
		}
	}
	if _, ok := files[cluster.ConfigPath(machine.TypeControlPlane)]; !ok {
		t.Errorf("no control-plane config at %s", cluster.ConfigPath(machine.TypeControlPlane))
	}
}
