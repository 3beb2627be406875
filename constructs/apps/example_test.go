package apps_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/synth"
)

// chart returns a chart for the examples, with the namespaces they use.
func chart() (*core.App, *kube.Chart) {
	app := core.NewApp(nil)
	c := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "apps"})
	for _, ns := range []string{"apps", "flux-system", "ingress-nginx"} {
		kube.NewNamespace(c, "namespace-"+ns, &kube.NamespaceProps{Name: ns})
	}
	return app, c
}

// show renders the tree and prints the kinds and names of one file.
func show(app *core.App, file string) {
	files, err := synth.Render(app.Tree())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(kinds(files[file]))
}

// Wire a database and its web app: the database's data on a claim, its
// password from a declared Secret, and a policy that lets only the web
// app (and nothing else) connect to it.
func ExampleApp_AllowFrom() {
	app, c := chart()
	sc := storage.NewStorageClass(c, "class", &storage.StorageClassProps{Name: "local", Provisioner: "rancher.io/local-path", Default: true})
	pw := secret.New(c, "db-password", &secret.Props{Namespace: "apps", Keys: []string{"password"}})

	db := apps.NewApp(c, "db", &apps.AppProps{Image: "postgres:17.2", Port: 5432, ServicePort: 5432, PortName: "postgresql", RunAsUser: 999,
		Env: []corev1.EnvVar{pw.Env("POSTGRES_PASSWORD", "password")}})
	db.Mount("/var/lib/postgresql/data", storage.Volume{Class: sc, Size: "5Gi"})
	web := apps.NewApp(c, "web", &apps.AppProps{Image: "ghcr.io/example/web:1.0.0", Port: 8080,
		Env: []corev1.EnvVar{{Name: "DB_URL", Value: fmt.Sprintf("postgres://%s:%d/app", db.ServiceHost(), db.ServicePort())}}})
	db.AllowFrom(web.Peer())

	show(app, "apps/db.yaml")
	// Output:
	// ServiceAccount db
	// Deployment db
	// Service db
	// PersistentVolumeClaim db-data
	// NetworkPolicy db
}

// Expose an app in the LAN through ingress-nginx on its node ports (pass
// the homelab's tunnel instead of nil to route it from the Cloudflare
// edge).
func ExampleApp_Expose() {
	app, c := chart()
	repo := flux.NewHelmRepository(c, "ingress-nginx-repo", &flux.HelmRepositoryProps{URL: "https://kubernetes.github.io/ingress-nginx"})
	nginx := ingress.NewNginx(c, "ingress-nginx", repo, &ingress.NginxProps{LAN: &ingress.NodePorts{}})

	wiki := apps.NewApp(c, "wiki", &apps.AppProps{Image: "ghcr.io/requarks/wiki:2.5.306", Port: 3000})
	wiki.Expose("wiki.lan", nginx, nil)

	show(app, "apps/wiki.yaml")
	// Output:
	// ServiceAccount wiki
	// Deployment wiki
	// Service wiki
	// Ingress wiki
}

// Let an app read ConfigMaps and restart Deployments in its namespace: a
// Role, its RoleBinding to the app's ServiceAccount, and the token
// mounted into the pods (off for apps without grants).
func ExampleApp_Grant() {
	app, c := chart()
	reloader := apps.NewApp(c, "reloader", &apps.AppProps{Image: "ghcr.io/stakater/reloader:v1.4.2", Port: 9090})
	reloader.Grant(
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"patch"}},
	)

	show(app, "apps/reloader.yaml")
	// Output:
	// ServiceAccount reloader
	// Deployment reloader
	// Service reloader
	// Role reloader
	// RoleBinding reloader
}
