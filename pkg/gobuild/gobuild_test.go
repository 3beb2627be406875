package gobuild_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/pkg/gobuild"
)

// module writes a module with one main package printing msg.
func module(t *testing.T, msg string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/prog\n\ngo 1.26\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(fmt.Sprintf("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(%q) }\n", msg)), 0o644))
	return dir
}

// A build that compiles something announces it and says when it is done;
// the same build again has nothing to do and says nothing; the program
// runs.
func TestBuildSaysWhatItDoesOnlyWhenItDoesSomething(t *testing.T) {
	msg := fmt.Sprintf("built at %d", time.Now().UnixNano()) // a package Go has not compiled before
	dir := module(t, msg)
	out := filepath.Join(t.TempDir(), "bin", "prog")
	var log bytes.Buffer
	b := gobuild.Build{Name: "the program", Pkg: ".", Dir: dir, Out: out, Log: &log}
	require.NoError(t, b.Run(context.Background()))
	assert.Contains(t, log.String(), "building the program (.) into "+out)
	assert.Regexp(t, `built the program in \d+s \(1 packages compiled\)`, log.String())

	log.Reset()
	require.NoError(t, b.Run(context.Background()))
	assert.Empty(t, log.String(), "an up-to-date program was announced")
	got, err := exec.Command(out).Output()
	require.NoError(t, err)
	assert.Equal(t, msg, string(got))
}

// Two builds of one program at once (two terminals) both succeed: the
// second waits for the first instead of racing on the file.
func TestConcurrentBuildsWaitForEachOther(t *testing.T) {
	dir := module(t, fmt.Sprintf("concurrent %d", time.Now().UnixNano()))
	out := filepath.Join(t.TempDir(), "prog")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = gobuild.Build{Name: "the program", Pkg: ".", Dir: dir, Out: out}.Run(context.Background())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	_, err := exec.Command(out).Output()
	assert.NoError(t, err)
}

// A failed build returns the compiler's message and leaves no program.
func TestFailedBuildSaysWhy(t *testing.T) {
	dir := module(t, "x")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.go"), []byte("package main\n\nvar x int = \"s\"\n"), 0o644))
	out := filepath.Join(t.TempDir(), "prog")
	err := gobuild.Build{Name: "the program", Pkg: ".", Dir: dir, Out: out}.Run(context.Background())
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "broken.go:3") && strings.Contains(err.Error(), "building the program"), "%v", err)
	_, statErr := os.Stat(out)
	assert.True(t, os.IsNotExist(statErr))
}
