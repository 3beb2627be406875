package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/pkg/manifest"
	"github.com/funoffshore/homelab/pkg/nodeenv"
)

// Main runs the tests of a package that builds construct trees: it makes
// sure jsii's node child starts quietly and is stopped after the tests.
// Use it as `func TestMain(m *testing.M) { testenv.Main(m) }`.
func Main(m *testing.M) {
	nodeenv.Ensure()
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Fixture returns the path of a file in ../shared/fixtures, the project's
// read-only reference data next to the repository.
func Fixture(rel string) string {
	return filepath.Join(RepoRoot(), "..", "shared", "fixtures", filepath.FromSlash(rel))
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
