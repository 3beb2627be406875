package synth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CheckOutDir refuses output directories that synth must not swap out:
// the filesystem root, a mount point, the working directory or one of its
// parents, a Git working tree root, or a path that is not a directory.
// Write and Diff call it first.
func CheckOutDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("synth: output %q: %w", dir, err)
	}
	bad := func(why string) error {
		return fmt.Errorf("synth: output %q %s; the output must be a directory of its own (a subdirectory such as \"cluster\") that synth can replace as a whole", dir, why)
	}
	if filepath.Dir(abs) == abs {
		return bad("is the filesystem root")
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(abs, wd); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			if rel == "." {
				return bad("is the working directory")
			}
			return bad("holds the working directory")
		}
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("synth: output %q: %w", dir, err)
	case !st.IsDir():
		return bad("is a file, not a directory")
	}
	if _, err := os.Lstat(filepath.Join(abs, ".git")); err == nil {
		return bad("is the root of a Git working tree")
	}
	if isMountPoint(abs, st) {
		return bad("is a mount point, which cannot be renamed")
	}
	return nil
}
