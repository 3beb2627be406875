package proxmox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/funoffshore/homelab/pkg/testenv/pvesim"
)

// BenchmarkDeploy deploys the Funoffshore VMs to an empty simulator whose
// every call takes 20ms, one change at a time and with bounded concurrency.
func BenchmarkDeploy(b *testing.B) {
	for _, conc := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				sim, h, opts := setup(b)
				sim.Inject(pvesim.Fault{PathContains: "/", Delay: 20 * time.Millisecond})
				opts.Concurrency = conc
				opts.Log = nil
				b.StartTimer()
				p, err := newPlan(h, opts)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Apply(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				sim.Close()
				b.StartTimer()
			}
		})
	}
}
