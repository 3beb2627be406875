package review_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/pkg/review"
)

// actionlint is the workflow linter, run at a pinned release from the Go
// module proxy.
const actionlint = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

// TestWorkflows lints the repository's GitHub Actions workflows with
// actionlint (syntax, expressions, action inputs, job outputs), and checks
// that the review workflow finds its comment by the marker Markdown
// writes.
func TestWorkflows(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", ".github", "workflows", "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	cmd := exec.Command("go", append([]string{"run", actionlint, "-no-color", "-shellcheck=", "-pyflakes="}, files...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "actionlint:\n%s", out)

	wf, err := os.ReadFile(filepath.Join("..", "..", ".github", "workflows", "review.yml"))
	require.NoError(t, err)
	require.True(t, strings.Contains(string(wf), "'"+review.Marker+"'"), "review.yml looks for its comment by %s", review.Marker)
	require.Contains(t, string(wf), "diff \"$BASE\" --format markdown")
}
