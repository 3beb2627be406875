package flux_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
)

// A duration prop lands in a field whose pattern Flux's own CRD sets
// (^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$); a negative one renders "-5m0s",
// which the API server refuses when Flux applies it. Zero means the
// default. Every field checked has that pattern in the embedded CRDs (a
// missing one would be reported as a bug, and fail here).
func TestDurationsAgainstFluxsPatterns(t *testing.T) {
	cases := []struct {
		name string
		add  func(scope *kube.Chart, repo *flux.HelmRepository)
		want string
	}{
		{"the defaults", func(*kube.Chart, *flux.HelmRepository) {}, ""},
		{"positive durations", func(c *kube.Chart, repo *flux.HelmRepository) {
			flux.NewHelmRelease(c, "rel", &flux.HelmReleaseProps{Namespace: "apps", Repository: repo, Chart: "x", Version: "1.0.0", Interval: time.Minute, Timeout: 90 * time.Second})
			flux.NewKustomization(c, "ks", &flux.KustomizationProps{Chart: c, Interval: time.Hour, RetryInterval: 30 * time.Second, Timeout: time.Minute})
		}, ""},
		{"a negative HelmRepository interval", func(c *kube.Chart, _ *flux.HelmRepository) {
			flux.NewHelmRepository(c, "repo2", &flux.HelmRepositoryProps{URL: "https://charts.example.org", Interval: -time.Hour})
		}, `apps/repo2: Interval -1h0m0s is refused by Flux's helmrepositories CRD (spec.interval must match ^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$); use a positive duration such as "10m" (0 means the default)`},
		{"a negative HelmRelease timeout", func(c *kube.Chart, repo *flux.HelmRepository) {
			flux.NewHelmRelease(c, "rel", &flux.HelmReleaseProps{Namespace: "apps", Repository: repo, Chart: "x", Version: "1.0.0", Timeout: -time.Minute})
		}, `apps/rel: Timeout -1m0s is refused by Flux's helmreleases CRD (spec.timeout must match ^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$)`},
		{"a negative Kustomization retry interval", func(c *kube.Chart, _ *flux.HelmRepository) {
			flux.NewKustomization(c, "ks", &flux.KustomizationProps{Chart: c, RetryInterval: -5 * time.Minute})
		}, `apps/ks: RetryInterval -5m0s is refused by Flux's kustomizations CRD (spec.retryInterval must match ^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := core.NewApp(nil)
			c := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"})
			repo := flux.NewHelmRepository(c, "repo", &flux.HelmRepositoryProps{URL: "https://charts.example.org"})
			tc.add(c, repo)
			err := app.Tree().Validate()
			if tc.want == "" {
				if err != nil {
					assert.NotContains(t, err.Error(), "CRD")
				}
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
