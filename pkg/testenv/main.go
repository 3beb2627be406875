package testenv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"

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
// empty documents.
func DecodeYAML(t testing.TB, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("decoding YAML: %v", err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}
