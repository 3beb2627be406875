package talos_test

import (
	"context"
	"testing"
	"time"

	"github.com/funoffshore/homelab/homelab"
)

// BenchmarkRollingUpgrade times a Talos release bump of the three
// Funoffshore nodes against the simulator with 5ms added to every call:
// the plan (plan-ms), the rollout (rollout-ms), and the sum of the same
// step applied to each node alone (sum-of-steps-ms). The rollout is one
// node at a time, so rollout and sum should be close; a gap is the
// rollout's own overhead.
func BenchmarkRollingUpgrade(b *testing.B) {
	ctx := context.Background()
	_, h := homelab.NewApp(nil)
	bundle := bundle(b)
	sim, opts := start(b, h.Cluster, bundle, 20*time.Second)
	converge(ctx, b, h.Cluster, bundle, opts)
	sim.SetLatency(5 * time.Millisecond)
	nodes := []string{"talos-cp-1", "talos-w-1", "talos-w-2"}
	// upgrade plans and applies the bump of names, returning how long
	// each took.
	upgrade := func(names ...string) (plan, apply time.Duration) {
		for _, n := range names {
			sim.Node(n).SetVersion("v1.13.8")
		}
		start := time.Now()
		p := mustPlan(ctx, b, h.Cluster, bundle, opts)
		if len(p.Upgrade) != len(names) {
			b.Fatalf("plan: %v", p.Changes())
		}
		plan = time.Since(start)
		if _, err := p.Apply(ctx, h.Cluster, bundle, opts); err != nil {
			b.Fatal(err)
		}
		return plan, time.Since(start) - plan
	}
	var plans, rollouts, steps time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plan, rollout := upgrade(nodes...)
		plans, rollouts = plans+plan, rollouts+rollout
		b.StopTimer()
		for _, n := range nodes {
			_, step := upgrade(n)
			steps += step
		}
		b.StartTimer()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(plans), "plan-ms")
	b.ReportMetric(ms(rollouts), "rollout-ms")
	b.ReportMetric(ms(steps), "sum-of-steps-ms")
}
