// Package delegate hands a command line to another program of this
// module in place of the running one: a main that links only synth runs
// the full command for everything else. The full command is another main
// package (the repository's cmd/homelab) or the same main package built
// with a build tag (a library user's module, see package launch).
package delegate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/funoffshore/homelab/pkg/gobuild"
)

// Env names an executable of the full command to use instead of looking
// for or building one.
const Env = "HOMELAB_FULL"

// SiblingSuffix makes the name the full command is looked for under
// beside the running program: bin/homelab looks for bin/homelab-full
// (`go build -o bin/homelab-full ./cmd/homelab`).
const SiblingSuffix = "-full"

// Unused is how long a build of the full command may go unused before a
// later build removes it from the cache.
const Unused = 30 * 24 * time.Hour

// Program is the full command to run: a main package, built with Tags.
type Program struct {
	Pkg  string
	Tags []string
}

// Self returns the running main package built with tags: what a main that
// links only synth delegates to when the full command is the same
// package under a build tag.
func Self(tags ...string) (Program, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Path == "" || bi.Path == "command-line-arguments" {
		return Program{}, errors.New("cannot tell which package this program was built from: run it as `go run .` (or `go build`) in its module's directory, not from a list of .go files")
	}
	return Program{Pkg: bi.Path, Tags: tags}, nil
}

// Resolve returns the executable of p: $HOMELAB_FULL if set, else the
// sibling beside the running program (its name + SiblingSuffix), else one
// built from the module's source in the working directory with the Go
// toolchain into the user's cache (go build is incremental, so an
// up-to-date one is only checked). A build prints its progress to log
// and removes the cache's builds for working trees that are gone or
// have not been used for Unused.
func Resolve(p Program, log io.Writer) (string, error) {
	if exe := os.Getenv(Env); exe != "" {
		return exe, nil
	}
	name := "homelab-full"
	if self, err := os.Executable(); err == nil {
		name = filepath.Base(self) + SiblingSuffix
		sib := filepath.Join(filepath.Dir(self), name)
		if fi, err := os.Stat(sib); err == nil && fi.Mode().IsRegular() {
			return sib, nil
		}
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", fmt.Errorf("%s is not installed beside this program and there is no Go toolchain to build it: build it next to it (`go build -o %s %s`), or set %s", name, name, p.Pkg, Env)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	// One executable per working tree and program: clones at other
	// commits do not rebuild each other's.
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := filepath.Join(cache, "homelab", "bin")
	sum := sha256.Sum256([]byte(strings.Join(append([]string{wd, p.Pkg}, p.Tags...), "\x00")))
	dir := filepath.Join(root, hex.EncodeToString(sum[:8]))
	out := filepath.Join(dir, "homelab-full")
	b := gobuild.Build{Name: "the full command line (validate, plan, deploy, secrets)", Pkg: p.Pkg, Tags: p.Tags, Out: out, Log: log}
	if err := b.Run(context.Background()); err != nil {
		return "", err
	}
	// Record which working tree the build is for, and that it was used.
	if err := os.WriteFile(filepath.Join(dir, workdirFile), []byte(wd), 0o644); err != nil {
		return "", err
	}
	Prune(root, time.Now())
	return out, nil
}

// workdirFile, in a build's directory, holds the working tree it was
// built from; its modification time is the build's last use.
const workdirFile = "workdir"

// Prune removes the builds under root whose working tree no longer
// exists or that were last used longer than Unused before now, and
// returns the directories it removed. Entries it does not recognise as
// builds are kept.
func Prune(root string, now time.Time) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		rec := filepath.Join(dir, workdirFile)
		wd, err := os.ReadFile(rec)
		if !e.IsDir() || err != nil {
			continue
		}
		fi, err := os.Stat(rec)
		if err != nil {
			continue
		}
		_, gone := os.Stat(string(wd))
		if errors.Is(gone, os.ErrNotExist) || now.Sub(fi.ModTime()) > Unused {
			if os.RemoveAll(dir) == nil {
				removed = append(removed, dir)
			}
		}
	}
	return removed
}

// Exec replaces the running program with p's executable (see Resolve)
// run with args, keeping the environment, standard streams and working
// directory, so its exit code is the caller's. It returns only on
// failure.
func Exec(p Program, args []string) error {
	exe, err := Resolve(p, os.Stderr)
	if err != nil {
		return err
	}
	err = syscall.Exec(exe, append([]string{exe}, args...), os.Environ())
	return errors.Join(fmt.Errorf("running %s", exe), err)
}
