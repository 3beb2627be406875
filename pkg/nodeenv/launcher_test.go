//go:build unix

package nodeenv

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLauncherRunsTheKernel starts the launcher the way jsii starts its
// node (the wrapper script as the only argument) with a stand-in kernel
// beside the wrapper: a node script that answers on descriptor 3, prints
// on its stdout and stderr and exits 3. The kernel's API is on the
// launcher's stdin and stdout, its stdout reaches jsii's client as
// {"stdout": base64} lines on stderr, its stderr passes through, and the
// exit code is the kernel's; the wrapper never runs.
func TestLauncherRunsTheKernel(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	script, err := installLauncher()
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "lib"), 0o755))
	entrypoint := filepath.Join(dir, "bin", "jsii-runtime.js")
	require.NoError(t, os.WriteFile(entrypoint, []byte("throw new Error('the wrapper must not run')\n"), 0o644))
	kernel := `const fs = require("fs");
const buf = Buffer.alloc(64);
const n = fs.readSync(3, buf, 0, 64, null);
fs.writeSync(3, "pong " + buf.subarray(0, n).toString());
console.log("to stdout");
process.stdout.write("and more\n");
console.error("to stderr");
process.exitCode = 3;
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lib", "program.js"), []byte(kernel), 0o644))

	cmd := exec.Command(script, entrypoint)
	cmd.Stdin = strings.NewReader("ping\n")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v: %s", err, stderr.String())
	assert.Equal(t, 3, exit.ExitCode())
	assert.Equal(t, "pong ping\n", stdout.String(), "the API")

	printed, raw := "", ""
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var m map[string]string
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			raw += sc.Text() + "\n"
			continue
		}
		b, err := base64.StdEncoding.DecodeString(m["stdout"])
		require.NoError(t, err)
		printed += string(b)
	}
	assert.Equal(t, "to stdout\nand more\n", printed, "the kernel's stdout, as jsii's client reads it")
	assert.Equal(t, "to stderr\n", raw)
}

// TestLauncherRunsOtherScripts: started with anything but jsii's wrapper,
// the launcher is node.
func TestLauncherRunsOtherScripts(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	script, err := installLauncher()
	require.NoError(t, err)
	out, err := exec.Command(script, "-e", "console.log(6 * 7)").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "42\n", string(out))
}

// TestLauncherRepaired: a launcher file cut short is written again, and
// an intact one is left alone.
func TestLauncherRepaired(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	script, err := installLauncher()
	require.NoError(t, err)
	want, err := os.ReadFile(script)
	require.NoError(t, err)
	preload := filepath.Join(filepath.Dir(script), "preload.js")
	before, err := os.Stat(preload)
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(script, want[:10], 0o755))
	again, err := installLauncher()
	require.NoError(t, err)
	assert.Equal(t, script, again)
	got, err := os.ReadFile(script)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	after, err := os.Stat(preload)
	require.NoError(t, err)
	assert.Equal(t, before.ModTime(), after.ModTime(), "the intact file was rewritten")
	info, err := os.Stat(script)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), info.Mode().Perm())
}

// TestUserChoiceWins keeps a JSII_NODE the user set.
func TestUserChoiceWins(t *testing.T) {
	t.Setenv(nodeVar, "")
	os.Unsetenv(nodeVar)
	t.Setenv(jsiiNode, "/opt/node22/bin/node")
	assert.False(t, useLauncher())
	assert.Equal(t, "/opt/node22/bin/node", os.Getenv(jsiiNode))
}

// TestInheritedLauncherKept: a program started by one that set the
// launcher up keeps it, without closing jsii's client again.
func TestInheritedLauncherKept(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv(nodeVar, "")
	os.Unsetenv(nodeVar)
	t.Setenv(jsiiNode, "")
	os.Unsetenv(jsiiNode)
	require.True(t, useLauncher())
	script := os.Getenv(jsiiNode)
	assert.Equal(t, "node.sh", filepath.Base(script))
	assert.False(t, useLauncher(), "nothing changed")
	assert.Equal(t, script, os.Getenv(jsiiNode))
}

// TestLauncherNotInstalled: where the launcher cannot be installed (here
// the cache's homelab directory is a file), jsii keeps its own wrapper.
func TestLauncherNotInstalled(t *testing.T) {
	cache := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(cache, "homelab"), nil, 0o644))
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv(nodeVar, "")
	os.Unsetenv(nodeVar)
	t.Setenv(jsiiNode, "")
	os.Unsetenv(jsiiNode)
	assert.False(t, useLauncher())
	assert.Empty(t, os.Getenv(jsiiNode))
}
