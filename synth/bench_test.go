package synth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/synth"
)

// generatedApps returns n apps like the ones a homelab runs.
func generatedApps(n int) []apps.AppProps {
	out := make([]apps.AppProps, n)
	for i := range out {
		out[i] = apps.AppProps{
			Name:      fmt.Sprintf("app-%04d", i),
			Image:     fmt.Sprintf("ghcr.io/example/app-%04d:1.0.%d", i, i),
			Port:      8080,
			Resources: apps.Resources{CPU: "10m", Memory: "24Mi"},
		}
	}
	return out
}

// benchSynth builds the tree and renders it b.N times, and reports the time
// spent building the tree (where the jsii calls happen) and rendering (pure
// Go), per object.
func benchSynth(b *testing.B, props *homelab.Props) {
	var build, render time.Duration
	objects := 0
	for b.Loop() {
		t0 := time.Now()
		app, _ := homelab.NewApp(props)
		t1 := time.Now()
		files, err := synth.Render(app.Tree())
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		build += t1.Sub(t0)
		render += t2.Sub(t1)
		objects = len(app.Tree().Objects())
		_ = files
	}
	n := float64(b.N)
	b.ReportMetric(float64(objects), "objects")
	b.ReportMetric(float64(build.Nanoseconds())/n/float64(objects), "build-ns/object")
	b.ReportMetric(float64(render.Nanoseconds())/n/float64(objects), "render-ns/object")
	b.ReportMetric(100*float64(build)/float64(build+render), "%build")
}

func BenchmarkSynthFunoffshore(b *testing.B) { benchSynth(b, nil) }

// generatedMachines sizes the cluster for n apps: one 8 GiB, 4 vCPU worker
// per 100 apps (at least two), two workers per 32 GiB host.
func generatedMachines(n int) *homelab.Machines {
	m := homelab.DefaultMachines()
	workers := max(2, (n+99)/100)
	m.Nodes = m.Nodes[:1]
	m.Hosts = m.Hosts[:1]
	for i := 0; i < workers; i++ {
		if i%2 == 0 {
			m.Hosts = append(m.Hosts, proxmox.HostProps{Name: fmt.Sprintf("pve-w%d", i/2), Endpoint: fmt.Sprintf("https://192.168.2.%d:8006", 10+i/2), Cores: 8, MemoryGiB: 32})
		}
		m.Nodes = append(m.Nodes, homelab.Node{Name: fmt.Sprintf("talos-w-%d", i+1), Role: talos.Worker, IP: fmt.Sprintf("192.168.1.%d", 111+i),
			VMID: 111 + i, Cores: 4, MemoryGiB: 8, DiskGiB: 32})
	}
	return m
}

func BenchmarkSynthApps(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			props := homelab.Funoffshore()
			props.Apps, props.Machines = generatedApps(n), generatedMachines(n)
			benchSynth(b, props)
		})
	}
}
