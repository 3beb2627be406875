package validate_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/lab"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
)

// Offline checks a lab through its typed layers: the Talos files are the
// lab's cluster's, and a lab without a cluster has none to check.
func TestOfflineReport(t *testing.T) {
	l, _ := homelab.NewLab(nil)
	files, err := synth.Render(l.Tree())
	require.NoError(t, err)
	r := validate.Offline(l, files, "")
	assert.Empty(t, r.Errors)
	assert.True(t, r.KustomizeOK)
	assert.Equal(t, len(l.Tree().Objects()), r.Objects)
	assert.Equal(t, 2, r.TalosConfigs, "the control-plane and worker configs")
	assert.Contains(t, r.Capacity, "coredns (Talos)")
	assert.NotEmpty(t, r.Blockers, "Funoffshore's example values block it")
	var out, errw strings.Builder
	r.Print(&out, &errw)
	assert.Contains(t, out.String(), "talos: 2 machine configs checked (metal mode)\n")
	assert.Contains(t, out.String(), "blocking: ")

	// The same tree without the cluster handed over: nothing of Talos is
	// checked, so the cluster must come from the builder.
	bare := validate.Offline(&lab.Lab{App: l.App}, files, "")
	assert.Zero(t, bare.TalosConfigs)
	assert.Empty(t, bare.Capacity)

}
