package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCommandLine runs this module's program as its user does: synth and
// version in the program `go build .` makes, which links none of the
// deployer; any other command in the same package built with the
// homelab_full tag, which the program builds on first use into the user
// cache (announcing it) and runs with its arguments and exit code.
func TestCommandLine(t *testing.T) {
	tmp := t.TempDir()
	exe := filepath.Join(tmp, "ha-nfs")
	out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	for _, heavy := range []string{"github.com/funoffshore/homelab/pkg/cli\n", "github.com/funoffshore/homelab/pkg/deploy\n", "github.com/getsops/sops/v3\n"} {
		require.NotContains(t, string(deps), heavy, "the synth build links %s", heavy)
	}

	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	require.NoError(t, err)
	cache := filepath.Join(tmp, "cache")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(exe, args...)
		// A cache of its own for the full command, Go's build cache kept.
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache, "GOCACHE="+strings.TrimSpace(string(gocache)), "HOMELAB_FULL=")
		out, err := cmd.CombinedOutput()
		if exit, ok := err.(*exec.ExitError); ok {
			return string(out), exit.ExitCode()
		}
		require.NoError(t, err)
		return string(out), 0
	}

	out2, code := run("synth", "--out", filepath.Join(tmp, "cluster"))
	require.Equal(t, 0, code, out2)
	_, err = os.Stat(filepath.Join(tmp, "cluster", "talos", "controlplane.yaml"))
	require.NoError(t, err, "synth wrote no tree")
	require.NotContains(t, out2, "building", "synth built something")

	help, code := run("--help")
	require.Equal(t, 0, code, help)
	for _, want := range []string{"deploy", "secrets", "diff"} {
		require.Contains(t, help, want)
	}
	// A build that compiles something (or runs long) is announced; one
	// that only links what Go's build cache holds, quickly, is quiet by
	// design (gobuild.Quiet), as on a second run of the same clone.
	if strings.Contains(help, "building the full command line") {
		require.Contains(t, help, "building the full command line (validate, plan, deploy, secrets) (github.com/funoffshore/homelab/examples/ha-nfs)")
		require.Contains(t, help, "built the full command line")
	}
	builds, _ := filepath.Glob(filepath.Join(cache, "homelab", "bin", "*", "homelab-full"))
	require.Len(t, builds, 1)
	again, code := run("plan", "--nonsense")
	require.Equal(t, 64, code, "the full command's exit code passes through: %s", again)
	// Up to date: nothing compiled (a slow check on a loaded machine may
	// still be announced, with 0 packages).
	require.NotContains(t, again, "packages compiled,", "an up-to-date full command reported progress")
	if strings.Contains(again, "built the full command line") {
		require.Contains(t, again, "(0 packages compiled)", "an up-to-date full command was recompiled")
	}
}
