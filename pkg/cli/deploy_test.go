package cli_test

import (
	"bytes"
	"github.com/funoffshore/homelab/internal/funoffshore"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestDeploySimulate(t *testing.T) {
	if _, err := os.Stat(filepath.Join(testenv.AssetsDir(), "kube-apiserver")); err != nil && os.Getenv("CI") != "true" {
		t.Skip("run `make envtest` first")
	}
	dir := t.TempDir()
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.RunIO(funoffshore.Build, args, strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	t.Run("plan exits 2 with the pending changes per layer", func(t *testing.T) {
		code, out, stderr := run("", "plan", "--simulate")
		if code != cli.ExitPending {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		_, rest, ok := strings.Cut(stderr, "temporary state in ")
		tmp, _, _ := strings.Cut(rest, " (removed at exit)")
		if !ok || tmp == "" {
			t.Errorf("stderr does not name the temporary state:\n%s", stderr)
		} else if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("plan --simulate left %s behind (%v)", tmp, err)
		}
		for _, want := range []string{"proxmox:\n  pve-1: download iso", "pve-2: create vm 111 talos-w-1", "talos:\n  talos-cp-1: deliver controlplane config to VM talos-cp-1 out of band", "talos-cp-1: bootstrap etcd", "13 change(s) pending"} {
			if !strings.Contains(out, want) {
				t.Errorf("plan lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("deploy asks first and changes nothing on no", func(t *testing.T) {
		code, _, stderr := run("n\n", "deploy", "--simulate")
		if code != cli.ExitFailed || !strings.Contains(stderr, "aborted: nothing changed") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("a simulation never writes into the user config dir", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("XDG_CONFIG_HOME", home)
		t.Setenv("HOME", home)
		code, out, stderr := run("", "deploy", "--simulate", "--yes", "--log", filepath.Join(dir, "only-log.jsonl"))
		if code != 0 {
			t.Fatalf("exit %d: %s\n%s", code, out, stderr)
		}
		if _, err := os.Stat(filepath.Join(home, "homelab")); !os.IsNotExist(err) {
			t.Errorf("the simulated kubeconfig went to the user config dir: %v", err)
		}
		if !strings.Contains(out, "a temporary directory removed at exit (pass --state-dir DIR to keep them)") {
			t.Errorf("deploy points at client configs it then removes:\n%s", out)
		}
	})
	t.Run("deploy --yes goes from empty hosts to Flux ready, then plans nothing", func(t *testing.T) {
		log := filepath.Join(dir, "actions.jsonl")
		code, out, stderr := run("", "deploy", "--simulate", "--yes", "--state-dir", dir, "--log", log)
		if code != 0 {
			t.Fatalf("exit %d: %s\n%s", code, out, stderr)
		}
		for _, want := range []string{"proxmox: ISOs and VMs done in", "talos: machine configs, etcd bootstrap, upgrades, removals done in", "flux: bootstrap done in"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("progress lacks %q:\n%s", want, stderr)
			}
		}
		if !strings.Contains(out, "plan after deploy:") || !strings.HasSuffix(strings.TrimSpace(out), "0 change(s) pending") {
			t.Errorf("output:\n%s", out)
		}
		for _, f := range []string{"kubeconfig", "talosconfig"} {
			st, err := os.Stat(filepath.Join(dir, f))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v", f, err)
			}
		}
		data, _ := os.ReadFile(log)
		if n := strings.Count(string(data), "\n"); n < 13 {
			t.Errorf("action log has %d lines:\n%s", n, data)
		}
		if strings.Contains(string(data), "PRIVATE") || strings.Contains(string(data), strings.ToUpper("age-secret-key")) {
			t.Error("the action log holds a secret")
		}
	})
}
