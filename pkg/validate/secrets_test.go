package validate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/secrets"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
)

// Known test values, made at run time so that no source file holds them:
// none may appear in any file synth writes or Git tracks.
var testValues = map[string]string{
	"admin-user":       "operator-" + randomHex(8),
	"admin-password":   randomHex(24),
	"credentials.json": `{"AccountTag":"` + randomHex(16) + `","TunnelSecret":"` + randomHex(32) + `","TunnelID":"6f1c2f5e-3a4b-4c8d-9e0f-1a2b3c4d5e6f"}`,
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// agePrefix is the start of every age secret key, spelled so that this
// file does not hold it.
var agePrefix = strings.ToUpper("age-secret-key-") + "1"

func storeWithSecrets(t *testing.T) (secrets.Store, *secrets.Identity) {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "age.key")
	if _, err := secrets.GenerateIdentity(keyFile); err != nil {
		t.Fatal(err)
	}
	id, err := secrets.LoadIdentity(keyFile)
	require.NoError(t, err)
	store := secrets.Store{Dir: t.TempDir()}
	set := func(ns, name, key string) {
		if _, err := store.Set(ns, name, key, []byte(testValues[key]), id, []string{id.Recipient}); err != nil {
			t.Fatal(err)
		}
	}
	set("monitoring", "grafana-admin", "admin-user")
	set("monitoring", "grafana-admin", "admin-password")
	set("cloudflared", "cloudflared-credentials", "credentials.json")
	return store, id
}

func renderWith(t *testing.T, store secrets.Store) synth.Files {
	t.Helper()
	src, err := store.Source()
	require.NoError(t, err)
	props := homelab.Funoffshore()
	props.Secrets = src
	app, _ := homelab.NewApp(props)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	return files
}

func TestSecretsInTheTree(t *testing.T) {
	store, id := storeWithSecrets(t)
	files := renderWith(t, store)
	t.Run("encrypted Secrets are written beside their platform and listed", func(t *testing.T) {
		for _, p := range []string{"kubernetes/platform/ingress/cloudflared-credentials.sops.yaml", "kubernetes/platform/monitoring/grafana-admin.sops.yaml"} {
			if !bytes.Contains(files[p], []byte("\nsops:")) {
				t.Errorf("%s is missing or not SOPS-encrypted", p)
			}
			k := files[filepath.Dir(p)+"/kustomization.yaml"]
			if !bytes.Contains(k, []byte("- "+filepath.Base(p))) {
				t.Errorf("%s is not listed in its kustomization.yaml", p)
			}
		}
		if _, ok := files["kubernetes/flux/flux-system.sops.yaml"]; ok {
			t.Error("the bootstrap Git credentials were rendered into the tree")
		}
	})
	t.Run("the Kustomizations that apply them decrypt with sops-age", func(t *testing.T) {
		apps := string(files["kubernetes/flux/apps.yaml"])
		platform := apps[strings.Index(apps, "name: platform\n"):]
		platform = platform[:strings.Index(platform, "---")]
		if !strings.Contains(platform, "decryption:\n    provider: sops\n    secretRef:\n      name: sops-age") {
			t.Errorf("platform Kustomization does not decrypt:\n%s", platform)
		}
		if strings.Contains(apps[strings.Index(apps, "name: apps\n"):], "decryption:") {
			t.Error("the apps Kustomization decrypts although it applies no Secret")
		}
	})
	t.Run("synth is byte-stable with secrets present", func(t *testing.T) {
		again := renderWith(t, store)
		for p := range files {
			if !bytes.Equal(files[p], again[p]) {
				t.Errorf("%s differs between two synths", p)
			}
		}
	})
	t.Run("the apiserver accepts the decrypted Secrets in Flux order", func(t *testing.T) {
		api := testenv.StartAPIServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		opts := testenv.ReplayOptions(t)
		opts.Decrypt = func(b []byte) ([]byte, error) { return secrets.Decrypt(b, id) }
		if _, err := validate.ReplayWith(ctx, api.Client, files, "cluster", opts); err != nil {
			t.Fatalf("replay:\n%v", err)
		}
	})
	t.Run("no secret leaks into any file synth writes or Git tracks", func(t *testing.T) {
		scan := func(name string, data []byte) {
			for k, v := range testValues {
				if bytes.Contains(data, []byte(v)) {
					t.Errorf("%s holds the test value of %s", name, k)
				}
			}
			if bytes.Contains(data, []byte(id.SecretKey())) || bytes.Contains(data, []byte(agePrefix)) {
				t.Errorf("%s holds an age secret key", name)
			}
			if m := privateKey.Find(data); m != nil && !bytes.Contains(data, []byte("PLACEHOLDER")) {
				t.Errorf("%s holds a private key", name)
			}
		}
		for p, data := range files {
			scan(p, data)
		}
		out, err := exec.Command("git", "-C", testenv.RepoRoot(), "ls-files", "-z").Output()
		if err != nil {
			t.Fatalf("git ls-files: %v", err)
		}
		n := 0
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			data, err := readFile(filepath.Join(testenv.RepoRoot(), f))
			if err != nil {
				continue // deleted in the work tree
			}
			n++
			scan(f, data)
		}
		if n < 50 {
			t.Errorf("scanned only %d tracked files", n)
		}
	})
}

var privateKey = regexp.MustCompile(`-----BEGIN ([A-Z]+ )?PRIVATE KEY-----`)

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }
