package secrets_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/secrets"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/validate"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newIdentity(t *testing.T) *secrets.Identity {
	t.Helper()
	p := filepath.Join(t.TempDir(), "age.key")
	if _, err := secrets.GenerateIdentity(p); err != nil {
		t.Fatal(err)
	}
	id, err := secrets.LoadIdentity(p)
	require.NoError(t, err)
	return id
}

func TestIdentity(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dir", "age.key")
	r, err := secrets.GenerateIdentity(p)
	require.NoError(t, err)
	st, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "identity mode")
	assert.True(t, strings.HasPrefix(r, "age1"), "recipient %q", r)
	_, err = secrets.GenerateIdentity(p)
	assert.ErrorContains(t, err, "already exists", "overwriting an identity")
	id, err := secrets.LoadIdentity(p)
	require.NoError(t, err)
	assert.NotContains(t, id.String(), "AGE-SECRET-KEY", "String() leaks the key")
	_, err = secrets.LoadIdentity(filepath.Join(t.TempDir(), "missing.key"))
	assert.ErrorContains(t, err, "run `go run . secrets init`", "missing key file")
}

func TestStore(t *testing.T) {
	id := newIdentity(t)
	store := secrets.Store{Dir: t.TempDir()}
	recipients := []string{id.Recipient}
	const password = "correct horse battery staple"
	t.Run("a value set is the value decrypted", func(t *testing.T) {
		_, err := store.Set("monitoring", "grafana-admin", "admin-user", []byte("admin"), id, recipients)
		require.NoError(t, err)
		_, err = store.Set("monitoring", "grafana-admin", "admin-password", []byte(password), id, recipients)
		require.NoError(t, err)
		for k, want := range map[string]string{"admin-user": "admin", "admin-password": password} {
			got, err := store.Get("monitoring", "grafana-admin", k, id)
			require.NoError(t, err, k)
			assert.Equal(t, want, string(got), k)
		}
		data, err := os.ReadFile(store.Path("monitoring", "grafana-admin"))
		require.NoError(t, err)
		assert.NotContains(t, string(data), password, "the store holds the password in plaintext")
		assert.NotContains(t, string(data), "Y29ycmVjdC", "the store holds the password in base64")
		keys, err := secrets.Keys(data)
		require.NoError(t, err)
		assert.Equal(t, []string{"admin-password", "admin-user"}, keys)
		assert.Contains(t, string(data), "encrypted_regex: ^(data|stringData)$", "not in Flux's SOPS format")
		assert.Contains(t, string(data), "recipient: "+id.Recipient, "not in Flux's SOPS format")
	})
	before, _ := os.ReadFile(store.Path("monitoring", "grafana-admin"))
	t.Run("a wrong key fails clearly and changes nothing", func(t *testing.T) {
		other := newIdentity(t)
		_, err := store.Get("monitoring", "grafana-admin", "admin-user", other)
		assert.ErrorContains(t, err, "cannot decrypt this file", "get with another identity")
		_, err = store.Set("monitoring", "grafana-admin", "admin-user", []byte("x"), other, []string{other.Recipient})
		assert.Error(t, err, "set with another identity succeeded")
		after, _ := os.ReadFile(store.Path("monitoring", "grafana-admin"))
		assert.Equal(t, before, after, "a failed set changed the file")
	})
	t.Run("a tampered file fails and a set on it changes nothing", func(t *testing.T) {
		p := store.Path("monitoring", "grafana-admin")
		i := bytes.Index(before, []byte("ENC[AES256_GCM,data:")) + len("ENC[AES256_GCM,data:")
		tampered := append([]byte(nil), before...)
		if tampered[i] == 'A' {
			tampered[i] = 'B'
		} else {
			tampered[i] = 'A'
		}
		require.NoError(t, os.WriteFile(p, tampered, 0o644))
		_, err := store.Get("monitoring", "grafana-admin", "admin-user", id)
		assert.Error(t, err, "a tampered file decrypted")
		_, err = store.Set("monitoring", "grafana-admin", "admin-user", []byte("y"), id, recipients)
		assert.Error(t, err, "set on a tampered file succeeded")
		after, _ := os.ReadFile(p)
		assert.Equal(t, tampered, after, "a failed set changed the tampered file")
	})
}

func TestTalosSecrets(t *testing.T) {
	id := newIdentity(t)
	enc, err := secrets.NewTalosSecrets("v1.13.9", []string{id.Recipient})
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "talsecret.sops.yaml")
	os.WriteFile(p, enc, 0o644)
	if bytes.Contains(enc, []byte("BEGIN")) && !bytes.Contains(enc, []byte("AGE ENCRYPTED FILE")) {
		t.Error("plaintext PEM in the encrypted bundle")
	}
	bundle, err := secrets.LoadTalosSecrets(p, id)
	require.NoError(t, err)
	_, h := homelab.NewApp(nil)
	cfg, err := h.Cluster.MachineConfig(machine.TypeControlPlane, bundle)
	require.NoError(t, err)
	data, _ := cfg.EncodeBytes()
	_, err = validate.TalosConfig("controlplane", data)
	assert.NoError(t, err, "config from the decrypted bundle")
	assert.Contains(t, string(data), bundle.Secrets.BootstrapToken, "the rendered config does not use the bundle's token")
}

// TestGetNamesTheKeysThere: asking for a key the Secret lacks lists the
// keys it has (names only).
func TestGetNamesTheKeysThere(t *testing.T) {
	id := newIdentity(t)
	store := secrets.Store{Dir: t.TempDir()}
	for _, k := range []string{"user", "password"} {
		_, err := store.Set("apps", "db", k, []byte("value-"+k), id, []string{id.Recipient})
		require.NoError(t, err)
	}
	_, err := store.Get("apps", "db", "passwd", id)
	require.EqualError(t, err, `secret apps/db has no key "passwd"; its keys: password, user`)
}
