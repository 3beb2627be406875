// Package gobuild builds a program of the module in the working directory
// with the Go toolchain on PATH, for commands that run a program they do
// not link themselves (the full command line, the local test
// environment's helper). A build that compiles something says what it
// builds, how far it is and how long it took; a build with nothing to do
// stays silent. Two builds of one program at once wait for each other
// instead of racing on the file.
package gobuild

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build is one program to build.
type Build struct {
	// Name of the program in messages ("the full command").
	Name string
	// Pkg is the main package to build, as `go build` takes it.
	Pkg string
	// Dir is the directory go runs in (the module); empty means the
	// working directory.
	Dir string
	// Tags are build tags (go build -tags).
	Tags []string
	// Out is the executable to write.
	Out string
	// Log receives the progress lines; nil discards them.
	Log io.Writer
	// Every is how often a running build reports progress (default 20s).
	Every time.Duration
}

// Run builds the program into Out, holding a lock beside it while it does.
func (b Build) Run(ctx context.Context) error {
	log := cmp.Or[io.Writer](b.Log, io.Discard)
	if err := os.MkdirAll(filepath.Dir(b.Out), 0o755); err != nil {
		return err
	}
	unlock, err := lock(b.Out + ".lock")
	if err != nil {
		return err
	}
	defer unlock()

	args := []string{"build", "-v"}
	if len(b.Tags) > 0 {
		args = append(args, "-tags", strings.Join(b.Tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "-o", b.Out, b.Pkg)...)
	cmd.Dir = b.Dir
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("building %s: %w", b.Name, err)
	}
	p := &progress{b: b, log: log, start: start}
	var problems bytes.Buffer
	done := make(chan struct{})
	go p.tick(ctx, done)
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		line := sc.Text()
		// go build -v names each package it compiles on a line of its own;
		// everything else is the compiler's or the go command's message.
		if line != "" && !strings.ContainsAny(line, " \t") && !strings.HasPrefix(line, "#") {
			p.compiled(ctx)
			continue
		}
		problems.WriteString(line + "\n")
	}
	err = cmd.Wait()
	close(done)
	if err != nil {
		return fmt.Errorf("building %s (go %s): %w\n%s", b.Name, strings.Join(cmd.Args[1:], " "), err, strings.TrimSpace(problems.String()))
	}
	p.finish()
	return nil
}

// progress reports a running build.
type progress struct {
	b     Build
	log   io.Writer
	start time.Time

	mu      sync.Mutex
	n       int // packages compiled so far
	total   int // packages of the program, 0 until known
	started bool
}

// compiled counts one package; the first one announces the build.
func (p *progress) compiled(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.announce(ctx)
}

// announce says, once, what is being built and starts counting the
// program's packages. Callers hold p.mu.
func (p *progress) announce(ctx context.Context) {
	if p.started {
		return
	}
	p.started = true
	fmt.Fprintf(p.log, "building %s (%s) into %s: only what changed is compiled; the first build on a machine takes minutes\n", p.b.Name, p.b.Pkg, p.b.Out)
	go func() {
		n := p.count(ctx)
		p.mu.Lock()
		p.total = n
		p.mu.Unlock()
	}()
}

// count returns the number of packages the program is made of (what a
// build with an empty cache compiles), 0 if go list fails.
func (p *progress) count(ctx context.Context) int {
	args := []string{"list", "-deps"}
	if len(p.b.Tags) > 0 {
		args = append(args, "-tags", strings.Join(p.b.Tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, p.b.Pkg)...)
	cmd.Dir = p.b.Dir
	out, err := cmd.Output()
	if err != nil {
		return 0
	}
	return len(strings.Fields(string(out)))
}

// Quiet is how long a build with nothing to compile (an up-to-date
// program, or only a link) may run before it is announced.
const Quiet = 10 * time.Second

func (p *progress) tick(ctx context.Context, done <-chan struct{}) {
	t := time.NewTicker(cmp.Or(p.b.Every, 20*time.Second))
	defer t.Stop()
	quiet := time.NewTimer(Quiet)
	defer quiet.Stop()
	for {
		select {
		case <-done:
			return
		case <-quiet.C:
			p.mu.Lock()
			p.announce(ctx)
			p.mu.Unlock()
		case <-t.C:
			p.mu.Lock()
			if p.started {
				of := ""
				if p.total > 0 {
					of = fmt.Sprintf(" of at most %d", p.total)
				}
				fmt.Fprintf(p.log, "building %s: %d%s packages compiled, %s\n", p.b.Name, p.n, of, time.Since(p.start).Round(time.Second))
			}
			p.mu.Unlock()
		}
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		fmt.Fprintf(p.log, "built %s in %s (%d packages compiled)\n", p.b.Name, time.Since(p.start).Round(time.Second), p.n)
	}
}

// lock takes an exclusive lock on path (created if needed) and returns
// its release.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
