package core_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Work registered with Prepare runs when a tree starts, before NewApp's
// first call into jsii returns, and in the background: NewApp does not
// wait for it.
func TestPrepareRunsWhenATreeStarts(t *testing.T) {
	started := make(chan struct{}, 4)
	release := make(chan struct{})
	core.Prepare(func() {
		started <- struct{}{}
		<-release
	})
	defer close(release)
	select {
	case <-started:
		t.Fatal("the work ran before any tree started")
	case <-time.After(50 * time.Millisecond):
	}
	core.NewApp(nil)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("NewApp did not start the registered work")
	}
	assert.Empty(t, started, "the work ran more than once for one tree")
}
