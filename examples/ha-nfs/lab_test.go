package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/pkg/nodeenv"
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
			if err := yaml.Unmarshal([]byte(doc), out); err != nil {
				t.Fatal(err)
			}
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
	if err != nil {
		t.Fatal(err)
	}
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
	if host != pg.Name+"."+pg.Namespace+".svc" || port != "5432" || pg.Spec.Ports[0].Port != 5432 || pg.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("the wiki's database %s:%s is not the Service %s/%s on 5432 (listens on %d)", host, port, pg.Namespace, pg.Name, pg.Spec.Ports[0].Port)
	}
	if ref := env["DB_PASS"].ValueFrom; ref == nil || ref.SecretKeyRef.Name != "wiki-db" {
		t.Errorf("the wiki does not read the database password from the wiki-db Secret: %+v", env["DB_PASS"])
	}
}
