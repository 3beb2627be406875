package e2e

import (
	"bytes"
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

// process runs one program of the simulated cluster and restarts it when
// it exits, as a kubelet restarts a crashing container (a controller
// started before its CRDs exist exits and comes back). Its output goes to
// a log file whose last lines the test prints on failure.
type process struct {
	name    string
	path    string
	args    []string
	env     []string
	logPath string

	mu       sync.Mutex
	cmd      *exec.Cmd
	restarts int
	stopped  bool
	done     chan struct{}
}

// startProcess starts the program name from binDir with args, logging to
// logDir/name.log.
func startProcess(binDir, logDir, name string, args, env []string) (*process, error) {
	p := &process{
		name:    name,
		path:    filepath.Join(binDir, name),
		args:    args,
		env:     append(os.Environ(), env...),
		logPath: filepath.Join(logDir, name+".log"),
		done:    make(chan struct{}),
	}
	if _, err := os.Stat(p.path); err != nil {
		return nil, fmt.Errorf("%s not found in %s: run `bash hack/e2e.sh` (make e2e does)", name, binDir)
	}
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if err := p.spawn(log); err != nil {
		log.Close()
		return nil, err
	}
	go p.supervise(log)
	return p, nil
}

func (p *process) spawn(log io.Writer) error {
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	return nil
}

func (p *process) supervise(log *os.File) {
	defer close(p.done)
	defer log.Close()
	for {
		p.mu.Lock()
		cmd := p.cmd
		p.mu.Unlock()
		err := cmd.Wait()
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			return
		}
		p.restarts++
		n := p.restarts
		p.mu.Unlock()
		fmt.Fprintf(log, "e2e: %s exited (%v); restart %d in 1s\n", p.name, err, n)
		time.Sleep(time.Second)
		p.mu.Lock()
		stopped := p.stopped
		p.mu.Unlock()
		if stopped {
			return
		}
		if err := p.spawn(log); err != nil {
			fmt.Fprintf(log, "e2e: %v\n", err)
			return
		}
	}
}

// stop ends the program (SIGTERM, then SIGKILL after a grace period).
func (p *process) stop() {
	p.mu.Lock()
	p.stopped = true
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		if cmd != nil && cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		<-p.done
	}
}

// restart ends the running program (SIGTERM); the supervisor starts it
// again, as a node's static pods start again when it comes back.
func (p *process) restart() {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
}

// Restarts is how often the program exited and was started again.
func (p *process) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// tail returns the last n lines of the program's log.
func (p *process) tail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("    " + string(l) + "\n")
	}
	return b.String()
}
