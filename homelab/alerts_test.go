package homelab_test

import (
	"maps"
	"slices"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
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
	assert.Equal(t, []string{"FluxKustomizationNotReady", "FluxHelmReleaseNotReady", "LonghornVolumeDegraded", "LonghornVolumeFaulted", "CertificateNotReady", "CertificateExpiresSoon", "EtcdSnapshotMissing"}, all)

	noNFS := homelab.Funoffshore()
	noNFS.Platform.NFS = nil
	got := alertNames(t, noNFS)
	assert.False(t, slices.Contains(got, "EtcdSnapshotMissing"), "no snapshots run, so none can be missing: %v", got)
	assert.Contains(t, got, "LonghornVolumeFaulted")

	noLonghorn := homelab.Funoffshore()
	noLonghorn.Platform.Longhorn = nil
	got = alertNames(t, noLonghorn)
	assert.Equal(t, []string{"FluxKustomizationNotReady", "FluxHelmReleaseNotReady", "CertificateNotReady", "CertificateExpiresSoon", "EtcdSnapshotMissing"}, got)

	// Certificates are watched only where cert-manager runs.
	noCerts := homelab.Funoffshore()
	noCerts.Platform.Certs = nil
	got = alertNames(t, noCerts)
	assert.False(t, slices.Contains(got, "CertificateExpiresSoon"), "no certificates to expire: %v", got)

	// So do the dashboards: Longhorn's comes with Longhorn.
	assert.Equal(t, []string{"kubernetes-cluster", "longhorn", "talos-nodes"}, dashboardNames(t, homelab.Funoffshore()))
	assert.Equal(t, []string{"kubernetes-cluster", "talos-nodes"}, dashboardNames(t, noLonghorn))
}

// TestLonghornOnlyHomelab is a homelab without a NAS: Longhorn's class is
// then the cluster's default, as the chart renders it (the class's
// is-default-class annotation in the ConfigMap longhorn-storageclass,
// from which longhorn-manager makes the class at run time), so the
// homelab validates; before, validation asked to "mark one class Default"
// and no prop could. With the NAS, NFS stays the default.
func TestLonghornOnlyHomelab(t *testing.T) {
	defaultOf := func(props *homelab.Props) string {
		t.Helper()
		_, h := homelab.NewApp(props)
		for _, o := range testenv.RenderRelease(t, h.Longhorn.Release) {
			if o.GetKind() != "ConfigMap" || o.GetName() != "longhorn-storageclass" {
				continue
			}
			data, _, _ := unstructured.NestedString(o.Object, "data", "storageclass.yaml")
			var class storagev1.StorageClass
			require.NoError(t, yaml.Unmarshal([]byte(data), &class))
			require.Equal(t, "longhorn", class.Name)
			return class.Annotations["storageclass.kubernetes.io/is-default-class"]
		}
		t.Fatal("the Longhorn chart made no class longhorn")
		return ""
	}
	p := homelab.Funoffshore()
	p.Platform.NFS = nil
	app, h := homelab.NewApp(p)
	require.NoError(t, app.Tree().Validate())
	assert.Equal(t, "longhorn", h.DefaultClass().Name)
	assert.Equal(t, "true", defaultOf(p))
	assert.Equal(t, "false", defaultOf(homelab.Funoffshore()))
}
