package homelab_test

import (
	"maps"
	"slices"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/homelab"
)

// alertNames are the alerts of the homelab's PrometheusRule.
func alertNames(t *testing.T, props *homelab.Props) []string {
	t.Helper()
	app, _ := homelab.NewApp(props)
	var names []string
	for _, o := range app.Tree().Objects() {
		if o.Identity().Kind != "PrometheusRule" {
			continue
		}
		rule := o.(interface{ Typed() kube.Typed }).Typed().(*monitoringv1.PrometheusRule)
		for _, g := range rule.Spec.Groups {
			for _, r := range g.Rules {
				names = append(names, r.Alert)
			}
		}
	}
	return names
}

// dashboardNames are the grafana.com dashboards Grafana is given.
func dashboardNames(t *testing.T, props *homelab.Props) []string {
	t.Helper()
	_, h := homelab.NewApp(props)
	m, err := h.Monitoring.Release.Manifest()
	require.NoError(t, err)
	d, _, err := unstructured.NestedMap(m, "spec", "values", "grafana", "dashboards", "homelab")
	require.NoError(t, err)
	return slices.Sorted(maps.Keys(d))
}

// TestAlertsFollowTheParts checks that an alert watches only what the
// homelab runs: without the NFS share there are no etcd snapshots, and an
// EtcdSnapshotMissing rule (absent(kube_cronjob_created...)) would fire
// for ever; without Longhorn there is no Longhorn volume to watch.
func TestAlertsFollowTheParts(t *testing.T) {
	all := alertNames(t, homelab.Funoffshore())
	assert.Equal(t, []string{"FluxKustomizationNotReady", "FluxHelmReleaseNotReady", "LonghornVolumeDegraded", "LonghornVolumeFaulted", "EtcdSnapshotMissing"}, all)

	noNFS := homelab.Funoffshore()
	noNFS.Platform.NFS = nil
	got := alertNames(t, noNFS)
	assert.False(t, slices.Contains(got, "EtcdSnapshotMissing"), "no snapshots run, so none can be missing: %v", got)
	assert.Contains(t, got, "LonghornVolumeFaulted")

	noLonghorn := homelab.Funoffshore()
	noLonghorn.Platform.Longhorn = nil
	got = alertNames(t, noLonghorn)
	assert.Equal(t, []string{"FluxKustomizationNotReady", "FluxHelmReleaseNotReady", "EtcdSnapshotMissing"}, got)

	// So do the dashboards: Longhorn's comes with Longhorn.
	assert.Equal(t, []string{"kubernetes-cluster", "longhorn", "talos-nodes"}, dashboardNames(t, homelab.Funoffshore()))
	assert.Equal(t, []string{"kubernetes-cluster", "talos-nodes"}, dashboardNames(t, noLonghorn))
}
