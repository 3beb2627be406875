package cli_test

import (
	"bytes"
	"fmt"
	"github.com/funoffshore/homelab/internal/funoffshore"
	"github.com/funoffshore/homelab/pkg/lab"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/monitoring"
	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/nodeenv"
	"github.com/funoffshore/homelab/pkg/secrets"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) {
	nodeenv.Ensure()
	testenv.QuietLogs()
	cleanup, err := testenv.BuildHelper()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	jsii.Close()
	cleanup()
	os.Exit(code)
}

func run(build cli.Builder, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Run(build, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidate(t *testing.T) {
	t.Run("the Funoffshore homelab passes every offline check and lists what blocks it", func(t *testing.T) {
		code, out, stderr := run(funoffshore.Build, "validate", "--talconfig-schema", testenv.Fixture(t, fixtures.TalconfigSchema))
		if code != cli.ExitBlocked {
			t.Fatalf("exit %d, want %d (blockers): %s", code, cli.ExitBlocked, stderr)
		}
		for _, want := range []string{
			"constructs: valid (137 objects, 54 files)", "kustomize: 11 directories build", "allocatable (2 workers)",
			"talos: 2 machine configs checked (metal mode)", "talhelper: talos/talconfig.yaml matches the schema",
			"blocking: 9 thing(s) keep this tree from reconciling on a real cluster:",
			`  - platform/ingress/cloudflared: Platform.Tunnel.ID is the example "6f1c2f5e-3a4b-4c8d-9e0f-1a2b3c4d5e6f"`,
			"  - platform/storage/nfs: Platform.NFS.Server (or the Longhorn BackupTarget on it) is the example address 192.168.1.20",
			"fix: set each key (see docs/secrets.md): go run . secrets set monitoring/grafana-admin admin-user < FILE; go run . secrets set monitoring/grafana-admin admin-password < FILE",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("with every site value and secret set nothing blocks", func(t *testing.T) {
		keyPath := filepath.Join(t.TempDir(), "age.key")
		if _, err := secrets.GenerateIdentity(keyPath); err != nil {
			t.Fatal(err)
		}
		id, err := secrets.LoadIdentity(keyPath)
		require.NoError(t, err)
		store := secrets.Store{Dir: t.TempDir()}
		for ref, keys := range map[string][]string{
			"cloudflared/cloudflared-credentials": {"credentials.json"},
			"monitoring/grafana-admin":            {"admin-user", "admin-password"},
			"flux-system/flux-system":             {"identity", "identity.pub", "known_hosts"},
			"monitoring/alertmanager-discord":     {"webhook-url"},
			"cert-manager/homelab-ca":             {"tls.crt", "tls.key"},
			"cert-manager/cloudflare-api-token":   {"api-token"},
		} {
			ns, name, _ := strings.Cut(ref, "/")
			for _, k := range keys {
				if _, err := store.Set(ns, name, k, []byte("value"), id, []string{id.Recipient}); err != nil {
					t.Fatal(err)
				}
			}
		}
		src, err := store.Source()
		require.NoError(t, err)
		build := func() (*lab.Lab, error) {
			p := homelab.DefaultPlatform()
			p.Tunnel.ID = "0b4c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
			p.NFS.Server, p.Longhorn.BackupTarget = "192.168.1.30", "nfs://192.168.1.30:/volume1/longhorn-backups"
			p.Monitoring.Alerts = monitoring.DiscordReceiver("alertmanager-discord")
			props := homelab.Funoffshore()
			props.Platform = p
			props.Secrets = src
			l, _ := homelab.NewLab(props)
			return l, nil
		}
		code, out, stderr := run(build, "validate")
		if code != 0 || strings.Contains(out, "blocking:") {
			t.Errorf("exit %d: %s%s", code, out, stderr)
		}
	})
	t.Run("an invalid homelab lists every problem on stderr and exits 1", func(t *testing.T) {
		build := func() (*lab.Lab, error) {
			m := homelab.DefaultMachines()
			m.Nodes[2].IP = "192.168.1.111"
			props := homelab.Funoffshore()
			props.Machines = m
			props.Apps = []apps.AppProps{{Name: "web", Image: "nginx", Port: 80}}
			l, _ := homelab.NewLab(props)
			return l, nil
		}
		code, out, stderr := run(build, "validate")
		if code != cli.ExitFailed || out != "" {
			t.Errorf("exit %d, stdout %q", code, out)
		}
		for _, want := range []string{
			"error: validation failed with 2 error(s):",
			`  - apps/web: image "nginx" is not pinned`,
			`  - talos/talos-w-2: IP 192.168.1.111 (node talos-w-2) is already used by "talos/talos-w-1"`,
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
		if code, out, _ := run(funoffshore.Build, args...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	code, _, stderr := run(funoffshore.Build, "synth", "--bogus")
	if code != cli.ExitUsage || !strings.Contains(stderr, "unknown flag: --bogus") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, stderr)
	}
	code, out, _ := run(funoffshore.Build, "version")
	if code != 0 || !strings.Contains(out, "flux v2.9.0") || !strings.Contains(out, "ghcr.io/fluxcd/source-controller:v1.9.1") {
		t.Errorf("version: exit %d, output %q", code, out)
	}
}

func TestMistakes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a misspelt command is refused with a hint", []string{"deplyo"}, `unknown command "deplyo" for "homelab"; did you mean "deploy"?`},
		{"a misspelt subcommand is refused with a hint", []string{"secrets", "sett"}, `unknown command "sett" for "homelab secrets"; did you mean "get" or "set"?`},
		{"an unknown word without a near name lists the commands", []string{"frobnicate"}, `unknown command "frobnicate" for "homelab"; commands: completion, deploy, diff, plan, secrets, synth, validate, version`},
		{"extra arguments are refused", []string{"synth", "cluster"}, `homelab synth takes no arguments, got ["cluster"]`},
		{"missing arguments are refused with the usage line", []string{"secrets", "get", "apps/x"}, "homelab secrets get: accepts 2 arg(s), received 1 (usage: homelab secrets get NAMESPACE/NAME KEY [flags])"},
		{"an unknown flag is refused", []string{"synth", "--outt", "x"}, "unknown flag: --outt"},
		{"synth into the filesystem root is refused", []string{"synth", "--out", "/"}, `output "/" is the filesystem root; the output must be a directory of its own`},
		{"synth into the working directory is refused", []string{"synth", "--out", "."}, `output "." is the working directory`},
		{"synth into a parent of the working directory is refused", []string{"synth", "--out", ".."}, `output ".." holds the working directory`},
		{"synth into a file is refused", []string{"synth", "--out", file}, "is a file, not a directory"},
		{"synth --check against a file is refused", []string{"synth", "--check", "--out", file}, "is a file, not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := run(funoffshore.Build, tc.args...)
			if code != cli.ExitUsage {
				t.Errorf("exit %d, want %d (usage)", code, cli.ExitUsage)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr)
			}
		})
	}
	t.Run("a command group alone prints its help and succeeds", func(t *testing.T) {
		code, out, _ := run(funoffshore.Build, "secrets")
		if code != cli.ExitOK || !strings.Contains(out, "Available Commands:") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
}

func TestValidateCluster(t *testing.T) {
	t.Run("--local replays the tree in Flux order against a local kube-apiserver", func(t *testing.T) {
		code, out, stderr := run(funoffshore.Build, "validate", "--local")
		if code != cli.ExitBlocked {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{
			"server: Kustomization flux-system/flux-system (./cluster/kubernetes/flux)",
			"server: Kustomization flux-system/platform-config (./cluster/kubernetes/platform-config)",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("--server without a cluster says so and offers --local", func(t *testing.T) {
		t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
		t.Setenv("HOME", t.TempDir())
		code, _, stderr := run(funoffshore.Build, "validate", "--server")
		if code != cli.ExitFailed || !strings.Contains(stderr, "validate --server: no cluster to check against") || !strings.Contains(stderr, "use --local") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("--server against a dead server fails in one line", func(t *testing.T) {
		kc := filepath.Join(t.TempDir(), "kubeconfig")
		data := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: x}\n"
		require.NoError(t, os.WriteFile(kc, []byte(data), 0o600))
		t.Setenv("KUBECONFIG", kc)
		code, _, stderr := run(funoffshore.Build, "validate", "--server")
		if code != cli.ExitFailed || strings.Count(stderr, "error:") != 1 || !strings.Contains(stderr, "the API server at https://127.0.0.1:1 does not answer") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("--server and --local together are a usage error", func(t *testing.T) {
		if code, _, _ := run(funoffshore.Build, "validate", "--server", "--local"); code != cli.ExitUsage {
			t.Errorf("exit %d, want %d", code, cli.ExitUsage)
		}
	})
}

// TestCommandLinksNoHomelab: the command line of any homelab links no
// composition; the Funoffshore one comes with the repository's mains
// (internal/funoffshore).
func TestCommandLinksNoHomelab(t *testing.T) {
	pkgs := []string{testenv.RepoRoot() + "/pkg/cli", testenv.RepoRoot() + "/pkg/cli/synthcli"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, pkg := range []string{"github.com/funoffshore/homelab/homelab", "github.com/funoffshore/homelab/internal/funoffshore"} {
		if strings.Contains(string(out), pkg+"\n") {
			t.Errorf("package cli links %s: a homelab's main passes its builder", pkg)
		}
	}
}

// TestCommandLinksNoTestServers: the test servers stay in the
// homelab-testenv helper and the tests. (Helm's SDK is linked: `diff`
// renders charts as helm-controller does.)
func TestCommandLinksNoTestServers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", testenv.RepoRoot(), testenv.RepoRoot()+"/cmd/homelab").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, pkg := range []string{"sigs.k8s.io/controller-runtime/pkg/envtest", "github.com/funoffshore/homelab/pkg/testenv"} {
		if strings.Contains(string(out), pkg+"\n") {
			t.Errorf("the homelab command links %s (it belongs in the homelab-testenv helper or tests)", pkg)
		}
	}
}

// TestProcessStarts builds the command (the repository's main, with the
// full command beside it as homelab-full) and runs it the way users do,
// without JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION, with
// GODEBUG=inittrace=1 (every Go process prints its package inits, so the
// count of the runtime's first init is the count of Go process starts):
// version runs in one process; secrets and help in the full command it
// executes in its place (two starts, no build); synth in one, plus the
// same program hosting jsii's kernel (nodeenv), which starts node once
// instead of jsii's node wrapper and its node. Node prints no end-of-life
// banner, and the output is the same as with jsii's own wrapper.
func TestProcessStarts(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "homelab")
	for out, pkg := range map[string]string{bin: testenv.RepoRoot(), filepath.Join(dir, "homelab-full"): testenv.RepoRoot() + "/cmd/homelab"} {
		if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build: %v: %s", err, msg)
		}
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err)
	for _, c := range []struct {
		args   []string
		env    []string
		starts int
	}{
		{[]string{"version"}, nil, 1},
		{[]string{"secrets", "get", "--help"}, nil, 2},
		{[]string{"help"}, nil, 2},
		{[]string{"help"}, []string{"JSII_NODE=" + node, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20"}, 2},
		{[]string{"synth", "--out", t.TempDir()}, nil, 1},
	} {
		t.Run(strings.Join(append(c.env, c.args...), " "), func(t *testing.T) {
			cmd := exec.Command(bin, c.args...)
			cmd.Dir = testenv.RepoRoot()
			for _, e := range os.Environ() {
				if !strings.HasPrefix(e, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=") && !strings.HasPrefix(e, "GODEBUG=") &&
					!strings.HasPrefix(e, "JSII_NODE=") && !strings.HasPrefix(e, "HOMELAB_JSII_HOST_NODE=") && !strings.HasPrefix(e, "TMPDIR=") {
					cmd.Env = append(cmd.Env, e)
				}
			}
			// jsii copies its runtime into a temporary directory, which
			// every process must remove, also one that execs another.
			tmp := t.TempDir()
			cmd.Env = append(cmd.Env, "GODEBUG=inittrace=1", "TMPDIR="+tmp)
			cmd.Env = append(cmd.Env, c.env...)
			defer func() {
				left, err := filepath.Glob(filepath.Join(tmp, "jsii-runtime.*"))
				require.NoError(t, err)
				assert.Empty(t, left, "jsii runtime copies left behind")
			}()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			if n := strings.Count(stderr.String(), "init internal/bytealg "); n != c.starts {
				t.Errorf("%d process starts, want %d", n, c.starts)
			}
			if strings.Contains(strings.ToLower(stderr.String()), "end-of-life") {
				t.Errorf("node printed its banner:\n%s", stderr.String())
			}
		})
	}
	t.Run("synth through jsii's own wrapper writes the same files", func(t *testing.T) {
		outs := []string{t.TempDir(), t.TempDir()}
		for i, env := range [][]string{nil, {"JSII_NODE=" + node}} {
			cmd := exec.Command(bin, "synth", "--out", outs[i])
			cmd.Dir = testenv.RepoRoot()
			// As a user runs it: no variable of a parent's jsii host.
			for _, e := range os.Environ() {
				if !strings.HasPrefix(e, "JSII_NODE=") && !strings.HasPrefix(e, "HOMELAB_JSII_HOST_NODE=") {
					cmd.Env = append(cmd.Env, e)
				}
			}
			cmd.Env = append(cmd.Env, env...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
		}
		assert.Equal(t, readTree(t, outs[1]), readTree(t, outs[0]))
	})
}

// TestWalkthroughIsCompiled keeps docs/your-own-homelab.md equal to the
// code ExampleRun_yourOwnHomelab compiles and runs.
func TestWalkthroughIsCompiled(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "your-own-homelab.md"))
	require.NoError(t, err)
	_, rest, _ := strings.Cut(string(src), "\t// begin walkthrough\n")
	body, _, ok := strings.Cut(rest, "\t// end walkthrough\n")
	if !ok {
		t.Fatal("example_test.go has no walkthrough markers")
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	if want := "```go\n" + strings.Join(lines, "\n") + "\n```"; !strings.Contains(string(doc), want) {
		t.Errorf("docs/your-own-homelab.md does not quote the walkthrough of example_test.go; replace its first go block with:\n%s", want)
	}
}

func TestDeployRefusesBlockers(t *testing.T) {
	t.Setenv("PROXMOX_TOKEN_ID", "")
	code, _, stderr := run(funoffshore.Build, "deploy", "--yes")
	if code != cli.ExitFailed || !strings.Contains(stderr, "the tree would not reconcile once Flux runs (9 blocker(s))") || !strings.Contains(stderr, "or pass --allow-pending") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	code, _, stderr = run(funoffshore.Build, "deploy", "--yes", "--allow-pending")
	if code != cli.ExitFailed || strings.Contains(stderr, "blocker") || !strings.Contains(stderr, "PROXMOX_TOKEN_ID") {
		t.Errorf("with --allow-pending the next check (the token) must speak: exit %d: %s", code, stderr)
	}
}

// TestValidateAsksTheTree validates a homelab whose machine configs are
// not in talos/: the Talos configs and talconfig.yaml are found through
// the cluster construct, so they are still checked.
func TestValidateAsksTheTree(t *testing.T) {
	build := func() (*lab.Lab, error) {
		app := core.NewApp(nil)
		dc := proxmox.NewDatacenter(app, "proxmox", nil)
		dc.AddHost("pve", &proxmox.HostProps{Endpoint: "https://10.0.0.2:8006", Cores: 8, MemoryGiB: 32})
		vm := dc.AddVM("talos", &proxmox.VMProps{VMID: 200, Cores: 4, MemoryGiB: 12, DiskGiB: 64})
		cluster := talos.NewCluster(app, "os", &talos.ClusterProps{Name: "lab", Subnet: "10.0.0.0/24", Dir: "infra/machines",
			Patches: []talos.Patch{{Role: talos.ControlPlane, Config: &v1alpha1.Config{ClusterConfig: &v1alpha1.ClusterConfig{AllowSchedulingOnControlPlanes: ptr.To(true)}}}}})
		cluster.AddNode("talos", &talos.NodeProps{IP: "10.0.0.10", Role: talos.ControlPlane, Machine: vm})
		flux.NewLayers(app, &flux.LayersProps{URL: "ssh://git@git.example.org/me/lab"})
		return &lab.Lab{App: app, Cluster: cluster, Datacenter: dc}, nil
	}
	code, out, stderr := run(build, "validate", "--talconfig-schema", testenv.Fixture(t, fixtures.TalconfigSchema))
	require.Equal(t, 0, code, "%s%s", out, stderr)
	assert.Contains(t, out, "talos: 2 machine configs checked")
	assert.Contains(t, out, "talhelper: infra/machines/talconfig.yaml matches the schema")
}

// readTree returns every file under dir by its relative path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(data)
		return err
	}))
	require.NotEmpty(t, out)
	return out
}
