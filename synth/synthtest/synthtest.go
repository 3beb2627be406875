// Package synthtest is snapshot testing for homelabs: compare a fresh
// synth with a committed tree, and rewrite the tree when asked.
package synthtest

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/funoffshore/homelab/synth"
)

// Golden fails t with a unified diff when the generated files under dir
// differ from files. With update it first rewrites dir (atomically, keeping
// hand-written files), so `go test -update` accepts a change.
func Golden(t testing.TB, dir string, files synth.Files, update bool) {
	t.Helper()
	if update {
		if err := synth.Write(dir, files); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s does not exist yet: run the test once with -update to write the first snapshot (%d files), then commit it", dir, len(files))
	}
	diff, err := synth.Diff(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if diff != "" {
		t.Errorf("%s differs from a fresh synth (go test -update to accept):\n%s", dir, diff)
	}
}
