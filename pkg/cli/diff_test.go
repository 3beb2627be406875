package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/lab"
	"github.com/funoffshore/homelab/pkg/review"
	"github.com/funoffshore/homelab/synth"
)

// TestDiff runs `homelab diff` in a Git repository whose main branch
// holds the synthesized Funoffshore tree, on a branch that removes an
// app with its volume: the review reads main's tree from Git, names the
// hazard and exits 4; without a change it says so and exits 0.
func TestDiff(t *testing.T) {
	repo := t.TempDir()
	gitIn := func(args ...string) {
		t.Helper()
		c := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"}, args...)...)
		c.Dir = repo
		out, err := c.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	app, _ := homelab.NewApp(nil)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	require.NoError(t, synth.Write(filepath.Join(repo, "cluster"), files))
	gitIn("init", "-q", "-b", "main")
	gitIn("add", ".")
	gitIn("commit", "-q", "-m", "the homelab")
	gitIn("checkout", "-q", "-b", "drop-uptime-kuma")
	t.Chdir(repo)

	unchanged := func() (*lab.Lab, error) {
		l, _ := homelab.NewLab(homelab.Funoffshore())
		return l, nil
	}
	code, out, stderr := run(unchanged, "diff")
	require.Equal(t, cli.ExitOK, code, stderr)
	assert.Equal(t, "homelab diff: no change: both sides render the same tree\n", out)

	dropped := func() (*lab.Lab, error) {
		p := homelab.Funoffshore()
		p.Apps = p.Apps[:1]
		l, _ := homelab.NewLab(p)
		return l, nil
	}
	code, out, stderr = run(dropped, "diff")
	require.Equal(t, cli.ExitHazards, code, "%s%s", out, stderr)
	assert.Contains(t, out, "! kubernetes: PersistentVolumeClaim apps/uptime-kuma: Flux deletes the claim")
	assert.Contains(t, out, "  flux-system/apps\n")

	code, out, _ = run(dropped, "diff", "main", "--format", "markdown")
	require.Equal(t, cli.ExitHazards, code)
	assert.True(t, strings.HasPrefix(out, review.Marker))
	assert.Contains(t, out, "<details><summary>Kubernetes")

	code, _, stderr = run(dropped, "diff", "no-such-ref")
	assert.Equal(t, cli.ExitFailed, code)
	assert.Contains(t, stderr, "no-such-ref")
	code, _, _ = run(dropped, "diff", "--format", "html")
	assert.Equal(t, cli.ExitUsage, code)
	_, err = os.Stat(filepath.Join(repo, "cluster", "kubernetes", "apps", "uptime-kuma.yaml"))
	assert.NoError(t, err, "diff writes nothing")

	// plan reviews the Kubernetes layer the same way, against the
	// revision Flux reports it applied.
	c := exec.Command("git", "rev-parse", "main")
	c.Dir = repo
	sha, err := c.Output()
	require.NoError(t, err)
	applied := "main@sha1:" + strings.TrimSpace(string(sha))
	l, err := dropped()
	require.NoError(t, err)
	tree, err := synth.Render(l.Tree())
	require.NoError(t, err)
	var b bytes.Buffer
	changed, err := cli.AppliedReview(context.Background(), &b, applied, tree)
	require.NoError(t, err)
	assert.True(t, changed)
	_, diffOut, _ := run(dropped, "diff", "main")
	assert.Equal(t, "kubernetes (against "+applied+", which Flux last applied):\n"+indent(diffOut), b.String(), "plan and diff print the same review")

	b.Reset()
	changed, err = cli.AppliedReview(context.Background(), &b, applied, files)
	require.NoError(t, err)
	assert.False(t, changed)
	assert.Contains(t, b.String(), "no change")

	b.Reset()
	changed, err = cli.AppliedReview(context.Background(), &b, "main@sha1:"+strings.Repeat("0", 40), tree)
	require.NoError(t, err)
	assert.False(t, changed)
	assert.Contains(t, b.String(), "is not in this clone (git fetch)")
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.TrimSpace(l) != "" {
			b.WriteString("  ")
		}
		b.WriteString(l)
	}
	return b.String()
}
