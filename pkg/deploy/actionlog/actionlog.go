// Package actionlog appends the deployer's actions as JSON lines (time,
// layer, target, action, result) to a file outside the repository: the
// memo's "every deployer action logged". Entries hold names, never values.
package actionlog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Entry is one action.
type Entry struct {
	Time       time.Time `json:"time"`
	Layer      string    `json:"layer"`
	Target     string    `json:"target"`
	Action     string    `json:"action"`
	Result     string    `json:"result"` // "ok" or "failed"
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"durationMs"`
}

// Log appends entries to a file; the zero value discards them.
type Log struct {
	// Path of the log file.
	Path string
	// Now is the clock. Default: time.Now.
	Now func() time.Time

	mu sync.Mutex // guards writes
}

// DefaultPath returns <user state dir>/homelab/actions.jsonl:
// $XDG_STATE_HOME or ~/.local/state.
func DefaultPath() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "homelab", "actions.jsonl"), nil
}

// Record runs fn as the action and appends its entry.
func (l *Log) Record(layer, target, action string, fn func() error) error {
	now := time.Now
	if l != nil && l.Now != nil {
		now = l.Now
	}
	start := now()
	err := fn()
	e := Entry{Time: start.UTC(), Layer: layer, Target: target, Action: action, Result: "ok", DurationMS: now().Sub(start).Milliseconds()}
	if err != nil {
		e.Result, e.Error = "failed", err.Error()
	}
	if werr := l.append(e); werr != nil && err == nil {
		return fmt.Errorf("action log: %w", werr)
	}
	return err
}

func (l *Log) append(e Entry) error {
	if l == nil || l.Path == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(l.Path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	return err
}
