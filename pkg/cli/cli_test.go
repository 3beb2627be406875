package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func run(build cli.Builder, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Run(build, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidate(t *testing.T) {
	t.Run("the Funoffshore homelab passes every offline check", func(t *testing.T) {
		code, out, stderr := run(cli.DefaultBuilder, "validate", "--talconfig-schema", testenv.Fixture(t, fixtures.TalconfigSchema))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{
			"constructs: valid (87 objects, 32 files)", "kustomize: 9 directories build", "allocatable (2 workers)",
			"talos: 2 machine configs checked (metal mode)", "talhelper: talos/talconfig.yaml matches the schema",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("an invalid homelab lists every problem on stderr and exits 1", func(t *testing.T) {
		build := func() (*core.App, error) {
			m := homelab.DefaultMachines()
			m.Nodes[2].IP = "192.168.1.111"
			app, _ := homelab.NewApp(&homelab.Props{Machines: m, Apps: []apps.AppProps{{Name: "web", Image: "nginx", Port: 80}}})
			return app, nil
		}
		code, out, stderr := run(build, "validate")
		if code != cli.ExitFailed || out != "" {
			t.Errorf("exit %d, stdout %q", code, out)
		}
		for _, want := range []string{
			"error: validation failed with 2 error(s):",
			`  - apps/web: image "nginx" is not pinned`,
			`  - talos/talos-w-2: IP 192.168.1.111 is already used by "talos/talos-w-1"`,
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
			t.Errorf("stderr holds a stack trace:\n%s", stderr)
		}
	})
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"synth", "--help"}, {"validate", "--help"}, {"version", "--help"}} {
		if code, out, _ := run(cli.DefaultBuilder, args...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	code, _, stderr := run(cli.DefaultBuilder, "synth", "--bogus")
	if code != cli.ExitUsage || !strings.Contains(stderr, "unknown flag: --bogus") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, stderr)
	}
	code, out, _ := run(cli.DefaultBuilder, "version")
	if code != 0 || !strings.Contains(out, "flux v2.9.0") || !strings.Contains(out, "ghcr.io/fluxcd/source-controller:v1.9.1") {
		t.Errorf("version: exit %d, output %q", code, out)
	}
}
