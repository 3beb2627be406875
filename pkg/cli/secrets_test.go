package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/funoffshore/homelab/pkg/cli"
)

func TestSecretsCommands(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "age.key")
	t.Setenv("HOMELAB_AGE_KEY_FILE", key)
	flags := []string{"--store", filepath.Join(dir, "secrets"), "--sops-config", filepath.Join(dir, ".sops.yaml"), "--talos-secrets", filepath.Join(dir, "cluster/talos/talsecret.sops.yaml")}
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.RunIO(cli.DefaultBuilder, append(args, flags...), strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, stderr := run("", "secrets", "init")
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	keyData, _ := os.ReadFile(key)
	secretLine := ""
	for _, l := range strings.Split(string(keyData), "\n") {
		if strings.HasPrefix(l, "AGE-SECRET-KEY-") {
			secretLine = l
		}
	}
	if secretLine == "" || strings.Contains(out+stderr, secretLine) || !strings.Contains(out, key) {
		t.Errorf("init must show the identity path and never the private key:\n%s", out)
	}
	for _, f := range []string{".sops.yaml", "cluster/talos/talsecret.sops.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("init did not create %s", f)
		}
	}
	talos, _ := os.ReadFile(filepath.Join(dir, "cluster/talos/talsecret.sops.yaml"))
	if code, out, _ := run("", "secrets", "init"); code != 0 || !strings.Contains(out, "(exists)") {
		t.Errorf("a second init: exit %d: %s", code, out)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "cluster/talos/talsecret.sops.yaml")); !bytes.Equal(talos, again) {
		t.Error("a second init replaced the Talos secrets")
	}

	if code, _, stderr := run("hunter2-but-longer", "secrets", "set", "monitoring/grafana-admin", "admin-password"); code != 0 {
		t.Fatalf("set: exit %d: %s", code, stderr)
	}
	if code, out, stderr := run("", "secrets", "get", "monitoring/grafana-admin", "admin-password"); code != 0 || out != "hunter2-but-longer" {
		t.Errorf("get: exit %d, %q, %s", code, out, stderr)
	}
	if code, _, stderr := run("", "secrets", "set", "grafana-admin", "x"); code != cli.ExitUsage || !strings.Contains(stderr, "NAMESPACE/NAME") {
		t.Errorf("set without a namespace: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run("", "secrets", "set", "monitoring/grafana-admin", "admin-user"); code == 0 || !strings.Contains(stderr, "no value on standard input") {
		t.Errorf("set with no value: exit %d: %s", code, stderr)
	}
}
