package synth

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// Write replaces the generated files under dir with files, atomically: it
// builds the new tree in a temporary directory beside dir (copying over
// every hand-written file, that is one without Marker), then swaps the two
// directories. Generated files the tree no longer produces disappear. On any
// error dir is left as it was.
func Write(dir string, files Files) (err error) {
	if err := CheckOutDir(dir); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".synth-")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}

	kept, err := handWritten(dir)
	if err != nil {
		return err
	}
	for rel, data := range kept {
		if _, clash := files[rel]; clash {
			return fmt.Errorf("synth: %s is hand-written (no %q header) and synth would overwrite it: move it away or delete it", filepath.Join(dir, rel), Marker)
		}
		if err := writeFile(filepath.Join(tmp, rel), data.data, data.mode); err != nil {
			return err
		}
	}
	for rel, data := range files {
		if err := writeFile(filepath.Join(tmp, filepath.FromSlash(rel)), data, 0o644); err != nil {
			return err
		}
	}

	old := ""
	if _, statErr := os.Stat(dir); statErr == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			if rerr := os.Rename(old, dir); rerr != nil {
				return fmt.Errorf("synth: %w (and restoring %s from %s failed: %v)", err, dir, old, rerr)
			}
		}
		return fmt.Errorf("synth: %w", err)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("synth: new tree written, removing the old one at %s failed: %w", old, err)
		}
	}
	return nil
}

type keptFile struct {
	data []byte
	mode fs.FileMode
}

// handWritten returns the files under dir that synth did not generate.
func handWritten(dir string) (map[string]keptFile, error) {
	out := map[string]keptFile{}
	err := walkFiles(dir, func(rel string, data []byte, mode fs.FileMode) {
		if !bytes.HasPrefix(data, []byte(Marker)) {
			out[rel] = keptFile{data: data, mode: mode}
		}
	})
	return out, err
}

// walkFiles calls fn with every regular file under dir (path relative to
// dir, "/"-separated); a missing dir holds no files.
func walkFiles(dir string, fn func(rel string, data []byte, mode fs.FileMode)) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fn(filepath.ToSlash(rel), data, info.Mode().Perm())
		return nil
	})
	if err != nil {
		return fmt.Errorf("synth: reading %s: %w", dir, err)
	}
	return nil
}

func writeFile(p string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// Diff compares the generated files under dir with files and returns a
// unified diff, empty when dir is up to date. Hand-written files are
// ignored.
func Diff(dir string, files Files) (string, error) {
	if err := CheckOutDir(dir); err != nil {
		return "", err
	}
	onDisk := map[string][]byte{}
	err := walkFiles(dir, func(rel string, data []byte, _ fs.FileMode) {
		if bytes.HasPrefix(data, []byte(Marker)) {
			onDisk[rel] = data
		}
	})
	if err != nil {
		return "", err
	}
	paths := map[string]bool{}
	for p := range onDisk {
		paths[p] = true
	}
	for p := range files {
		paths[p] = true
	}
	var b strings.Builder
	for _, p := range (Files(boolKeys(paths))).Paths() {
		have, want := onDisk[p], files[p]
		if bytes.Equal(have, want) {
			continue
		}
		from, to := "a/"+p, "b/"+p
		if have == nil {
			from = "/dev/null"
		}
		if want == nil {
			to = "/dev/null"
		}
		d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(string(have)), B: difflib.SplitLines(string(want)),
			FromFile: from, ToFile: to, Context: 3,
		})
		if err != nil {
			return "", err
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

func boolKeys(m map[string]bool) Files {
	out := Files{}
	for k := range m {
		out[k] = nil
	}
	return out
}
