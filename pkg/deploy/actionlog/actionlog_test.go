package actionlog_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
)

// TestACrashMidActionLeavesItsStart interrupts an action the way a crash
// would (the process stops inside it): its start is on disk, Unfinished
// names it, and the next run's entries sit beside it.
func TestACrashMidActionLeavesItsStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions.jsonl")
	log := &actionlog.Log{Path: path}
	func() {
		defer func() { _ = recover() }()
		_ = log.Record("proxmox", "VM/101", "create", func() error { panic("killed") })
	}()
	entries, err := actionlog.Read(path)
	require.NoError(t, err)
	u := actionlog.Unfinished(entries)
	if len(u) != 1 || u[0].Target != "VM/101" || u[0].Result != actionlog.Started {
		t.Fatalf("unfinished after the crash: %+v", u)
	}
	// The next run converges: the same action, started and ended; the
	// crashed start stays in the log beside it.
	require.NoError(t, log.Record("proxmox", "VM/101", "create", func() error { return nil }))
	failed := errors.New("task failed")
	if err := log.Record("proxmox", "VM/102", "create", func() error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("the action's error: %v", err)
	}
	entries, _ = actionlog.Read(path)
	if len(entries) != 5 {
		t.Fatalf("%d entries, want the crashed start plus two starts and two ends: %+v", len(entries), entries)
	}
	if entries[2].Result != actionlog.OK || entries[4].Result != actionlog.Failed || entries[4].Error != "task failed" {
		t.Errorf("ends: %+v %+v", entries[2], entries[4])
	}
	if entries[0].Result != actionlog.Started || entries[0].Target != "VM/101" {
		t.Errorf("the crashed start is gone from the log: %+v", entries[0])
	}
	if u := actionlog.Unfinished(entries); len(u) != 0 {
		t.Errorf("unfinished: %+v, want none once the next run finished the same action", u)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("log mode %04o", st.Mode().Perm())
	}
}

func TestAnUnwritableLogStopsTheActionBeforeItStarts(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o600))
	log := &actionlog.Log{Path: filepath.Join(dir, "file", "actions.jsonl")}
	ran := false
	if err := log.Record("talos", "node/a", "apply", func() error { ran = true; return nil }); err == nil || ran {
		t.Errorf("err %v, ran %v: want an error and the action not run", err, ran)
	}
}
