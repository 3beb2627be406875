package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/funoffshore/homelab/constructs/flux"
	fluxdeploy "github.com/funoffshore/homelab/pkg/deploy/flux"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/review"
	"github.com/funoffshore/homelab/synth"
)

// ExitHazards is `homelab diff`'s exit code when the change holds
// hazards (a deletion of data, a change the API server refuses, the only
// control plane down).
const ExitHazards = 4

var errHazards = errors.New("the change holds hazards")

func diffCommand(build Builder) *cobra.Command {
	var format, dir string
	cmd := &cobra.Command{
		Use:   "diff [REF]",
		Short: "Review what merging the working tree changes, per layer, hazards first (exit 4 on hazards)",
		Long: `diff compares the tree Git holds at REF (the rendered directory, as Flux would read it there)
with the tree the working copy synthesizes, in memory, and prints one review per layer: the
Proxmox VMs, the Talos nodes and what applying their configs takes, the Kubernetes objects by
the Flux Kustomization that applies them, and for each HelmRelease whose chart or values
change, the objects the chart renders on both sides (from the chart cache). Hazards come first:
what Flux would delete that holds data (claims, namespaces, CRDs, classes, Secrets still read),
changes the API server refuses (selectors, claims), the only control plane taking a change.

REF defaults to the merge base of HEAD with the default branch (origin's HEAD, else main).
Exit codes: 0 without hazards, 4 with hazards, 1 on errors. --format markdown writes the
review for a pull request comment (docs/review.md).`,
		Example: `  homelab diff                # against the merge base with main
  homelab diff HEAD~1 --format markdown > review.md`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "markdown" {
				return usageError{Err: fmt.Errorf("--format %q: use text or markdown", format)}
			}
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			}
			ctx := cmd.Context()
			if ref == "" {
				var err error
				if ref, err = mergeBase(ctx); err != nil {
					return err
				}
			}
			before, err := gitTree(ctx, ref, dir)
			if err != nil {
				return err
			}
			l, err := build()
			if err != nil {
				return err
			}
			after, err := synth.Render(l.Tree())
			if err != nil {
				return err
			}
			r, err := review.Compare(before, after, review.Options{RepoDir: dir, ChartFile: cachedChart})
			if err != nil {
				return err
			}
			if format == "markdown" {
				err = r.Markdown(cmd.OutOrStdout())
			} else {
				err = r.Text(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if len(r.Hazards) > 0 {
				return errHazards
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, or markdown for a pull request comment")
	cmd.Flags().StringVar(&dir, "dir", "cluster", "the rendered tree's directory in Git, relative to the current directory")
	return cmd
}

// cachedChart is a chart package in the fixture cache (make fixtures), or "".
func cachedChart(name, version string) string {
	p := fixtures.Path(fixtures.ChartFile(flux.Chart{Name: name, Version: version}))
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func git(ctx context.Context, args ...string) ([]byte, error) {
	var out, errb bytes.Buffer
	c := exec.CommandContext(ctx, "git", args...)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// mergeBase is where the working tree's branch left the default branch:
// origin's HEAD, else main, else master.
func mergeBase(ctx context.Context) (string, error) {
	var base string
	if out, err := git(ctx, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"); err == nil {
		base = strings.TrimSpace(string(out))
	} else {
		for _, b := range []string{"main", "master"} {
			if _, err := git(ctx, "rev-parse", "--verify", "--quiet", b); err == nil {
				base = b
				break
			}
		}
	}
	if base == "" {
		return "", errors.New("no default branch to compare with (origin/HEAD, main or master): name a REF")
	}
	out, err := git(ctx, "merge-base", "HEAD", base)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// gitTree reads the files below dir at ref, keyed by their path below dir.
func gitTree(ctx context.Context, ref, dir string) (map[string][]byte, error) {
	dir = path.Clean(dir)
	list, err := git(ctx, "ls-tree", "-r", "-z", "--name-only", ref, "--", dir)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, p := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		if p == "" {
			continue
		}
		data, err := git(ctx, "show", ref+":./"+p)
		if err != nil {
			return nil, err
		}
		files[strings.TrimPrefix(p, dir+"/")] = data
	}
	return files, nil
}

// appliedReview prints, for plan, what Flux will change once this tree
// is pushed: the review of the revision Flux last applied against it,
// the same review `homelab diff` prints. It reports whether anything
// changes; a revision this clone lacks is a note, not an error.
func appliedReview(ctx context.Context, w io.Writer, applied string, files map[string][]byte) (bool, error) {
	commit := fluxdeploy.RevisionCommit(applied)
	fmt.Fprintf(w, "kubernetes (against %s, which Flux last applied):\n", applied)
	if commit == "" {
		fmt.Fprintln(w, "  note: not a Git commit; run `homelab diff REF` against the commit Flux applied")
		return false, nil
	}
	before, err := gitTree(ctx, commit, "cluster")
	if err != nil {
		fmt.Fprintf(w, "  note: commit %s is not in this clone (git fetch): %v\n", commit, err)
		return false, nil
	}
	r, err := review.Compare(before, files, review.Options{ChartFile: cachedChart})
	if err != nil {
		return false, err
	}
	var b bytes.Buffer
	if err := r.Text(&b); err != nil {
		return false, err
	}
	_, err = io.WriteString(w, indentLines(b.String(), "  "))
	return !r.Empty(), err
}

func indentLines(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.TrimSpace(l) != "" {
			b.WriteString(prefix)
		}
		b.WriteString(l)
	}
	return b.String()
}
