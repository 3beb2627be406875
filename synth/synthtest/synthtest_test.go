package synthtest_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/funoffshore/homelab/synth"
	"github.com/funoffshore/homelab/synth/synthtest"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	msgs  []string
	fatal bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	r.fatal = true
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// golden runs Golden in its own goroutine, as Fatalf ends it.
func golden(t *testing.T, dir string, files synth.Files, update bool) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		synthtest.Golden(r, dir, files, update)
	}()
	<-done
	return r
}

func TestGolden(t *testing.T) {
	files := synth.Files{"a/x.yaml": []byte(synth.Marker + "\nkind: X\n")}
	t.Run("a first run without a snapshot says to run with -update", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "testdata", "cluster")
		r := golden(t, dir, files, false)
		if !r.fatal || len(r.msgs) != 1 || !strings.Contains(r.msgs[0], "run the test once with -update to write the first snapshot (1 files)") {
			t.Errorf("messages %q", r.msgs)
		}
	})
	t.Run("-update writes the snapshot and the next run passes", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cluster")
		if r := golden(t, dir, files, true); len(r.msgs) != 0 {
			t.Fatalf("messages %q", r.msgs)
		}
		if r := golden(t, dir, files, false); len(r.msgs) != 0 {
			t.Errorf("messages %q", r.msgs)
		}
	})
	t.Run("a changed tree fails with a diff", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cluster")
		golden(t, dir, files, true)
		changed := synth.Files{"a/x.yaml": []byte(synth.Marker + "\nkind: Y\n")}
		r := golden(t, dir, changed, false)
		if len(r.msgs) != 1 || !strings.Contains(r.msgs[0], "-kind: X\n+kind: Y") {
			t.Errorf("messages %q", r.msgs)
		}
	})
}
