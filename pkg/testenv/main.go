package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/localenv"
	"github.com/funoffshore/homelab/pkg/manifest"
	"github.com/funoffshore/homelab/pkg/nodeenv"
)

// Main runs the tests of a package that builds construct trees: it makes
// sure jsii's node child starts quietly and is stopped after the tests.
// Use it as `func TestMain(m *testing.M) { testenv.Main(m) }`.
func Main(m *testing.M) {
	nodeenv.Ensure()
	QuietLogs()
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// QuietLogs gives controller-runtime a logger that discards, so clients
// and envtest never print the "log.SetLogger(...) was never called" stack
// dump into test output.
func QuietLogs() { ctrllog.SetLogger(logr.Discard()) }

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Fixture returns the path of the upstream test file rel (see package
// fixtures, e.g. fixtures.ProxmoxSchema) in the fixture cache. A missing
// file fails the test with one line naming the script that fetches it.
func Fixture(t testing.TB, rel string) string {
	t.Helper()
	p := fixtures.Path(rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s is not in %s: run `%s` (make test does)", rel, fixtures.Dir(), fixtures.Script)
	}
	return p
}

// ReadFixture returns the content of the fixture rel, failing like Fixture.
func ReadFixture(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(Fixture(t, rel))
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	return data
}

// DecodeYAML returns the objects of a multi-document YAML stream, skipping
// empty documents; it fails the test on malformed input.
func DecodeYAML(t testing.TB, data []byte) []*unstructured.Unstructured {
	t.Helper()
	out, err := manifest.Decode(data)
	if err != nil {
		t.Fatalf("decoding YAML: %v", err)
	}
	return out
}

// BuildHelper builds the homelab-testenv helper (package localenv starts
// it for `validate --local` and the simulations) into a temporary
// directory and points $HOMELAB_TESTENV at it, so CLI tests neither look
// for an installed one nor build it into the user cache. Call the
// returned function to remove it.
func BuildHelper() (func(), error) {
	dir, err := os.MkdirTemp("", "homelab-testenv-")
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "homelab-testenv")
	cmd := exec.Command("go", "build", "-o", out, localenv.HelperPackage)
	cmd.Dir = RepoRoot()
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("building %s: %v: %s", localenv.HelperPackage, err, msg)
	}
	os.Setenv(localenv.HelperEnv, out)
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// Tests may move HOME; the helper must still find the binaries.
		os.Setenv("KUBEBUILDER_ASSETS", AssetsDir())
	}
	return func() { os.RemoveAll(dir) }, nil
}

// Talhelper returns the talhelper binary that hack/talhelper.sh builds
// ($TALHELPER, or its place in the cache); a missing binary fails the
// test with one line naming the script.
func Talhelper(t testing.TB) string {
	t.Helper()
	p := os.Getenv("TALHELPER")
	if p == "" {
		out, err := exec.Command("bash", "-c", `echo "${HOMELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homelab}/talhelper/talhelper"`).Output()
		if err != nil {
			t.Fatal(err)
		}
		p = strings.TrimSpace(string(out))
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("talhelper is not at %s: run `bash hack/talhelper.sh` (make test does)", p)
	}
	return p
}
