package delegate_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/pkg/cli/delegate"
)

// The repository's main links only synth: none of the deployer's clients,
// SOPS (and the cloud KMS clients of its key services), the validators or
// the simulators.
func TestMainLinksOnlySynth(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/funoffshore/homelab").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	for _, heavy := range []string{
		"github.com/getsops/sops/v3", "sigs.k8s.io/controller-runtime/pkg/client", "github.com/luthermonson/go-proxmox",
		"github.com/siderolabs/talos/pkg/machinery/client", "sigs.k8s.io/kustomize/api/krusty",
		"github.com/funoffshore/homelab/pkg/deploy", "github.com/funoffshore/homelab/pkg/validate", "github.com/funoffshore/homelab/pkg/testenv",
		"github.com/aws/aws-sdk-go-v2/service/kms",
	} {
		assert.False(t, slices.Contains(deps, heavy), "the main links %s", heavy)
	}
	assert.True(t, slices.Contains(deps, "github.com/funoffshore/homelab/synth"))
	t.Logf("%d packages", len(deps))
}

// run runs exe with args and returns its output and exit code.
func run(t *testing.T, env []string, exe string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

// The main runs synth and version itself and every other command in the
// full command found beside it, with its exit code; a missing full
// command is an error that names it.
func TestMainHandsOtherCommandsOn(t *testing.T) {
	dir := t.TempDir()
	light, full := filepath.Join(dir, "homelab"), filepath.Join(dir, "homelab-full")
	for exe, pkg := range map[string]string{light: "github.com/funoffshore/homelab", full: "github.com/funoffshore/homelab/cmd/homelab"} {
		out, err := exec.Command("go", "build", "-o", exe, pkg).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	out, code := run(t, nil, light, "version")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "flux v2.9.0")

	out, code = run(t, nil, light, "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "deploy", "the help is the full command's")

	out, code = run(t, nil, light, "plan", "--nonsense")
	assert.Equal(t, 64, code, "the full command's usage exit code passes through: %s", out)
	assert.Contains(t, out, "unknown flag: --nonsense")

	out, code = run(t, []string{"HOMELAB_FULL=" + filepath.Join(dir, "missing")}, light, "validate")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, filepath.Join(dir, "missing"))
}

// Prune removes the cached builds of working trees that are gone and of
// those not used for a month, and nothing else.
func TestPruneRemovesOldBuilds(t *testing.T) {
	root, now := t.TempDir(), time.Now()
	build := func(name, wd string, used time.Time) string {
		dir := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "homelab-full"), []byte("x"), 0o755))
		rec := filepath.Join(dir, "workdir")
		require.NoError(t, os.WriteFile(rec, []byte(wd), 0o644))
		require.NoError(t, os.Chtimes(rec, used, used))
		return dir
	}
	live := t.TempDir()
	fresh := build("fresh", live, now.Add(-time.Hour))
	gone := build("gone", filepath.Join(t.TempDir(), "removed-clone"), now)
	stale := build("stale", live, now.Add(-delegate.Unused-time.Hour))
	other := filepath.Join(root, "homelab-testenv")
	require.NoError(t, os.WriteFile(other, []byte("x"), 0o755))
	unknown := filepath.Join(root, "unknown")
	require.NoError(t, os.MkdirAll(unknown, 0o755))

	assert.ElementsMatch(t, []string{gone, stale}, delegate.Prune(root, now))
	for _, kept := range []string{fresh, other, unknown} {
		_, err := os.Stat(kept)
		assert.NoError(t, err, "%s was removed", kept)
	}
}
