package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/jsii-runtime-go"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/pkg/nodeenv"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
	"github.com/funoffshore/homelab/synth/synthtest"
)

var update = flag.Bool("update", false, "rewrite testdata/cluster")

func TestMain(m *testing.M) {
	nodeenv.Ensure()
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// object decodes the object of kind named name in the rendered file.
func object(t *testing.T, files synth.Files, file, kind, name string, out any) {
	t.Helper()
	for _, doc := range strings.Split(string(files[file]), "\n---\n") {
		var meta struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if yaml.Unmarshal([]byte(doc), &meta) == nil && meta.Kind == kind && meta.Metadata.Name == name {
			require.NoError(t, yaml.Unmarshal([]byte(doc), out))
			return
		}
	}
	t.Fatalf("no %s %s in %s", kind, name, file)
}

// TestSnapshot is this homelab's snapshot test, with the checks of what
// makes it this homelab: the VIP as the endpoint of three control planes,
// one per host; NFS and nothing of Longhorn or the tunnel; the wiki
// reaching its database's Service with the shared Secret.
func TestSnapshot(t *testing.T) {
	files, err := synth.Render(Build(nil).Tree())
	require.NoError(t, err)
	synthtest.Golden(t, filepath.Join("testdata", "cluster"), files, *update)

	cp := string(files["talos/controlplane.yaml"])
	for _, want := range []string{"endpoint: https://10.1.0.50:6443", "ip: 10.1.0.50"} {
		if !strings.Contains(cp, want) {
			t.Errorf("the control-plane config lacks %q", want)
		}
	}
	for _, f := range []string{"talos/controlplane.yaml", "talos/worker.yaml"} {
		if _, err := validate.TalosConfig(f, files[f]); err != nil {
			t.Error(err)
		}
	}
	for path, data := range files {
		if s := string(data); strings.Contains(s, "longhorn") || strings.Contains(s, "cloudflared") {
			t.Errorf("%s: Longhorn or the tunnel leaked into a homelab without them", path)
		}
	}
	var pg corev1.Service
	object(t, files, "kubernetes/apps/postgres.yaml", "Service", "postgres", &pg)
	var wiki appsv1.Deployment
	object(t, files, "kubernetes/apps/wiki.yaml", "Deployment", "wiki", &wiki)
	env := map[string]corev1.EnvVar{}
	for _, e := range wiki.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e
	}
	host, port := env["DB_HOST"].Value, env["DB_PORT"].Value
	if host != pg.Name+"."+pg.Namespace+".svc" || port != "5432" || pg.Spec.Ports[0].Port != 5432 || pg.Spec.Ports[0].TargetPort.StrVal != "postgresql" {
		t.Errorf("the wiki's database %s:%s is not the Service %s/%s on 5432 (listens on %d)", host, port, pg.Namespace, pg.Name, pg.Spec.Ports[0].Port)
	}
	if ref := env["DB_PASS"].ValueFrom; ref == nil || ref.SecretKeyRef.Name != "wiki-db" {
		t.Errorf("the wiki does not read the database password from the wiki-db Secret: %+v", env["DB_PASS"])
	}

	// HTTPS in the LAN from the homelab's own CA: the wiki's Ingress
	// serves the Secret its Certificate produces, signed by the CA issuer,
	// which the platform-config Kustomization applies after the platform.
	var ing networkingv1.Ingress
	object(t, files, "kubernetes/apps/wiki.yaml", "Ingress", "wiki", &ing)
	var crt cmapi.Certificate
	object(t, files, "kubernetes/apps/wiki.yaml", "Certificate", "wiki-tls", &crt)
	require.Len(t, ing.Spec.TLS, 1)
	require.Equal(t, crt.Spec.SecretName, ing.Spec.TLS[0].SecretName)
	require.Equal(t, []string{"wiki.ha.home.arpa"}, crt.Spec.DNSNames)
	var issuer cmapi.ClusterIssuer
	object(t, files, "kubernetes/platform-config/ca.yaml", "ClusterIssuer", crt.Spec.IssuerRef.Name, &issuer)
	require.NotNil(t, issuer.Spec.CA)
	require.Contains(t, string(files["kubernetes/flux/platform-config.yaml"]), "path: ./cluster/kubernetes/platform-config")

	// The database's password from Vault: the ExternalSecret makes the
	// Secret both apps read, under its name and with its key, from the
	// store platform-config applies.
	var es struct {
		Spec struct {
			SecretStoreRef struct{ Kind, Name string }
			Target         struct{ Name string }
			Data           []struct {
				SecretKey string
				RemoteRef struct{ Key, Property string }
			}
		}
	}
	object(t, files, "kubernetes/apps/wiki-db.yaml", "ExternalSecret", "wiki-db", &es)
	require.Equal(t, env["DB_PASS"].ValueFrom.SecretKeyRef.Name, es.Spec.Target.Name)
	require.Len(t, es.Spec.Data, 1)
	require.Equal(t, env["DB_PASS"].ValueFrom.SecretKeyRef.Key, es.Spec.Data[0].SecretKey)
	require.Equal(t, "ha/wiki-db", es.Spec.Data[0].RemoteRef.Key)
	var store struct{ Kind string }
	object(t, files, "kubernetes/platform-config/vault.yaml", es.Spec.SecretStoreRef.Kind, es.Spec.SecretStoreRef.Name, &store)
	require.NotContains(t, files, "kubernetes/apps/wiki-db.sops.yaml", "no SOPS file for a Secret from Vault")
}

// TestReplay: a real kube-apiserver accepts the tree in Flux's order,
// the ClusterSecretStore and the ExternalSecret against the
// external-secrets chart's own CRDs (installed once the platform's
// HelmReleases are ready, as Flux would have them).
func TestReplay(t *testing.T) {
	files, err := synth.Render(Build(nil).Tree())
	require.NoError(t, err)
	api := testenv.StartAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = validate.ReplayWith(ctx, api.Client, files, "cluster", testenv.ReplayOptions(t))
	require.NoError(t, err)
}

// TestWiring checks what the wiring methods did where it takes effect: the
// database's claim mounted where PostgreSQL keeps its data, and the
// policy from AllowFrom admitting the wiki, and nothing else, to the
// database's container port, with the CNI told to enforce it.
func TestWiring(t *testing.T) {
	files, err := synth.Render(Build(nil).Tree())
	require.NoError(t, err)
	var pg appsv1.Deployment
	object(t, files, "kubernetes/apps/postgres.yaml", "Deployment", "postgres", &pg)
	var claim corev1.PersistentVolumeClaim
	object(t, files, "kubernetes/apps/postgres.yaml", "PersistentVolumeClaim", "postgres-data", &claim)
	spec := pg.Spec.Template.Spec
	mounted := ""
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim.Name {
			for _, m := range spec.Containers[0].VolumeMounts {
				if m.Name == v.Name {
					mounted = m.MountPath
				}
			}
		}
	}
	if mounted != "/var/lib/postgresql/data" || *claim.Spec.StorageClassName != "nfs-storage" {
		t.Errorf("claim %s (class %s) is mounted at %q, want /var/lib/postgresql/data", claim.Name, *claim.Spec.StorageClassName, mounted)
	}

	policies := synthtest.NetworkPolicies(t, files)
	wiki := synthtest.Pod{Namespace: "apps", Labels: map[string]string{"app.kubernetes.io/name": "wiki"}}
	db := synthtest.Pod{Namespace: "apps", Labels: pg.Spec.Template.Labels}
	for _, c := range []struct {
		from synthtest.Pod
		port int32
		want bool
	}{
		{wiki, 5432, true},
		{wiki, 22, false},
		{synthtest.Pod{Namespace: "apps", Labels: map[string]string{"app.kubernetes.io/name": "other"}}, 5432, false},
		{synthtest.Pod{Namespace: "nfs-provisioner"}, 5432, false},
	} {
		if got := policies.Allows(c.from, db, c.port, corev1.ProtocolTCP); got != c.want {
			t.Errorf("%v -> postgres:%d allowed = %v, want %v", c.from, c.port, got, c.want)
		}
	}
	// The wiki itself stays open (nothing isolates it).
	if !policies.Allows(synthtest.Pod{Namespace: "nfs-provisioner"}, wiki, 3000, corev1.ProtocolTCP) {
		t.Error("the database's policy isolates the wiki too")
	}
	for _, f := range []string{"talos/controlplane.yaml", "talos/worker.yaml"} {
		if !strings.Contains(string(files[f]), "kubeNetworkPoliciesEnabled: true") {
			t.Errorf("%s: flannel does not enforce NetworkPolicies, so the database's policy would do nothing", f)
		}
	}
}
