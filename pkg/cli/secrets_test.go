package cli_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"github.com/funoffshore/homelab/internal/funoffshore"
	"github.com/funoffshore/homelab/pkg/lab"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/secrets"
)

func TestSecretsCommands(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "age.key")
	t.Setenv("HOMELAB_AGE_KEY_FILE", key)
	flags := []string{"--store", filepath.Join(dir, "secrets"), "--sops-config", filepath.Join(dir, ".sops.yaml"), "--talos-secrets", filepath.Join(dir, "cluster/talos/talsecret.sops.yaml"), "--cluster-key", filepath.Join(dir, "cluster/cluster-age.sops.yaml")}
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.RunIO(funoffshore.Build, append(args, flags...), strings.NewReader(stdin), &out, &errb)
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
	// A Secret, or a key, the tree does not declare would be rendered and
	// read by nothing: set refuses it, naming what is declared.
	if code, _, stderr := run("x", "secrets", "set", "monitoring/grafana-admin", "admin-pasword"); code == 0 ||
		!strings.Contains(stderr, `monitoring/grafana-admin: secret monitoring/grafana-admin declares the keys admin-user, admin-password, not "admin-pasword"; add "admin-pasword" to the Keys of its secret.Props`) {
		t.Errorf("set of an undeclared key: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run("x", "secrets", "set", "monitoring/grafana", "admin-password"); code == 0 ||
		!strings.Contains(stderr, "the tree declares no secret monitoring/grafana (it declares ") || !strings.Contains(stderr, "monitoring/grafana-admin)") ||
		!strings.Contains(stderr, `declare it with secret.New(scope, "grafana", &secret.Props{Namespace: "monitoring", Keys: []string{"admin-password"}, Source: ...}) first`) {
		t.Errorf("set of an undeclared Secret: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "secrets/monitoring/grafana.sops.yaml")); err == nil {
		t.Error("an undeclared Secret was written")
	}
	if code, _, stderr := run("", "secrets", "set", "monitoring/grafana-admin", "admin-user"); code == 0 || !strings.Contains(stderr, "no value on standard input") {
		t.Errorf("set with no value: exit %d: %s", code, stderr)
	}

	// The internal CA's root: made once, kept encrypted, its certificate
	// printed for the devices, its key never.
	code, out, stderr = run("", "secrets", "ca")
	if code != 0 {
		t.Fatalf("ca: exit %d: %s", code, stderr)
	}
	block, _ := pem.Decode([]byte(out))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("ca printed no certificate: %q", out)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	require.True(t, root.IsCA)
	require.Equal(t, []string{"home.arpa"}, root.PermittedDNSDomains, "constrained to the Funoffshore CA's domains")
	_, keyPEM, _ := run("", "secrets", "get", "cert-manager/homelab-ca", "tls.key")
	if !strings.Contains(keyPEM, "PRIVATE KEY") || strings.Contains(out+stderr, keyPEM) {
		t.Errorf("the root's key is missing from the store, or shown: %s%s", out, stderr)
	}
	file, _ := os.ReadFile(filepath.Join(dir, "secrets/cert-manager/homelab-ca.sops.yaml"))
	require.NotEmpty(t, file)
	require.NotContains(t, string(file), "PRIVATE KEY", "the key is encrypted in the store")
	if code, _, stderr := run("", "secrets", "ca"); code == 0 || !strings.Contains(stderr, "already holds a root for cert-manager/homelab-ca") {
		t.Errorf("a second ca replaced the root devices trust: exit %d: %s", code, stderr)
	}
	if _, again, _ := run("", "secrets", "get", "cert-manager/homelab-ca", "tls.key"); again != keyPEM {
		t.Error("a refused ca changed the key")
	}
}

func TestSecondMachine(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(t.TempDir(), "first.key"), filepath.Join(t.TempDir(), "second.key")
	flags := []string{"--store", filepath.Join(dir, "secrets"), "--sops-config", filepath.Join(dir, ".sops.yaml"), "--talos-secrets", filepath.Join(dir, "cluster/talos/talsecret.sops.yaml"), "--cluster-key", filepath.Join(dir, "cluster/cluster-age.sops.yaml")}
	as := func(key, stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.RunIO(declaring("apps/db", "password"), append(append(args, "--identity", key), flags...), strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, stderr := as(first, "", "secrets", "init"); code != 0 {
		t.Fatalf("init on the first machine: exit %d: %s", code, stderr)
	}
	if code, _, stderr := as(first, "s3cret-value", "secrets", "set", "apps/db", "password"); code != 0 {
		t.Fatalf("set: exit %d: %s", code, stderr)
	}
	sops, _ := os.ReadFile(filepath.Join(dir, ".sops.yaml"))

	t.Run("init on a machine whose key is not listed explains how to be added", func(t *testing.T) {
		code, out, stderr := as(second, "", "secrets", "init")
		if code != cli.ExitFailed {
			t.Errorf("exit %d, want %d", code, cli.ExitFailed)
		}
		id, err := secrets.LoadIdentity(second)
		if err != nil {
			t.Fatalf("the second machine's identity: %v", err)
		}
		want := "on a machine that can, run `go run . secrets add-recipient " + id.Recipient + "`"
		if !strings.Contains(stderr, want) || strings.Contains(stderr, "sops updatekeys") {
			t.Errorf("stderr lacks %q:\n%s\n%s", want, out, stderr)
		}
		if now, _ := os.ReadFile(filepath.Join(dir, ".sops.yaml")); !bytes.Equal(now, sops) {
			t.Error(".sops.yaml changed")
		}
		if code, _, _ := as(second, "", "secrets", "get", "apps/db", "password"); code == 0 {
			t.Error("the second machine decrypts before it was added")
		}
	})
	t.Run("add-recipient re-encrypts every file for the new key", func(t *testing.T) {
		id, _ := secrets.LoadIdentity(second)
		code, out, stderr := as(first, "", "secrets", "add-recipient", id.Recipient)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"re-encrypted " + filepath.Join(dir, "cluster/talos/talsecret.sops.yaml"), "re-encrypted " + filepath.Join(dir, "secrets/apps/db.sops.yaml"), "now lists 2 recipient(s)"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if code, out, stderr := as(second, "", "secrets", "get", "apps/db", "password"); code != 0 || out != "s3cret-value" {
			t.Errorf("the second machine reads: exit %d %q %s", code, out, stderr)
		}
		if code, out, stderr := as(second, "", "secrets", "init"); code != 0 || !strings.Contains(out, "(exists)") {
			t.Errorf("init on the second machine now: exit %d: %s%s", code, out, stderr)
		}
	})
	t.Run("remove-recipient takes the key away again", func(t *testing.T) {
		id, _ := secrets.LoadIdentity(second)
		if code, _, stderr := as(first, "", "secrets", "remove-recipient", id.Recipient); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if code, _, _ := as(second, "", "secrets", "get", "apps/db", "password"); code == 0 {
			t.Error("the removed key still decrypts")
		}
		first, _ := secrets.LoadIdentity(first)
		if code, _, stderr := as(second, "", "secrets", "remove-recipient", first.Recipient); code == 0 || !strings.Contains(stderr, "so it cannot decrypt the files") {
			t.Errorf("a key that is not listed removes others: exit %d: %s", code, stderr)
		}
	})
	t.Run("a malformed key is refused and nothing changes", func(t *testing.T) {
		before, _ := os.ReadFile(filepath.Join(dir, ".sops.yaml"))
		code, _, stderr := as(first, "", "secrets", "add-recipient", "age1nope")
		if code == 0 || !strings.Contains(stderr, `"age1nope" is not an age public key`) {
			t.Errorf("exit %d: %s", code, stderr)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, ".sops.yaml")); !bytes.Equal(before, after) {
			t.Error(".sops.yaml changed")
		}
	})
}

// declaring returns a builder of a tree that declares the Secrets given as
// namespace/name, key pairs.
func declaring(pairs ...string) cli.Builder {
	return func() (*lab.Lab, error) {
		app := core.NewApp(nil)
		chart := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"})
		for i := 0; i < len(pairs); i += 2 {
			ns, name, _ := strings.Cut(pairs[i], "/")
			secret.New(chart, name, &secret.Props{Namespace: ns, Keys: []string{pairs[i+1]}})
		}
		return &lab.Lab{App: app}, nil
	}
}

// TestKeyModel checks the key separation on the files themselves: the
// cluster's key (what Flux holds) decrypts the Kubernetes Secrets and
// nothing else; the Talos bundle and the cluster key are the operators'
// only; rotate gives the cluster a new key and re-encrypts every Secret.
func TestKeyModel(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "age.key")
	paths := map[string]string{
		"store": filepath.Join(dir, "secrets"), "sops": filepath.Join(dir, ".sops.yaml"),
		"talos": filepath.Join(dir, "cluster/talos/talsecret.sops.yaml"), "cluster": filepath.Join(dir, "cluster/cluster-age.sops.yaml"),
	}
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		args = append(args, "--identity", key, "--store", paths["store"], "--sops-config", paths["sops"], "--talos-secrets", paths["talos"], "--cluster-key", paths["cluster"])
		code := cli.RunIO(declaring("apps/db", "password", "apps/other", "k"), args, strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, stderr := run("", "secrets", "init"); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	if code, _, stderr := run("pw", "secrets", "set", "apps/db", "password"); code != 0 {
		t.Fatalf("set: %s", stderr)
	}
	operator, err := secrets.LoadIdentity(key)
	require.NoError(t, err)
	clusterIdentity := func() *secrets.Identity {
		t.Helper()
		ck, err := secrets.LoadClusterKey(paths["cluster"], operator)
		require.NoError(t, err)
		p := filepath.Join(t.TempDir(), "cluster.key")
		require.NoError(t, os.WriteFile(p, []byte(ck.SecretKey()+"\n"), 0o600))
		id, err := secrets.LoadIdentity(p)
		require.NoError(t, err)
		return id
	}
	recipients := func(p string) []string {
		data, _ := os.ReadFile(p)
		r, err := secrets.Recipients(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return r
	}
	cluster := clusterIdentity()
	store := secrets.Store{Dir: paths["store"]}
	db := store.Path("apps", "db")
	if got := recipients(db); len(got) != 2 || !slices.Contains(got, operator.Recipient) || !slices.Contains(got, cluster.Recipient) {
		t.Errorf("a Secret is encrypted for %v, want the operator and the cluster key", got)
	}
	for _, p := range []string{paths["talos"], paths["cluster"]} {
		if got := recipients(p); len(got) != 1 || got[0] != operator.Recipient {
			t.Errorf("%s is encrypted for %v, want the operator only", p, got)
		}
	}
	if v, err := store.Get("apps", "db", "password", cluster); err != nil || string(v) != "pw" {
		t.Errorf("the cluster key does not decrypt a Secret: %q %v", v, err)
	}
	if _, err := secrets.LoadTalosSecrets(paths["talos"], cluster); err == nil {
		t.Error("the cluster key decrypts the Talos bundle")
	}

	code, out, stderr := run("", "secrets", "rotate")
	if code != 0 {
		t.Fatalf("rotate: %s", stderr)
	}
	if !strings.Contains(out, "re-encrypted "+db) || !strings.Contains(out, "run deploy") {
		t.Errorf("rotate does not name the changed Secret:\n%s", out)
	}
	rotated := clusterIdentity()
	if rotated.Recipient == cluster.Recipient {
		t.Fatal("rotate kept the cluster key")
	}
	if _, err := store.Get("apps", "db", "password", cluster); err == nil {
		t.Error("the old cluster key still decrypts the re-encrypted Secret")
	}
	if v, err := store.Get("apps", "db", "password", rotated); err != nil || string(v) != "pw" {
		t.Errorf("the new cluster key does not decrypt: %q %v", v, err)
	}
	if code, _, stderr := run("x", "secrets", "set", "apps/other", "k"); code != 0 {
		t.Fatalf("set: %s", stderr)
	}
	if got := recipients(store.Path("apps", "other")); !slices.Contains(got, rotated.Recipient) {
		t.Errorf("a new Secret is encrypted for %v, without the new cluster key", got)
	}
}

// `secrets list` says where each Secret's values come from, and `set`
// refuses a Secret from an external store, naming the store and path.
func TestSecretsListAndExternal(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOMELAB_AGE_KEY_FILE", filepath.Join(t.TempDir(), "age.key"))
	build := func() (*lab.Lab, error) {
		app := core.NewApp(nil)
		chart := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"})
		secret.New(chart, "db", &secret.Props{Namespace: "apps", Keys: []string{"user", "password"}})
		secret.New(chart, "wiki", &secret.Props{Namespace: "apps", Keys: []string{"token"},
			External: &secret.External{Store: "vault", Path: "homelab/wiki"}})
		return &lab.Lab{App: app}, nil
	}
	flags := []string{"--store", filepath.Join(dir, "secrets"), "--sops-config", filepath.Join(dir, ".sops.yaml")}
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.RunIO(build, append(args, flags...), strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, stderr := run("", "secrets", "list")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "SECRET     KEYS           SOURCE\n"+
		"apps/db    user,password  SOPS store, no value yet for user, password\n"+
		"apps/wiki  token          external store vault: homelab/wiki\n", out)
	code, _, stderr = run("x", "secrets", "set", "apps/wiki", "token")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, `apps/wiki: secret apps/wiki comes from the external secret store vault: homelab/wiki, not from the SOPS store: set "token" there`)
	_, err := os.Stat(filepath.Join(dir, "secrets/apps/wiki.sops.yaml"))
	require.True(t, os.IsNotExist(err), "nothing written for an external Secret")
}
