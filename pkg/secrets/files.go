package secrets

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// lock takes the store's lock (an advisory lock on its directory, so no
// lock file lands in Git): Set, a rekey and a recovery hold it while they
// read and write, so two of them never interleave and no update is lost.
// It returns the release.
func (s Store) lock() (func(), error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Open(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("locking the secret store: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the secret store: %w", err)
	}
	return func() { f.Close() }, nil
}

// ErrSymlink is a symbolic link inside the secret store.
var ErrSymlink = errors.New("a symbolic link in the secret store")

// root opens the store's directory (created if missing) as an os.Root:
// no path under it can lead outside, whatever links it holds.
func (s Store) root() (*os.Root, error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	return os.OpenRoot(s.Dir)
}

// rel is the path of namespace/name inside the store, after checking
// that neither its directory nor the file is a symbolic link.
func rel(root *os.Root, namespace, name string) (string, error) {
	for _, p := range []string{namespace, namespace + "/" + name + ".sops.yaml"} {
		fi, err := root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("%w: %s: the store writes only its own files; replace the link with a directory or file", ErrSymlink, filepath.Join(root.Name(), p))
		}
	}
	return namespace + "/" + name + ".sops.yaml", nil
}

// writeIn replaces the file p under root with data (mode 0644)
// atomically: a temporary file beside it, synced, renamed over it.
func writeIn(root *os.Root, p string, data []byte) error {
	if err := root.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".tmp-"+randomSuffix())
	f, err := root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer root.Remove(tmp)
	if err := finish(f, data); err != nil {
		return err
	}
	return root.Rename(tmp, p)
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// A rekey replaces many files and .sops.yaml, which must agree: a new
// cluster key with an old .sops.yaml would encrypt new Secrets for the
// key rotated out. It commits through a journal:
//
//  1. every new file is staged beside its target (NAME.rekey-new);
//  2. the journal, listing the staged files, is written atomically: the
//     commit point;
//  3. each staged file is renamed over its target, .sops.yaml last;
//  4. the journal is removed.
//
// Recover, run at the start of every secrets and deploy command, rolls a
// journal it finds forward (3 and 4 again; a rename done is skipped) and
// removes staged files without a journal (the rekey never committed).
// A crash at any write leaves the old files or the new ones, never a mix.

const stagedSuffix = ".rekey-new"

// journalPath is the rekey journal, beside .sops.yaml.
func (r Repo) journalPath() string {
	return filepath.Join(filepath.Dir(r.SopsConfig), ".homelab-rekey.journal")
}

type journal struct {
	// Files are the targets, in rename order (.sops.yaml last).
	Files []string `json:"files"`
}

// crashHook, set by tests, is called before every step of a commit; an
// error stops the commit there as a crash would, leaving what is on disk.
var crashHook func(step string) error

func step(name string) error {
	if crashHook != nil {
		return crashHook(name)
	}
	return nil
}

// commit writes files (target path -> content) through the journal.
func (r Repo) commit(files map[string][]byte, order []string) error {
	for _, p := range order {
		if err := step("stage " + p); err != nil {
			return err
		}
		if err := WriteFileAtomic(p+stagedSuffix, files[p], 0o644); err != nil {
			return err
		}
	}
	data, err := json.Marshal(journal{Files: order})
	if err != nil {
		return err
	}
	if err := step("journal"); err != nil {
		return err
	}
	if err := WriteFileAtomic(r.journalPath(), data, 0o644); err != nil {
		return err
	}
	return r.rollForward(order)
}

func (r Repo) rollForward(order []string) error {
	for _, p := range order {
		if err := step("rename " + p); err != nil {
			return err
		}
		if err := os.Rename(p+stagedSuffix, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := step("unjournal"); err != nil {
		return err
	}
	return os.Remove(r.journalPath())
}

// Recover finishes or undoes a rekey a crash interrupted (see commit) and
// returns what it did ("" when there was nothing to do).
func (r Repo) Recover() (string, error) {
	if _, err := os.Stat(r.Store.Dir); err == nil {
		unlock, err := r.Store.lock()
		if err != nil {
			return "", err
		}
		defer unlock()
	}
	data, err := os.ReadFile(r.journalPath())
	switch {
	case err == nil:
		var j journal
		if err := json.Unmarshal(data, &j); err != nil || len(j.Files) == 0 {
			return "", fmt.Errorf("the rekey journal %s does not parse: restore the files from Git (git checkout -- .sops.yaml secrets talos) and remove it", r.journalPath())
		}
		if err := r.rollForward(j.Files); err != nil {
			return "", fmt.Errorf("finishing the interrupted rekey of %d files: %w", len(j.Files), err)
		}
		return fmt.Sprintf("finished a rekey a crash interrupted (%d files, %s last)", len(j.Files), r.SopsConfig), nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	var stale []string
	for _, dir := range []string{filepath.Dir(r.SopsConfig), filepath.Dir(r.TalosSecrets), filepath.Dir(r.ClusterKey), r.Store.Dir} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && p != dir && dir != r.Store.Dir {
				return fs.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, stagedSuffix) && !slices.Contains(stale, p) {
				stale = append(stale, p)
			}
			return nil
		})
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			return "", err
		}
	}
	if len(stale) > 0 {
		return fmt.Sprintf("removed %d file(s) of a rekey a crash interrupted before it committed; the files are as before it", len(stale)), nil
	}
	return "", nil
}
