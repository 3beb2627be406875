package synthcli_test

import (
	"github.com/funoffshore/homelab/pkg/lab"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/pkg/cli/synthcli"
)

// TestSynthRefusesASubdirectory runs synth from a directory below the
// module root, as a newcomer in cmd/ would: it refuses, naming the root,
// and writes no stray cluster/ there.
func TestSynthRefusesASubdirectory(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/lab\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "cmd", "lab")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	built := false
	cmd := synthcli.SynthCommand(func() (*lab.Lab, error) { built = true; return &lab.Lab{App: core.NewApp(nil)}, nil })
	cmd.SetArgs(nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "run it from "+root) {
		t.Fatalf("want a refusal naming %s, got %v", root, err)
	}
	if built {
		t.Error("the tree was built before the refusal")
	}
	if _, err := os.Stat(filepath.Join(sub, "cluster")); !os.IsNotExist(err) {
		t.Error("a stray cluster/ was written in the subdirectory")
	}
}
