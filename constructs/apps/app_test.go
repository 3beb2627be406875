package apps_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/pkg/manifest"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
	"github.com/funoffshore/homelab/synth/synthtest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// build renders an apps chart holding the apps namespace and what add
// puts in it.
func build(t *testing.T, add func(c *kube.Chart)) synth.Files {
	t.Helper()
	app := core.NewApp(nil)
	c := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "apps"})
	kube.NewNamespace(c, "namespace", &kube.NamespaceProps{Name: "apps", PodSecurity: "restricted"})
	add(c)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	return files
}

// TestGrant applies what Grant renders to a real kube-apiserver and asks
// its RBAC authorizer what the app's ServiceAccount may do: exactly the
// granted verbs and resources, in the app's namespace only; and the
// token is mounted into the pods, which it is not without a grant.
func TestGrant(t *testing.T) {
	files := build(t, func(c *kube.Chart) {
		a := apps.NewApp(c, "reloader", &apps.AppProps{Image: "ghcr.io/stakater/reloader:v1.4.2", Port: 9090})
		a.Grant(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}})
		a.Grant(rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"patch"}})
		apps.NewApp(c, "plain", &apps.AppProps{Image: "traefik/whoami:v1.10.3", Port: 80})
	})
	objs, err := manifest.Decode(files["apps/reloader.yaml"])
	require.NoError(t, err)
	ns, err := manifest.Decode(files["apps/namespace.yaml"])
	require.NoError(t, err)

	deployments := map[string]appsv1.Deployment{}
	for _, f := range []string{"apps/reloader.yaml", "apps/plain.yaml"} {
		list, err := manifest.Decode(files[f])
		require.NoError(t, err)
		for _, o := range list {
			if o.GetKind() == "Deployment" {
				var d appsv1.Deployment
				require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d))
				deployments[d.Name] = d
			}
		}
	}
	assert.True(t, *deployments["reloader"].Spec.Template.Spec.AutomountServiceAccountToken, "a granted app's pods get the token")
	assert.False(t, *deployments["plain"].Spec.Template.Spec.AutomountServiceAccountToken, "an app without grants gets no token")

	api := testenv.StartAPIServer(t)
	ctx := context.Background()
	for _, o := range append(ns, objs...) {
		if o.GetKind() == "Deployment" || o.GetKind() == "Service" {
			continue // no controllers run: only RBAC is asked
		}
		require.NoError(t, api.Client.Create(ctx, o), "applying %s %s", o.GetKind(), o.GetName())
	}
	allowed := func(ns, verb, group, resource string) bool {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:apps:reloader",
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:apps", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: group, Resource: resource},
		}}
		// assert, not require: Eventually calls this on another goroutine.
		return assert.NoError(t, api.Client.Create(ctx, sar)) && sar.Status.Allowed
	}
	// The authorizer reads Roles and RoleBindings from its informers: wait
	// until it sees the grant.
	require.Eventually(t, func() bool { return allowed("apps", "list", "", "configmaps") }, 30*time.Second, 100*time.Millisecond,
		"the RBAC authorizer never allowed the granted verb")
	for _, c := range []struct {
		ns, verb, group, resource string
		want                      bool
	}{
		{"apps", "list", "", "configmaps", true},
		{"apps", "watch", "", "configmaps", true},
		{"apps", "patch", "apps", "deployments", true},
		{"apps", "delete", "", "configmaps", false},
		{"apps", "get", "", "secrets", false},
		{"apps", "delete", "apps", "deployments", false},
		{"default", "list", "", "configmaps", false},
	} {
		assert.Equal(t, c.want, allowed(c.ns, c.verb, c.group, c.resource), "%s %s.%s in %s", c.verb, c.resource, c.group, c.ns)
	}
}

// TestMountReplacesPods checks Mount's effect on the Deployment: the claim
// is a volume of the pod mounted at the path, and a ReadWriteOnce volume
// makes the Deployment replace its pod instead of rolling (the new pod
// could not attach the volume on another node); a ReadWriteMany one keeps
// the rolling update.
func TestMountReplacesPods(t *testing.T) {
	files := build(t, func(c *kube.Chart) {
		sc := storageClass(c)
		apps.NewApp(c, "db", &apps.AppProps{Image: "postgres:17.2", Port: 5432}).Mount("/var/lib/postgresql/data", volume(sc, ""))
		apps.NewApp(c, "web", &apps.AppProps{Image: "nginx:1.27.3", Port: 8080, Replicas: 2}).Mount("/srv/Shared_Files", volume(sc, corev1.ReadWriteMany))
		// An existing NFS export is shared (ReadWriteMany) by default.
		apps.NewApp(c, "media", &apps.AppProps{Image: "jellyfin/jellyfin:10.10.3", Port: 8096}).Mount("/media", storage.Volume{
			Export: &storage.NFSExport{Server: "192.168.1.20", Path: "/volume1/media", ReadOnly: true}, Size: "4Ti"})
	})
	for _, c := range []struct {
		file, claim, path string
		strategy          appsv1.DeploymentStrategyType
	}{
		{"apps/db.yaml", "db-data", "/var/lib/postgresql/data", appsv1.RecreateDeploymentStrategyType},
		{"apps/web.yaml", "web-shared-files", "/srv/Shared_Files", appsv1.RollingUpdateDeploymentStrategyType},
		{"apps/media.yaml", "media-media", "/media", appsv1.RollingUpdateDeploymentStrategyType},
	} {
		list, err := manifest.Decode(files[c.file])
		require.NoError(t, err)
		var d appsv1.Deployment
		var claim *corev1.PersistentVolumeClaim
		var pv *corev1.PersistentVolume
		for _, o := range list {
			switch o.GetKind() {
			case "PersistentVolume":
				pv = &corev1.PersistentVolume{}
				require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, pv))
			case "Deployment":
				require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d))
			case "PersistentVolumeClaim":
				claim = &corev1.PersistentVolumeClaim{}
				require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, claim))
			}
		}
		require.NotNil(t, claim, c.file)
		assert.Equal(t, c.claim, claim.Name)
		if c.claim == "media-media" {
			require.NotNil(t, pv, "the export's PersistentVolume is in the app's file")
			assert.Equal(t, pv.Name, claim.Spec.VolumeName)
			assert.True(t, pv.Spec.NFS.ReadOnly)
		} else {
			assert.Nil(t, pv)
		}
		assert.Equal(t, c.strategy, d.Spec.Strategy.Type, c.file)
		spec := d.Spec.Template.Spec
		require.Len(t, spec.Volumes, 1)
		assert.Equal(t, c.claim, spec.Volumes[0].PersistentVolumeClaim.ClaimName)
		assert.Equal(t, []corev1.VolumeMount{{Name: spec.Volumes[0].Name, MountPath: c.path}}, spec.Containers[0].VolumeMounts)
	}
}

// TestAllowFromAdmitsTheController evaluates the policy AllowFrom renders
// the way the CNI enforces it: the peer and the exposed app's ingress
// controller reach the container port; any other pod, or another port, is
// dropped. The order of Expose and AllowFrom does not matter.
func TestAllowFromAdmitsTheController(t *testing.T) {
	for _, exposeFirst := range []bool{true, false} {
		files := build(t, func(c *kube.Chart) {
			kube.NewNamespace(c, "flux-system", &kube.NamespaceProps{Name: "flux-system"})
			kube.NewNamespace(c, "ingress-nginx", &kube.NamespaceProps{Name: "ingress-nginx"})
			repo := flux.NewHelmRepository(c, "repo", &flux.HelmRepositoryProps{URL: "https://kubernetes.github.io/ingress-nginx"})
			nginx := ingress.NewNginx(c, "nginx", repo, &ingress.NginxProps{LAN: &ingress.NodePorts{}})
			web := apps.NewApp(c, "web", &apps.AppProps{Image: "nginx:1.27.3", Port: 8080})
			client := apps.NewApp(c, "client", &apps.AppProps{Image: "curlimages/curl:8.11.1", Port: 80})
			if exposeFirst {
				web.Expose("web.lan", nginx, nil)
			}
			web.AllowFrom(client.Peer())
			if !exposeFirst {
				web.Expose("web.lan", nginx, nil)
			}
		})
		policies := synthtest.NetworkPolicies(t, files)
		require.Len(t, policies, 1)
		web := synthtest.Pod{Namespace: "apps", Labels: map[string]string{"app.kubernetes.io/name": "web"}}
		for _, c := range []struct {
			from synthtest.Pod
			port int32
			want bool
		}{
			{synthtest.Pod{Namespace: "apps", Labels: map[string]string{"app.kubernetes.io/name": "client"}}, 8080, true},
			{synthtest.Pod{Namespace: "ingress-nginx", Labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}, 8080, true},
			{synthtest.Pod{Namespace: "ingress-nginx"}, 9090, false},
			{synthtest.Pod{Namespace: "apps", Labels: map[string]string{"app.kubernetes.io/name": "other"}}, 8080, false},
			{synthtest.Pod{Namespace: "monitoring"}, 8080, false},
		} {
			assert.Equal(t, c.want, policies.Allows(c.from, web, c.port, corev1.ProtocolTCP), "expose first %v: %v -> web:%d", exposeFirst, c.from, c.port)
		}
	}
}

// TestWiringRefused covers the wiring methods' own rules: each bad use is
// one error naming the app.
func TestWiringRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		add  func(c *kube.Chart)
		want string
	}{
		{"a rule without API groups", func(c *kube.Chart) {
			apps.NewApp(c, "bot", &apps.AppProps{Image: "nginx:1.27.3", Port: 80}).Grant(rbacv1.PolicyRule{Resources: []string{"pods"}, Verbs: []string{"get"}})
		}, `apps/bot: Grant: rule {verbs [get], apiGroups [], resources [pods]}: it has no API groups (use "" for the core group); give each rule verbs, API groups ("" for the core group) and resources`},
		{"a non-resource URL in a Role", func(c *kube.Chart) {
			apps.NewApp(c, "bot", &apps.AppProps{Image: "nginx:1.27.3", Port: 80}).Grant(rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}})
		}, `apps/bot: Grant: rule {verbs [get], apiGroups [], resources []}: non-resource URLs belong in a ClusterRole`},
		{"an app exposed twice", func(c *kube.Chart) {
			apps.NewApp(c, "web", &apps.AppProps{Image: "nginx:1.27.3", Port: 80, Host: "web.lan", LAN: true}).Expose("www.lan", nil, nil)
		}, `apps/web: app "web" is exposed 2 times; give the app one host: AppProps.Host or one Expose call`},
		{"a LAN host on a controller without node ports", func(c *kube.Chart) {
			repo := flux.NewHelmRepository(c, "repo", &flux.HelmRepositoryProps{URL: "https://kubernetes.github.io/ingress-nginx"})
			apps.NewApp(c, "web", &apps.AppProps{Image: "nginx:1.27.3", Port: 80}).Expose("web.lan", ingress.NewNginx(c, "nginx", repo, nil), nil)
		}, `apps/web: host "web.lan" is served in the LAN by "apps/nginx", which listens on no node port; set NginxProps.LAN on the controller, or expose the app through a tunnel`},
		{"a host that is an address", func(c *kube.Chart) {
			apps.NewApp(c, "web", &apps.AppProps{Image: "nginx:1.27.3", Port: 80, Host: "192.168.1.50", LAN: true})
		}, `apps/web: host "192.168.1.50" is an IP address; use a DNS name such as "app.lan"`},
		{"a host label over 63 characters", func(c *kube.Chart) {
			apps.NewApp(c, "web", &apps.AppProps{Image: "nginx:1.27.3", Port: 80, Host: "a234567890123456789012345678901234567890123456789012345678901234.lan", LAN: true})
		}, `apps/web: host "a234567890123456789012345678901234567890123456789012345678901234.lan" has a label of 64 characters; DNS allows 63; shorten that label`},
		{"a non-ASCII host", func(c *kube.Chart) {
			apps.NewApp(c, "web", &apps.AppProps{Image: "nginx:1.27.3", Port: 80, Host: "bücher.lan", LAN: true})
		}, `apps/web: host "bücher.lan" is not ASCII; write the name in its punycode (xn--) form`},
		{"a relative mount path", func(c *kube.Chart) {
			apps.NewApp(c, "web", &apps.AppProps{Image: "nginx:1.27.3", Port: 80}).Mount("data", volume(storageClass(c), ""))
		}, `apps/web: mount path "data" is not absolute`},
		{"a port flag that disagrees with Port (examples/single-node's whoami)", func(c *kube.Chart) {
			apps.NewApp(c, "whoami", &apps.AppProps{Image: "traefik/whoami:v1.10.3", Port: 80, Args: []string{"--port", "8080"}})
		}, `apps/whoami: the container listens on port 8080 (argument --port 8080) but AppProps.Port is 80: probes, Service and policies would point at a port nothing serves; set AppProps.Port to 8080, or make the container listen on 80`},
		{"a --flag=value port", func(c *kube.Chart) {
			apps.NewApp(c, "echo", &apps.AppProps{Image: "registry.k8s.io/e2e-test-images/agnhost:2.53", Port: 80, Args: []string{"netexec", "--http-port=8080"}})
		}, `the container listens on port 8080 (argument --http-port=8080) but AppProps.Port is 80`},
		{"a port name Kubernetes refuses", func(c *kube.Chart) {
			apps.NewApp(c, "db", &apps.AppProps{Image: "postgres:17.2", Port: 5432, PortName: "PostgreSQL"})
		}, `apps/db: port name "PostgreSQL": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-); name the port by its protocol as an IANA service name`},
		{"a PORT variable", func(c *kube.Chart) {
			apps.NewApp(c, "web", &apps.AppProps{Image: "example/web:1.0", Port: 80, Env: []corev1.EnvVar{{Name: "PORT", Value: "3000"}}})
		}, `the container listens on port 3000 (env PORT=3000) but AppProps.Port is 80`},
		{"an image's documented default", func(c *kube.Chart) {
			apps.NewApp(c, "kuma", &apps.AppProps{Image: "louislam/uptime-kuma:2.5.5", Port: 80})
		}, `the container listens on port 3001 (louislam/uptime-kuma's default (Uptime Kuma's server/config.js)) but AppProps.Port is 80`},
		{"an image's own variable", func(c *kube.Chart) {
			apps.NewApp(c, "whoami", &apps.AppProps{Image: "docker.io/traefik/whoami:v1.10.3", Port: 80, Env: []corev1.EnvVar{{Name: "WHOAMI_PORT_NUMBER", Value: "9000"}}})
		}, `the container listens on port 9000 (env WHOAMI_PORT_NUMBER=9000) but AppProps.Port is 80`},
		{"an isolated app whose ingress controller is unknown", func(c *kube.Chart) {
			a := apps.NewApp(c, "web", &apps.AppProps{Image: "nginx:1.27.3", Port: 80, Host: "web.lan", LAN: true})
			a.AllowFrom(apps.NewApp(c, "client", &apps.AppProps{Image: "curlimages/curl:8.11.1", Port: 80}).Peer())
		}, `apps/web: host "web.lan" would be unreachable: AllowFrom's policy isolates the app and no ingress controller is known to admit`},
	} {
		t.Run(c.name, func(t *testing.T) {
			app := core.NewApp(nil)
			ch := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "apps"})
			kube.NewNamespace(ch, "namespace", &kube.NamespaceProps{Name: "apps"})
			c.add(ch)
			err := app.Tree().Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func storageClass(c *kube.Chart) *storage.StorageClass {
	return storage.NewStorageClass(c, "class", &storage.StorageClassProps{Name: "nfs", Provisioner: "nfs.csi.k8s.io", Default: true, NetworkFilesystem: true})
}

func volume(sc *storage.StorageClass, mode corev1.PersistentVolumeAccessMode) storage.Volume {
	return storage.Volume{Class: sc, Size: "1Gi", AccessMode: mode}
}

// kinds lists "Kind name" of each object of a rendered file.
func kinds(data []byte) string {
	list, err := manifest.Decode(data)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, o := range list {
		fmt.Fprintf(&b, "%s %s\n", o.GetKind(), o.GetName())
	}
	return b.String()
}

// TestPortNamedByProtocol: a database names its port by its protocol; the
// container, the Service (and its target) and the probe use that name.
func TestPortNamedByProtocol(t *testing.T) {
	files := build(t, func(c *kube.Chart) {
		apps.NewApp(c, "db", &apps.AppProps{Image: "postgres:17.2", Port: 5432, ServicePort: 5432, PortName: "postgresql"})
	})
	out := string(files["apps/db.yaml"])
	for _, want := range []string{"name: postgresql\n", "targetPort: postgresql", "port: postgresql"} {
		if !strings.Contains(out, want) {
			t.Errorf("apps/db.yaml lacks %q", want)
		}
	}
	if strings.Contains(out, "http") {
		t.Errorf("the database's port is still called http:\n%s", out)
	}
}

// Zero values say what they do: Replicas 0 is the default (one pod),
// Stopped runs none, and the capacity checks count what is rendered.
func TestReplicasMeanWhatTheySay(t *testing.T) {
	cases := []struct {
		name     string
		props    apps.AppProps
		rendered int32
	}{
		{"unset: the default, one", apps.AppProps{}, 1},
		{"zero: the default, one", apps.AppProps{Replicas: 0}, 1},
		{"three", apps.AppProps{Replicas: 3}, 3},
		{"stopped: none, whatever Replicas says", apps.AppProps{Replicas: 3, Stopped: true}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tree *core.Tree
			files := build(t, func(c *kube.Chart) {
				p := tc.props
				p.Image, p.Port = "nginx:1.27.3", 8080
				apps.NewApp(c, "web", &p)
				tree = c.Info().Tree()
			})
			list, err := manifest.Decode(files["apps/web.yaml"])
			require.NoError(t, err)
			for _, o := range list {
				if o.GetKind() == "Deployment" {
					var d appsv1.Deployment
					require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d))
					require.NotNil(t, d.Spec.Replicas, "an unset replicas field means 1 to Kubernetes, whatever the props say")
					assert.Equal(t, tc.rendered, *d.Spec.Replicas)
				}
			}
			for _, w := range core.Workloads.Of(tree).All() {
				if w.Name == "web" {
					assert.Equal(t, int(tc.rendered), w.Replicas, "the capacity checks count the rendered pods")
				}
			}
		})
	}
}
