package secrets_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/pkg/secrets"
)

// TestHandEditedPlaintextIsRefused puts a plaintext value into an
// encrypted file, as a hand edit would: loading the store (what synth and
// validate do), Get and Set fail naming the file and key, never the value.
func TestHandEditedPlaintextIsRefused(t *testing.T) {
	id := newIdentity(t)
	store := secrets.Store{Dir: t.TempDir()}
	if _, err := store.Set("apps", "db", "password", []byte("s3cret-original"), id, []string{id.Recipient}); err != nil {
		t.Fatal(err)
	}
	p := store.Path("apps", "db")
	enc, _ := os.ReadFile(p)
	const leaked = "hunter2-plaintext"
	edited := regexp.MustCompile(`password: ENC\[[^\]]*\]`).ReplaceAll(enc, []byte("password: "+leaked))
	if bytes.Equal(edited, enc) {
		t.Fatal("the edit did not apply")
	}
	require.NoError(t, os.WriteFile(p, edited, 0o644))
	_, loadErr := store.Load()
	_, getErr := store.Get("apps", "db", "password", id)
	_, setErr := store.Set("apps", "db", "other", []byte("x"), id, []string{id.Recipient})
	for name, err := range map[string]error{"Load": loadErr, "Get": getErr, "Set": setErr} {
		switch {
		case err == nil:
			t.Errorf("%s accepted a plaintext value", name)
		case strings.Contains(err.Error(), leaked):
			t.Errorf("%s echoes the value: %v", name, err)
		case !strings.Contains(err.Error(), `key "password" is not SOPS-encrypted`):
			t.Errorf("%s does not name the key: %v", name, err)
		}
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(after, edited) {
		t.Error("a failed set changed the file")
	}
}

func TestNamesKeysAndSizes(t *testing.T) {
	id := newIdentity(t)
	dir := t.TempDir()
	store := secrets.Store{Dir: filepath.Join(dir, "secrets")}
	for _, ref := range []string{"../x", "./x", "apps/../../x", "Apps/db", "apps/DB", "apps/.hidden", "-x/y"} {
		if _, _, err := secrets.ParseRef(ref); err == nil {
			t.Errorf("ParseRef(%q) accepted", ref)
		}
	}
	for _, c := range []struct{ ns, name, key string }{{"..", "x", "k"}, {"apps", "..", "k"}, {"apps", "db", "a/b"}, {"apps", "db", "../k"}, {"apps", "db", "with space"}} {
		if _, err := store.Set(c.ns, c.name, c.key, []byte("v"), id, []string{id.Recipient}); err == nil {
			t.Errorf("Set(%q, %q, %q) accepted", c.ns, c.name, c.key)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.sops.yaml")); err == nil {
		t.Error("a set wrote outside the store")
	}
	big := bytes.Repeat([]byte("a"), secrets.MaxSecretSize)
	if _, err := store.Set("apps", "blob", "data", big, id, []string{id.Recipient}); err == nil || !strings.Contains(err.Error(), "1 MiB") {
		t.Errorf("a value above the Secret limit: %v", err)
	}
	if _, err := store.Set("apps", "blob", "data.txt", []byte("fits"), id, []string{id.Recipient}); err != nil {
		t.Errorf("a valid key: %v", err)
	}
}

func TestSetKeepsAFilesRecipients(t *testing.T) {
	id, other := newIdentity(t), newIdentity(t)
	store := secrets.Store{Dir: t.TempDir()}
	both := []string{id.Recipient, other.Recipient}
	if res, err := store.Set("apps", "db", "user", []byte("u"), id, both); err != nil || res.Differs {
		t.Fatalf("new file: %+v %v", res, err)
	}
	// .sops.yaml now lists one recipient only: the file keeps both.
	res, err := store.Set("apps", "db", "password", []byte("p"), id, []string{id.Recipient})
	require.NoError(t, err)
	if !res.Differs || len(res.Recipients) != 2 {
		t.Errorf("result %+v: want the file's two recipients kept and the difference reported", res)
	}
	enc, _ := os.ReadFile(store.Path("apps", "db"))
	got, _ := secrets.Recipients(enc)
	if len(got) != 2 {
		t.Errorf("the file is encrypted for %v, want both recipients still", got)
	}
	if v, err := store.Get("apps", "db", "password", other); err != nil || string(v) != "p" {
		t.Errorf("the other recipient lost access: %q %v", v, err)
	}
}

func TestIdentityReadableByOthersIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "age.key")
	if _, err := secrets.GenerateIdentity(p); err != nil {
		t.Fatal(err)
	}
	require.NoError(t, os.Chmod(p, 0o644))
	_, err := secrets.LoadIdentity(p)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("an identity readable by others: %v", err)
	}
}

func TestWriteFileAtomicEnforcesTheMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o644))
	require.NoError(t, secrets.WriteFileAtomic(p, []byte("new"), 0o600))
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o after the write, want 0600", st.Mode().Perm())
	}
	if data, _ := os.ReadFile(p); string(data) != "new" {
		t.Errorf("content %q", data)
	}
	if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
