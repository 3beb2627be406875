package ingress_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The tunnel ID is what cloudflared's uuid.Parse accepts, in the
// canonical form `cloudflared tunnel list` prints.
func TestTunnelIDForms(t *testing.T) {
	cases := []struct{ id, want string }{
		{"6ff42ae2-765d-4adf-8112-31c55c1551ef", ""},
		{"zzzzzzzz-765d-4adf-8112-31c55c1551ef", `tunnel ID "zzzzzzzz-765d-4adf-8112-31c55c1551ef" is not a UUID; set TunnelProps.TunnelID to the tunnel's UUID (cloudflared tunnel list)`},
		{"6ff42ae2765d4adf811231c55c1551ef", `tunnel ID "6ff42ae2765d4adf811231c55c1551ef" is not a UUID`},
		{"6FF42AE2-765D-4ADF-8112-31C55C1551EF", `tunnel ID "6FF42AE2-765D-4ADF-8112-31C55C1551EF" is not in the lowercase form cloudflared prints; write it as 6ff42ae2-765d-4adf-8112-31c55c1551ef`},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			app := core.NewApp(nil)
			c := kube.NewChart(app, "ingress", &kube.ChartProps{Dir: "ingress"})
			ingress.NewTunnel(c, "cloudflared", &ingress.TunnelProps{Domain: "example.org", TunnelID: tc.id})
			err := app.Tree().Validate()
			if tc.want == "" {
				if err != nil {
					assert.NotContains(t, err.Error(), "tunnel ID")
				}
				return
			}
			if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.want)
			}
		})
	}
}
