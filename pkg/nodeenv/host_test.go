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

// TestMain lets the test binary act as the host, as every main does.
func TestMain(m *testing.M) {
	Ensure()
	os.Exit(m.Run())
}

// TestHostRelaysTheKernel starts this test binary the way jsii starts its
// node (the wrapper script as the only argument, JSII_NODE pointing at
// it) with a stand-in kernel beside the wrapper: a node script that
// answers on descriptor 3, prints on its stdout and stderr and exits 3.
// The host relays the API both ways, hands the kernel's output to jsii's
// client as {"stdout"|"stderr": base64} lines on stderr, and exits with
// the kernel's code.
func TestHostRelaysTheKernel(t *testing.T) {
	node, err := exec.LookPath("node")
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
console.error("to stderr");
process.exitCode = 3;
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lib", "program.js"), []byte(kernel), 0o644))

	cmd := exec.Command(os.Args[0], entrypoint)
	cmd.Env = append(os.Environ(), hostVar+"="+node)
	cmd.Stdin = strings.NewReader("ping\n")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v: %s", err, stderr.String())
	assert.Equal(t, 3, exit.ExitCode())
	assert.Equal(t, "pong ping\n", stdout.String(), "the API relay")

	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var m map[string]string
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "a stderr line jsii's client cannot read: %q", sc.Text())
		for k, v := range m {
			b, err := base64.StdEncoding.DecodeString(v)
			require.NoError(t, err)
			got[k] += string(b)
		}
	}
	assert.Equal(t, map[string]string{"stdout": "to stdout\n", "stderr": "to stderr\n"}, got)
}

// TestUserChoiceWins keeps a JSII_NODE the user set.
func TestUserChoiceWins(t *testing.T) {
	t.Setenv(hostVar, "")
	os.Unsetenv(hostVar)
	t.Setenv(jsiiNode, "/opt/node22/bin/node")
	assert.False(t, useHost())
	assert.Equal(t, "/opt/node22/bin/node", os.Getenv(jsiiNode))
}
