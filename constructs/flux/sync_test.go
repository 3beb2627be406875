package flux_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
)

// The repository URL is checked against the pattern of Flux's own
// GitRepository CRD (the embedded one controller-gen wrote from the
// source-controller API module), not a retyped copy: an scp-like URL
// renders but the API server refuses the object.
func TestGitURLAgainstFluxsPattern(t *testing.T) {
	pattern, err := flux.SpecPattern("gitrepositories.source.toolkit.fluxcd.io", "v1", "url")
	require.NoError(t, err)
	assert.Equal(t, "^(http|https|ssh)://.*$", pattern.String())

	cases := []struct{ url, want string }{
		{"ssh://git@github.com/me/lab", ""},
		{"https://git.example.org/me/lab.git", ""},
		{"git@github.com:me/lab.git", `flux/gotk-sync: Git repository URL "git@github.com:me/lab.git" does not match ^(http|https|ssh)://.*$, the pattern of Flux's GitRepository spec.url; write it as ssh://git@github.com/me/lab.git`},
		{"github.com/me/lab", `flux/gotk-sync: Git repository URL "github.com/me/lab" does not match ^(http|https|ssh)://.*$, the pattern of Flux's GitRepository spec.url; use an ssh://, https:// or http:// URL`},
		{"file:///srv/git/lab", `does not match ^(http|https|ssh)://.*$`},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			app := core.NewApp(nil)
			layers := flux.NewLayers(app, &flux.LayersProps{URL: tc.url})
			_ = layers
			err := app.Tree().Validate()
			if tc.want == "" {
				if err != nil {
					assert.NotContains(t, err.Error(), "Git repository URL")
				}
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
