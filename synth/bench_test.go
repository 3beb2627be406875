package synth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/funoffshore/homelab/constructs/apps"
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
			Resources: apps.Resources{CPU: "20m", Memory: "32Mi"},
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

func BenchmarkSynthApps(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			benchSynth(b, &homelab.Props{Apps: generatedApps(n)})
		})
	}
}
