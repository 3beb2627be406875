package synth_test

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"github.com/funoffshore/homelab/pkg/lab"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
	"github.com/funoffshore/homelab/synth/synthtest"
)

var timestamp = regexp.MustCompile(`(?m)^\s*creationTimestamp:.*$`)

var update = flag.Bool("update", false, "rewrite the golden tree (the repository's cluster/) from a fresh synth")

func TestMain(m *testing.M) { testenv.Main(m) }

func render(t *testing.T, props *homelab.Props) synth.Files {
	t.Helper()
	app, _ := homelab.NewApp(props)
	files, err := synth.Render(app.Tree())
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return files
}

// TestGolden compares a fresh synth of the Funoffshore homelab with the
// committed cluster/ tree, which is the golden snapshot; -update rewrites it.
func TestGolden(t *testing.T) {
	files := render(t, nil)
	synthtest.Golden(t, filepath.Join(testenv.RepoRoot(), "cluster"), files, *update)
	want := []string{
		"kubernetes/apps/echo.yaml",
		"kubernetes/apps/homepage.yaml",
		"kubernetes/apps/kustomization.yaml",
		"kubernetes/apps/uptime-kuma.yaml",
		"kubernetes/flux/apps.yaml",
		"kubernetes/flux/gotk-components.yaml",
		"kubernetes/flux/gotk-sync.yaml",
		"kubernetes/flux/kustomization.yaml",
		"kubernetes/platform-config/acme-issuer.yaml",
		"kubernetes/platform-config/alerting.yaml",
		"kubernetes/platform-config/backup-daily.yaml",
		"kubernetes/platform-config/ca-issuer.yaml",
		"kubernetes/platform-config/kustomization.yaml",
		"kubernetes/platform-config/monitors.yaml",
		"kubernetes/platform/backup/etcd-snapshots.yaml",
		"kubernetes/platform/backup/kustomization.yaml",
		"kubernetes/platform/certs/cert-manager.yaml",
		"kubernetes/platform/certs/kustomization.yaml",
		"kubernetes/platform/ingress/cloudflared.yaml",
		"kubernetes/platform/ingress/ingress-nginx.yaml",
		"kubernetes/platform/ingress/kustomization.yaml",
		"kubernetes/platform/kustomization.yaml",
		"kubernetes/platform/monitoring/kube-prometheus-stack.yaml",
		"kubernetes/platform/monitoring/kustomization.yaml",
		"kubernetes/platform/namespaces.yaml",
		"kubernetes/platform/repositories.yaml",
		"kubernetes/platform/security/alloy.yaml",
		"kubernetes/platform/security/apps.yaml",
		"kubernetes/platform/security/cert-manager.yaml",
		"kubernetes/platform/security/cloudflared.yaml",
		"kubernetes/platform/security/coredns.yaml",
		"kubernetes/platform/security/etcd-snapshot.yaml",
		"kubernetes/platform/security/ingress-nginx.yaml",
		"kubernetes/platform/security/kustomization.yaml",
		"kubernetes/platform/security/loki.yaml",
		"kubernetes/platform/security/longhorn-metrics.yaml",
		"kubernetes/platform/security/longhorn-share-manager.yaml",
		"kubernetes/platform/security/longhorn-support-bundle.yaml",
		"kubernetes/platform/security/longhorn-system.yaml",
		"kubernetes/platform/security/monitoring.yaml",
		"kubernetes/platform/security/nfs-provisioner.yaml",
		"kubernetes/platform/security/tempo.yaml",
		"kubernetes/platform/storage/kustomization.yaml",
		"kubernetes/platform/storage/longhorn.yaml",
		"kubernetes/platform/storage/nfs.yaml",
		"kubernetes/platform/telemetry/alloy.yaml",
		"kubernetes/platform/telemetry/kustomization.yaml",
		"kubernetes/platform/telemetry/logs-dashboard.yaml",
		"kubernetes/platform/telemetry/loki.yaml",
		"kubernetes/platform/telemetry/tempo.yaml",
		"proxmox/inventory.yaml",
		"talos/controlplane.yaml",
		"talos/talconfig.yaml",
		"talos/worker.yaml",
	}
	if d := cmp.Diff(want, files.Paths()); d != "" {
		t.Errorf("file list (-want +got):\n%s", d)
	}
}

func TestDeterminism(t *testing.T) {
	t.Run("two synths of the same values are byte-identical", func(t *testing.T) {
		a, b := render(t, nil), render(t, nil)
		if d := cmp.Diff(a, b); d != "" {
			t.Errorf("renders differ (-first +second):\n%s", d)
		}
	})
	t.Run("every file starts with the generated header and has no timestamp", func(t *testing.T) {
		for p, data := range render(t, nil) {
			if !bytes.HasPrefix(data, []byte(synth.Marker)) {
				t.Errorf("%s does not start with %q", p, synth.Marker)
			}
			if timestamp.Match(data) {
				t.Errorf("%s holds a creationTimestamp field: %s", p, timestamp.Find(data))
			}
		}
	})
}

func hashTree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%s %x", rel, sha256.Sum256(data)))
		return nil
	})
	require.NoError(t, err)
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestWrite(t *testing.T) {
	t.Run("a failing validation leaves the old tree as it was", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cluster")
		require.NoError(t, synth.Write(dir, render(t, nil)))
		before := hashTree(t, dir)
		code, _, stderr := runCLI(t, func() (*lab.Lab, error) {
			// An invalid app: no image.
			props := homelab.Funoffshore()
			props.Apps = []apps.AppProps{{Name: "bad", Port: 80}}
			l, _ := homelab.NewLab(props)
			return l, nil
		}, "synth", "--out", dir)
		if code != cli.ExitFailed || !strings.Contains(stderr, "has no image") {
			t.Fatalf("synth of an invalid tree: exit %d, stderr %q", code, stderr)
		}
		if after := hashTree(t, dir); after != before {
			t.Errorf("tree changed after a failed synth:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		entries, _ := os.ReadDir(filepath.Dir(dir))
		if len(entries) != 1 {
			t.Errorf("temporary directories left beside the output: %v", entries)
		}
	})
	t.Run("stale generated files disappear and hand-written files stay", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cluster")
		files := render(t, nil)
		require.NoError(t, synth.Write(dir, files))
		stale := filepath.Join(dir, "kubernetes/apps/old.yaml")
		os.WriteFile(stale, []byte(synth.Marker+" from construct apps/old. DO NOT EDIT.\n"), 0o644)
		secret := filepath.Join(dir, "talos/talsecret.sops.yaml")
		os.MkdirAll(filepath.Dir(secret), 0o755)
		os.WriteFile(secret, []byte("sops: encrypted\n"), 0o600)
		require.NoError(t, synth.Write(dir, files))
		if _, err := os.Stat(stale); !os.IsNotExist(err) {
			t.Errorf("stale generated file still there: %v", err)
		}
		data, err := os.ReadFile(secret)
		if err != nil || string(data) != "sops: encrypted\n" {
			t.Errorf("hand-written file lost: %q, %v", data, err)
		}
		if st, _ := os.Stat(secret); st != nil && st.Mode().Perm() != 0o600 {
			t.Errorf("hand-written file mode changed to %v", st.Mode().Perm())
		}
	})
	t.Run("a hand-written file in the way of a generated one fails and changes nothing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cluster")
		files := render(t, nil)
		require.NoError(t, synth.Write(dir, files))
		os.WriteFile(filepath.Join(dir, "kubernetes/apps/echo.yaml"), []byte("# mine\n"), 0o644)
		before := hashTree(t, dir)
		err := synth.Write(dir, files)
		if err == nil || !strings.Contains(err.Error(), "kubernetes/apps/echo.yaml is hand-written") {
			t.Fatalf("want a hand-written clash error, got %v", err)
		}
		if after := hashTree(t, dir); after != before {
			t.Error("tree changed after a failed write")
		}
	})
}

func runCLI(t *testing.T, build cli.Builder, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(build, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	build := func() (*lab.Lab, error) { l, _ := homelab.NewLab(nil); return l, nil }
	if code, _, stderr := runCLI(t, build, "synth", "--out", dir); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, stderr)
	}
	t.Run("exits 0 when the tree is current", func(t *testing.T) {
		if code, out, stderr := runCLI(t, build, "synth", "--check", "--out", dir); code != 0 || out != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
	t.Run("exits 1 with a unified diff when a file was edited", func(t *testing.T) {
		p := filepath.Join(dir, "kubernetes/flux/apps.yaml")
		data, _ := os.ReadFile(p)
		os.WriteFile(p, bytes.Replace(data, []byte("interval: 5m0s"), []byte("interval: 9m0s"), 1), 0o644)
		code, out, _ := runCLI(t, build, "synth", "--check", "--out", dir)
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		for _, want := range []string{"--- a/kubernetes/flux/apps.yaml", "+++ b/kubernetes/flux/apps.yaml", "-  interval: 9m0s", "+  interval: 5m0s"} {
			if !strings.Contains(out, want) {
				t.Errorf("diff lacks %q:\n%s", want, out)
			}
		}
		os.WriteFile(p, data, 0o644)
	})
	t.Run("exits 1 when a generated file is missing", func(t *testing.T) {
		p := filepath.Join(dir, "kubernetes/apps/echo.yaml")
		data, _ := os.ReadFile(p)
		os.Remove(p)
		code, out, _ := runCLI(t, build, "synth", "--check", "--out", dir)
		if code != 1 || !strings.Contains(out, "+++ b/kubernetes/apps/echo.yaml") || !strings.Contains(out, "--- /dev/null") {
			t.Errorf("exit %d, diff:\n%s", code, out)
		}
		os.WriteFile(p, data, 0o644)
	})
}
