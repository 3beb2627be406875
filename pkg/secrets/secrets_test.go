package secrets_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/machine"

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
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestIdentity(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dir", "age.key")
	r, err := secrets.GenerateIdentity(p)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("identity mode %v, want 0600", st.Mode().Perm())
	}
	if !strings.HasPrefix(r, "age1") {
		t.Errorf("recipient %q", r)
	}
	if _, err := secrets.GenerateIdentity(p); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwriting an identity: %v", err)
	}
	id, _ := secrets.LoadIdentity(p)
	if strings.Contains(id.String(), "AGE-SECRET-KEY") {
		t.Errorf("String() leaks the key: %s", id)
	}
	_, err = secrets.LoadIdentity(filepath.Join(t.TempDir(), "missing.key"))
	if err == nil || !strings.Contains(err.Error(), "run `homelab secrets init`") {
		t.Errorf("missing key file: %v", err)
	}
}

func TestStore(t *testing.T) {
	id := newIdentity(t)
	store := secrets.Store{Dir: t.TempDir()}
	recipients := []string{id.Recipient}
	const password = "correct horse battery staple"
	t.Run("a value set is the value decrypted", func(t *testing.T) {
		if _, err := store.Set("monitoring", "grafana-admin", "admin-user", []byte("admin"), id, recipients); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Set("monitoring", "grafana-admin", "admin-password", []byte(password), id, recipients); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"admin-user": "admin", "admin-password": password} {
			got, err := store.Get("monitoring", "grafana-admin", k, id)
			if err != nil || string(got) != want {
				t.Errorf("%s: %q, %v", k, got, err)
			}
		}
		data, _ := os.ReadFile(store.Path("monitoring", "grafana-admin"))
		if bytes.Contains(data, []byte(password)) || bytes.Contains(data, []byte("Y29ycmVjdC")) {
			t.Error("the store holds the password in plaintext or base64")
		}
		keys, err := secrets.Keys(data)
		if err != nil || strings.Join(keys, ",") != "admin-password,admin-user" {
			t.Errorf("keys %v, %v", keys, err)
		}
		if !bytes.Contains(data, []byte("encrypted_regex: ^(data|stringData)$")) || !bytes.Contains(data, []byte("recipient: "+id.Recipient)) {
			t.Errorf("not in Flux's SOPS format:\n%s", data)
		}
	})
	before, _ := os.ReadFile(store.Path("monitoring", "grafana-admin"))
	t.Run("a wrong key fails clearly and changes nothing", func(t *testing.T) {
		other := newIdentity(t)
		if _, err := store.Get("monitoring", "grafana-admin", "admin-user", other); err == nil || !strings.Contains(err.Error(), "cannot decrypt this file") {
			t.Errorf("get with another identity: %v", err)
		}
		if _, err := store.Set("monitoring", "grafana-admin", "admin-user", []byte("x"), other, []string{other.Recipient}); err == nil {
			t.Error("set with another identity succeeded")
		}
		after, _ := os.ReadFile(store.Path("monitoring", "grafana-admin"))
		if !bytes.Equal(before, after) {
			t.Error("a failed set changed the file")
		}
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
		os.WriteFile(p, tampered, 0o644)
		if _, err := store.Get("monitoring", "grafana-admin", "admin-user", id); err == nil {
			t.Error("a tampered file decrypted")
		}
		if _, err := store.Set("monitoring", "grafana-admin", "admin-user", []byte("y"), id, recipients); err == nil {
			t.Error("set on a tampered file succeeded")
		}
		after, _ := os.ReadFile(p)
		if !bytes.Equal(tampered, after) {
			t.Error("a failed set changed the tampered file")
		}
	})
}

func TestTalosSecrets(t *testing.T) {
	id := newIdentity(t)
	enc, err := secrets.NewTalosSecrets("v1.13.9", []string{id.Recipient})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "talsecret.sops.yaml")
	os.WriteFile(p, enc, 0o644)
	if bytes.Contains(enc, []byte("BEGIN")) && !bytes.Contains(enc, []byte("AGE ENCRYPTED FILE")) {
		t.Error("plaintext PEM in the encrypted bundle")
	}
	bundle, err := secrets.LoadTalosSecrets(p, id)
	if err != nil {
		t.Fatal(err)
	}
	_, h := homelab.NewApp(nil)
	cfg, err := h.Cluster.MachineConfig(machine.TypeControlPlane, bundle)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := cfg.EncodeBytes()
	if _, err := validate.TalosConfig("controlplane", data); err != nil {
		t.Errorf("config from the decrypted bundle: %v", err)
	}
	if !bytes.Contains(data, []byte(bundle.Secrets.BootstrapToken)) {
		t.Error("the rendered config does not use the bundle's token")
	}
}
