//go:build unix

package nodeenv

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// useHost points JSII_NODE at this program, unless the user set it (or
// JSII_RUNTIME) or node is not on PATH, and reports whether it did.
func useHost() bool {
	_, inherited := os.LookupEnv(hostVar)
	if (os.Getenv(jsiiNode) != "" && !inherited) || os.Getenv("JSII_RUNTIME") != "" {
		return false
	}
	node := os.Getenv(hostVar)
	if !inherited {
		var err error
		if node, err = exec.LookPath("node"); err != nil {
			return false
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return false
	}
	os.Setenv(hostVar, node)
	os.Setenv(jsiiNode, exe)
	return true
}

// hostCall reports whether jsii started this program as its node: with
// hostVar set and the wrapper script as the only argument.
func hostCall() (entrypoint string, ok bool) {
	if os.Getenv(hostVar) == "" || len(os.Args) != 2 || filepath.Base(os.Args[1]) != "jsii-runtime.js" {
		return "", false
	}
	return os.Args[1], true
}

// host does what jsii's wrapper does, in Go: it starts the kernel
// (lib/program.js beside the wrapper) with a socket as descriptor 3,
// relays the API between that socket and its own stdin/stdout, passes the
// kernel's stdout and stderr to jsii's client as {"stdout"|"stderr":
// base64} lines on stderr, forwards termination signals, and returns the
// kernel's exit code.
func host(entrypoint string) int {
	program := filepath.Join(filepath.Dir(filepath.Dir(entrypoint)), "lib", "program.js")
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return fail(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "jsii-api"), os.NewFile(uintptr(fds[1]), "jsii-api-kernel")
	cmd := exec.Command(os.Getenv(hostVar), "--preserve-symlinks", program)
	cmd.Env = withoutHost(os.Environ())
	cmd.ExtraFiles = []*os.File{theirs}
	var stderrMu sync.Mutex
	cmd.Stdout = &console{key: "stdout", mu: &stderrMu}
	cmd.Stderr = &console{key: "stderr", mu: &stderrMu}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	theirs.Close()

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	go func() {
		for s := range signals {
			cmd.Process.Signal(s)
		}
	}()
	go func() {
		// Requests: until jsii's client closes the pipe, then the kernel
		// reads end-of-file.
		io.Copy(ours, os.Stdin)
		syscall.Shutdown(fds[0], syscall.SHUT_WR)
	}()
	responses := make(chan struct{})
	go func() {
		io.Copy(os.Stdout, ours)
		close(responses)
	}()
	err = cmd.Wait()
	<-responses
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// console writes what the kernel prints as the lines jsii's client turns
// back into its own stdout and stderr.
type console struct {
	key string
	mu  *sync.Mutex
}

func (c *console) Write(p []byte) (int, error) {
	line, _ := json.Marshal(map[string]string{c.key: base64.StdEncoding.EncodeToString(p)})
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := os.Stderr.Write(append(line, '\n')); err != nil {
		return 0, err
	}
	return len(p), nil
}

// withoutHost drops the host's variables from env: the kernel is plain
// node, and programs it might start use jsii's default.
func withoutHost(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, hostVar+"=") && !strings.HasPrefix(e, jsiiNode+"=") {
			out = append(out, e)
		}
	}
	return out
}

func fail(err error) int {
	os.Stderr.WriteString("homelab: hosting jsii's kernel: " + err.Error() + "\n")
	return 1
}
