// Package delegate hands a command line to another program of this
// module in place of the running one: the repository's main, which links
// only synth, runs the full command (cmd/homelab) for everything else.
package delegate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"syscall"
)

// Env names an executable of the full command to use instead of looking
// for or building one.
const Env = "HOMELAB_FULL"

// Sibling is the name the full command is looked for under beside the
// running program (`go build -o bin/homelab-full ./cmd/homelab`).
const Sibling = "homelab-full"

// Resolve returns the executable of the main package pkg: $HOMELAB_FULL
// if set, else Sibling beside the running program, else one built from
// the module's source in the working directory with the Go toolchain into
// the user's cache (go build is incremental, so an up-to-date one is only
// checked).
func Resolve(pkg string) (string, error) {
	if p := os.Getenv(Env); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), Sibling)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%s is not installed beside this program and there is no Go toolchain to build it: `go build -o %s %s` next to it, or set %s", path.Base(pkg), Sibling, pkg, Env)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	// One executable per working tree: clones at other commits do not
	// rebuild each other's.
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(wd))
	out := filepath.Join(cache, "homelab", "bin", hex.EncodeToString(sum[:8]), Sibling)
	build := exec.Command(goTool, "build", "-o", out, pkg)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building %s: %w", pkg, err)
	}
	return out, nil
}

// Exec replaces the running program with pkg's executable (see Resolve)
// run with args, keeping the environment, standard streams and working
// directory, so its exit code is the caller's. It returns only on
// failure.
func Exec(pkg string, args []string) error {
	exe, err := Resolve(pkg)
	if err != nil {
		return err
	}
	err = syscall.Exec(exe, append([]string{exe}, args...), os.Environ())
	return errors.Join(fmt.Errorf("running %s", exe), err)
}
