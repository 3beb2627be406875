package nodeenv

import (
	"os"
	"testing"
)

// TestMain removes the copy of jsii's runtime the client prepared while
// the test binary initialized, as every main does.
func TestMain(m *testing.M) {
	Ensure()
	os.Exit(m.Run())
}
