package flux_test

import (
	"testing"

	"github.com/funoffshore/homelab/constructs/flux"
)

func BenchmarkCRDs(b *testing.B) {
	for b.Loop() {
		if _, err := flux.CRDs(); err != nil {
			b.Fatal(err)
		}
	}
}
