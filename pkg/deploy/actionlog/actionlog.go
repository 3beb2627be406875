// Package actionlog appends the deployer's actions as JSON lines (time,
// layer, target, action, result) to a file outside the repository: the
// memo's "every deployer action logged". Entries hold names, never values.
package actionlog

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Entry is one line of the log: the start of an action (Result
// "started") or its end ("ok" or "failed"), both with the action's ID.
type Entry struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Layer      string    `json:"layer"`
	Target     string    `json:"target"`
	Action     string    `json:"action"`
	Result     string    `json:"result"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"durationMs"`
}

// Results of an entry.
const (
	Started = "started"
	OK      = "ok"
	Failed  = "failed"
)

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

// Record runs fn as the action: it appends (and syncs) a "started" entry
// before fn runs and an "ok" or "failed" entry after, so an action that a
// crash interrupted leaves its start in the log (see Unfinished). A log
// that cannot be written stops the action before it starts.
func (l *Log) Record(layer, target, action string, fn func() error) error {
	now := time.Now
	if l != nil && l.Now != nil {
		now = l.Now
	}
	start := now()
	e := Entry{ID: newID(), Time: start.UTC(), Layer: layer, Target: target, Action: action, Result: Started}
	if err := l.append(e); err != nil {
		return fmt.Errorf("action log: %w", err)
	}
	err := fn()
	e.Time, e.Result, e.DurationMS = now().UTC(), OK, now().Sub(start).Milliseconds()
	if err != nil {
		e.Result, e.Error = Failed, err.Error()
	}
	if werr := l.append(e); werr != nil && err == nil {
		return fmt.Errorf("action log: %w", werr)
	}
	return err
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Read returns the entries of the log at path, oldest first.
func Read(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return out, fmt.Errorf("action log %s: line %d does not parse (a crash mid-write?)", path, i+1)
		}
		out = append(out, e)
	}
	return out, nil
}

// Unfinished returns the started entries that have no end and that no
// later run of the same action (layer, target, action) finished: actions a
// crash (or a kill) interrupted and nothing has completed since, for the
// operator to check before the next run. The log keeps them either way.
func Unfinished(entries []Entry) []Entry {
	ended := map[string]bool{}
	for _, e := range entries {
		if e.Result != Started {
			ended[e.ID] = true
		}
	}
	var out []Entry
	for i, e := range entries {
		if e.Result != Started || ended[e.ID] {
			continue
		}
		redone := false
		for _, later := range entries[i+1:] {
			redone = redone || (later.Result == OK && later.Layer == e.Layer && later.Target == e.Target && later.Action == e.Action)
		}
		if !redone {
			out = append(out, e)
		}
	}
	return out
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
	if _, err := f.Write(append(line, '\n')); err != nil {
		return err
	}
	return f.Sync()
}
