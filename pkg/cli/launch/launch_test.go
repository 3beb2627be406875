package launch_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A module's main calling launch.Main links only synth when built plainly,
// and the full command line with the homelab_full tag.
func TestTagChoosesWhatIsLinked(t *testing.T) {
	deps := func(tags ...string) []string {
		args := append([]string{"list", "-deps"}, tags...)
		out, err := exec.Command("go", append(args, "github.com/funoffshore/homelab/pkg/cli/launch")...).Output()
		require.NoError(t, err)
		return strings.Fields(string(out))
	}
	plain, full := deps(), deps("-tags", "homelab_full")
	for _, heavy := range []string{"github.com/funoffshore/homelab/pkg/cli", "github.com/funoffshore/homelab/pkg/deploy", "github.com/getsops/sops/v3"} {
		assert.False(t, slices.Contains(plain, heavy), "the plain build links %s", heavy)
		assert.True(t, slices.Contains(full, heavy), "the full build lacks %s", heavy)
	}
	assert.True(t, slices.Contains(plain, "github.com/funoffshore/homelab/pkg/cli/synthcli"))
}
