package homelab_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
)

// Zero values are neutral: an empty Props builds (no panic) and fails
// validation naming each required value, and nothing in it falls back to
// Funoffshore's repository, domain or tunnel.
func TestEmptyPropsAreNeutral(t *testing.T) {
	app, h := homelab.NewApp(&homelab.Props{})
	err := app.Tree().Validate()
	require.Error(t, err)
	for _, want := range []string{
		"flux/gotk-sync: homelab.Props.RepoURL is empty; set homelab.Props.RepoURL to the Git repository Flux pulls",
		"talos: homelab.Props.Machines is nil; set homelab.Props.Machines to the Proxmox hosts and Talos nodes",
		"platform: homelab.Props.Platform is nil; set homelab.Props.Platform",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "funoffshore")
	assert.Empty(t, h.AppConstructs, "an empty Props runs no app")
	assert.Empty(t, h.Sync.Repository.Spec.Spec.URL, "the Git URL fell back to another homelab's")
}

// object decodes the first object of kind in the rendered file of app
// into out.
func object(t *testing.T, files synth.Files, app, kind string, out any) {
	t.Helper()
	for _, doc := range strings.Split(string(files["kubernetes/apps/"+app+".yaml"]), "\n---\n") {
		var meta struct{ Kind string }
		if yaml.Unmarshal([]byte(doc), &meta) == nil && meta.Kind == kind {
			require.NoError(t, yaml.Unmarshal([]byte(doc), out))
			return
		}
	}
	t.Fatalf("no %s in kubernetes/apps/%s.yaml", kind, app)
}

// The dashboard links the apps with a public host, whatever the names
// (nothing is keyed on "homepage" or "uptime-kuma"), and a volume without
// a class gets the homelab's default class.
func TestDashboardAndDefaultClassComeFromProps(t *testing.T) {
	props := homelab.Funoffshore()
	props.Dashboard.App.Name = "start"
	props.Apps = append(props.Apps,
		apps.AppProps{Name: "wiki", Host: "wiki", Image: "requarks/wiki:2.5.306", Port: 3000, Volume: &storage.Volume{Size: "2Gi"}},
		apps.AppProps{Name: "internal", Image: "nginx:1.27.3", Port: 8080},
	)
	app, h := homelab.NewApp(props)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	var cm corev1.ConfigMap
	object(t, files, "start", "ConfigMap", &cm)
	services := cm.Data["services.yaml"]
	for _, want := range []string{"https://wiki.funoffshore.com", "https://echo.funoffshore.com", "https://status.funoffshore.com"} {
		assert.Contains(t, services, want)
	}
	assert.NotContains(t, services, "internal", "an app without a host has no public link")
	assert.NotContains(t, services, "start", "the dashboard links itself")
	var claim corev1.PersistentVolumeClaim
	object(t, files, "wiki", "PersistentVolumeClaim", &claim)
	require.NotNil(t, claim.Spec.StorageClassName)
	assert.Equal(t, h.DefaultClass().Name, *claim.Spec.StorageClassName)
}

// The platform's parts are chosen in Props: without Longhorn, monitoring
// and telemetry nothing of them is rendered (charts, namespaces, Secrets,
// monitors, policies, Talos extensions), volumes get the NFS class, and
// the tree validates; monitoring without any storage is an error naming
// the missing class.
func TestPlatformParts(t *testing.T) {
	props := homelab.Funoffshore()
	props.Platform.Longhorn, props.Platform.Monitoring, props.Platform.Telemetry = nil, nil, nil
	app, h := homelab.NewApp(props)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	assert.Nil(t, h.Longhorn)
	assert.Nil(t, h.Monitoring)
	assert.Nil(t, h.Loki)
	assert.Nil(t, h.Collector)
	for path, data := range files {
		if path == "kubernetes/flux/gotk-components.yaml" {
			continue // Flux's own CRDs name alert providers
		}
		// A chart whose metrics default on turns them off explicitly.
		text := strings.ReplaceAll(strings.ToLower(string(data)), "prometheus:\n      enabled: false", "")
		for _, gone := range []string{"longhorn", "prometheus", "grafana", "alertmanager", "iscsi-tools", "loki", "tempo", "alloy"} {
			assert.False(t, strings.Contains(text, gone), "%s still mentions %s", path, gone)
		}
	}
	var namespaces []string
	for _, o := range app.Tree().Objects() {
		if id := o.Identity(); id.Kind == "Namespace" {
			namespaces = append(namespaces, id.Name)
		}
	}
	assert.ElementsMatch(t, []string{"flux-system", "kube-system", "nfs-provisioner", "cert-manager", "ingress-nginx", "cloudflared", "apps"}, namespaces)
	var claim corev1.PersistentVolumeClaim
	object(t, files, "uptime-kuma", "PersistentVolumeClaim", &claim)
	assert.Equal(t, "nfs-storage", *claim.Spec.StorageClassName, "the default class without Longhorn")
	var names []string
	for _, s := range h.Secrets {
		names = append(names, s.Namespace+"/"+s.Name)
	}
	assert.ElementsMatch(t, []string{"cert-manager/homelab-ca", "cert-manager/cloudflare-api-token", "cloudflared/cloudflared-credentials", "flux-system/flux-system"}, names)

	props = homelab.Funoffshore()
	props.Platform.Longhorn, props.Platform.NFS = nil, nil
	app, _ = homelab.NewApp(props)
	err = app.Tree().Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "platform: Platform.Monitoring, Platform.Telemetry, app uptime-kuma need a volume of the default class, and the platform runs no storage (Platform.Longhorn and Platform.NFS are nil); set Platform.Longhorn or Platform.NFS")
	assert.Contains(t, err.Error(), "apps/uptime-kuma/volume: the volume has no storage class")
}

// Without a tunnel, ingress-nginx (as its chart renders it) listens on
// node ports for the LAN and trusts no forwarded header, the apps' hosts
// are served in the LAN only, nothing of cloudflared is rendered, and
// the dashboard links the node port.
func TestNoTunnel(t *testing.T) {
	props := homelab.Funoffshore()
	props.Platform.Tunnel = nil
	app, h := homelab.NewApp(props)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	assert.Nil(t, h.Tunnel)
	for path, data := range files {
		assert.False(t, strings.Contains(string(data), "cloudflared"), "%s still mentions cloudflared", path)
	}
	var svc, cm *unstructured.Unstructured
	for _, o := range testenv.RenderRelease(t, h.Nginx.Release) {
		switch {
		case o.GetKind() == "Service" && o.GetName() == "ingress-nginx-controller":
			svc = o
		case o.GetKind() == "ConfigMap" && o.GetName() == "ingress-nginx-controller":
			cm = o
		}
	}
	require.NotNil(t, svc, "the chart renders no controller Service")
	typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type")
	assert.Equal(t, "NodePort", typ)
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	nodePorts := map[string]string{}
	for _, p := range ports {
		m := p.(map[string]any)
		nodePorts[fmt.Sprint(m["name"])] = fmt.Sprint(m["nodePort"])
	}
	assert.Equal(t, map[string]string{"http": "30080", "https": "30443"}, nodePorts)
	require.NotNil(t, cm)
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	assert.NotContains(t, data, "use-forwarded-headers", "a LAN client's forwarded headers are trusted")

	var ing networkingv1.Ingress
	object(t, files, "echo", "Ingress", &ing)
	assert.Equal(t, "echo.funoffshore.com", ing.Spec.Rules[0].Host)
	var cfg corev1.ConfigMap
	object(t, files, "homepage", "ConfigMap", &cfg)
	// Served over TLS (cert-manager runs): the HTTPS node port.
	assert.Contains(t, cfg.Data["services.yaml"], "https://echo.funoffshore.com:30443")
	require.Len(t, ing.Spec.TLS, 1)
	assert.Equal(t, "echo-tls", ing.Spec.TLS[0].SecretName)
}

// TestAppByName finds the app constructs the composition made, for their
// wiring methods.
func TestAppByName(t *testing.T) {
	_, h := homelab.NewApp(nil)
	require.NotNil(t, h.App("uptime-kuma"))
	assert.Equal(t, "uptime-kuma", h.App("uptime-kuma").Name)
	assert.Nil(t, h.App("nope"))
}

// A homelab whose only storage is NFS runs monitoring: Prometheus keeps
// its data in an emptyDir (Platform.Monitoring.Ephemeral), or on a block
// class it names (Platform.Monitoring.Class), not on NFS. Checked on the
// Prometheus object kube-prometheus-stack's own templates make of the
// values.
func TestMonitoringStorageChoices(t *testing.T) {
	prometheus := func(t *testing.T, h *homelab.Homelab) map[string]any {
		t.Helper()
		p := find(testenv.RenderRelease(t, h.Monitoring.Release), "Prometheus", "monitoring", "kube-prometheus-stack-prometheus")
		require.NotNil(t, p, "the chart renders no Prometheus")
		storage, _, _ := unstructured.NestedMap(p.Object, "spec", "storage")
		return storage
	}
	t.Run("NFS only, ephemeral", func(t *testing.T) {
		props := homelab.Funoffshore()
		props.Platform.Longhorn = nil
		props.Platform.Monitoring.Ephemeral = true
		app, h := homelab.NewApp(props)
		_, err := synth.Render(app.Tree())
		require.NoError(t, err, "NFS only with monitoring must validate")
		got := prometheus(t, h)
		assert.Equal(t, map[string]any{"emptyDir": map[string]any{"sizeLimit": props.Platform.Monitoring.Volume}}, got)
		for _, c := range h.NFS.Class.Claims() {
			assert.NotContains(t, c.Source, "kube-prometheus-stack", "an emptyDir reserves nothing on the NFS class")
		}
	})
	t.Run("NFS only, a block class of the homelab's own", func(t *testing.T) {
		props := homelab.Funoffshore()
		props.Platform.Longhorn = nil
		app := core.NewApp(nil)
		// A local-path provisioner the homelab installs itself, applied
		// with the platform (its chart directory is under it).
		chart := kube.NewChart(app, "local-path", &kube.ChartProps{Dir: "kubernetes/platform/local-path"})
		props.Platform.Monitoring.Class = storage.NewStorageClass(chart, "class", &storage.StorageClassProps{Name: "local-path", Provisioner: "rancher.io/local-path"})
		h := homelab.New(app, props)
		_, err := synth.Render(app.Tree())
		require.NoError(t, err)
		got := prometheus(t, h)
		class, _, _ := unstructured.NestedString(got, "volumeClaimTemplate", "spec", "storageClassName")
		assert.Equal(t, "local-path", class)
		assert.Len(t, props.Platform.Monitoring.Class.Claims(), 1, "Prometheus' volume is reserved on its class")
	})
	t.Run("NFS only, no choice made: refused with both ways out", func(t *testing.T) {
		props := homelab.Funoffshore()
		props.Platform.Longhorn = nil
		app, _ := homelab.NewApp(props)
		_, err := synth.Render(app.Tree())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Prometheus does not support NFS")
		assert.Contains(t, err.Error(), "Platform.Monitoring.Ephemeral")
	})
}
