package homelab_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
)

// fuzzInput is what FuzzHomelab varies: the values a user types most
// often, in the Funoffshore homelab.
type fuzzInput struct {
	controlPlanes, workers uint8
	lastOctet              uint8
	cores, memoryGiB, disk int8
	subnet, vip, k8s       string
	appName, appMemory     string
	replicas               int8
	volumeSize, retention  string
	backupTarget           string
}

func (in fuzzInput) props() *homelab.Props {
	p := funoffshoreProps()
	m := p.Machines
	m.Subnet, m.VIP, m.KubernetesVersion = in.subnet, in.vip, in.k8s
	m.Nodes = nil
	for i := 0; i < int(in.controlPlanes%6)+int(in.workers%6); i++ {
		role := talos.Worker
		if i < int(in.controlPlanes%6) {
			role = talos.ControlPlane
		}
		m.Nodes = append(m.Nodes, homelab.Node{
			Name: fmt.Sprintf("node-%d", i), Role: role, VMID: 100 + i,
			IP:    fmt.Sprintf("192.168.1.%d", int(in.lastOctet)+i),
			Cores: int(in.cores), MemoryGiB: int(in.memoryGiB), DiskGiB: int(in.disk),
		})
	}
	p.Apps = append(p.Apps, apps.AppProps{Name: in.appName, Image: "nginx:1.27.3", Port: 8080, Replicas: int32(in.replicas),
		Resources: apps.Resources{Memory: in.appMemory}})
	p.Platform.Monitoring.Volume, p.Platform.Monitoring.Retention, p.Platform.Longhorn.BackupTarget = in.volumeSize, in.retention, in.backupTarget
	return p
}

// FuzzHomelab builds homelabs from fuzzed values and asserts that nothing
// panics, and that the tree either fails validation with construct-path
// errors or renders output that its consumers accept: Talos machinery
// loads and validates every machine config, and kustomize builds every
// directory. `go test` runs the seed corpus; `go test -fuzz FuzzHomelab
// ./homelab` explores further.
func FuzzHomelab(f *testing.F) {
	seeds := []fuzzInput{
		{1, 2, 101, 2, 4, 32, "192.168.1.0/24", "", "", "wiki", "64Mi", 1, "10Gi", "7d", "nfs://192.168.1.20:/backups"},
		{3, 3, 50, 2, 4, 40, "192.168.1.0/24", "192.168.1.40", "", "wiki", "128Mi", 2, "20Gi", "30d", ""},
		{2, 1, 101, 2, 4, 32, "192.168.1.0/24", "", "", "wiki", "64Mi", 1, "10Gi", "7d", ""},
		{1, 0, 101, 2, 8, 40, "192.168.1.0/24", "", "", "wiki", "64Mi", 1, "10Gi", "7d", ""},
		{1, 2, 254, 2, 4, 32, "192.168.1.0/24", "", "", "wiki", "64Mi", 1, "10Gi", "7d", ""},
		{1, 2, 101, -1, -4, -32, "192.168.1.0/33", "300.1.1.1", "1.36", "Wiki!", "64 Mi", -3, "10 GB", "7 days", "192.168.1.20:/x"},
		{1, 2, 101, 64, 127, 127, "", "", "v1.36.4", "", "", 0, "", "", "s3://"},
		{5, 5, 0, 1, 1, 1, "10.0.0.0/8", "10.0.0.0", "1.99.0", "a", "1Ei", 127, "1Ei", "0s", "nfs://x"},
	}
	for _, s := range seeds {
		f.Add(s.controlPlanes, s.workers, s.lastOctet, s.cores, s.memoryGiB, s.disk, s.subnet, s.vip, s.k8s, s.appName, s.appMemory, s.replicas, s.volumeSize, s.retention, s.backupTarget)
	}
	f.Fuzz(func(t *testing.T, cps, workers, octet uint8, cores, mem, disk int8, subnet, vip, k8s, appName, appMemory string, replicas int8, volumeSize, retention, backupTarget string) {
		in := fuzzInput{cps, workers, octet, cores, mem, disk, subnet, vip, k8s, appName, appMemory, replicas, volumeSize, retention, backupTarget}
		var files synth.Files
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic for %+v: %v", in, r)
				}
			}()
			app, _ := homelab.NewApp(in.props())
			files, err = synth.Render(app.Tree())
		}()
		if err != nil {
			var v *core.ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("not a validation error for %+v: %v", in, err)
			}
			for _, e := range v.Errors {
				var ce *core.Error
				if !errors.As(e, &ce) || ce.Problem == "" || ce.Fix == "" {
					t.Errorf("error without path, problem and fix: %v", e)
				}
			}
			return
		}
		// Accepted: every consumer must accept it too.
		t.Logf("accepted: %d files", len(files))
		for p, data := range files {
			if p == "talos/controlplane.yaml" || p == "talos/worker.yaml" {
				if _, err := validate.TalosConfig(p, data); err != nil {
					t.Errorf("validation passed for %+v but %v", in, err)
				}
			}
		}
		if _, errs := validate.Kustomize(files); len(errs) > 0 {
			t.Errorf("validation passed for %+v but kustomize fails: %v", in, errs)
		}
	})
}
