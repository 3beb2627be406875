package monitoring_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/monitoring"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Retention is a positive Prometheus duration: "0d" parses, and
// Prometheus reads it as unset (its 15d default), not as keeping nothing.
func TestRetention(t *testing.T) {
	cases := []struct{ retention, want string }{
		{"7d", ""},
		{"12h", ""},
		{"0d", `retention "0d" is zero, which Prometheus reads as unset (its default, 15d), not as keeping nothing; use a positive duration such as "7d"`},
		{"0s", `retention "0s" is zero`},
		{"a week", `retention "a week" does not parse`},
	}
	for _, tc := range cases {
		t.Run(tc.retention, func(t *testing.T) {
			app := core.NewApp(nil)
			c := kube.NewChart(app, "monitoring", &kube.ChartProps{Dir: "monitoring"})
			monitoring.NewStack(c, "stack", nil, &monitoring.StackProps{Retention: tc.retention, Ephemeral: true, Volume: storageVolume()})
			err := app.Tree().Validate()
			if tc.want == "" {
				if err != nil {
					assert.NotContains(t, err.Error(), "retention")
				}
				return
			}
			if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.want)
			}
		})
	}
}

func storageVolume() storage.Volume { return storage.Volume{Size: "10Gi"} }
