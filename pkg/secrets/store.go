package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Store is a directory of SOPS-encrypted Kubernetes Secret manifests,
// one file per Secret: <Dir>/<namespace>/<name>.sops.yaml. Only the data
// values are encrypted, so names and keys are readable without the key.
type Store struct {
	// Dir is the store's directory ("secrets" in the repository).
	Dir string
}

// Entry is one encrypted Secret of the store.
type Entry struct {
	Namespace, Name string
	// Keys are the Secret's data keys (readable without decrypting).
	Keys []string
	// Encrypted is the file as stored.
	Encrypted []byte
}

// Path returns the file of the Secret namespace/name.
func (s Store) Path(namespace, name string) string {
	return filepath.Join(s.Dir, namespace, name+".sops.yaml")
}

// ParseRef splits "namespace/name".
func ParseRef(ref string) (namespace, name string, err error) {
	ns, n, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("secret %q: name it as NAMESPACE/NAME, such as monitoring/grafana-admin", ref)
	}
	return ns, n, nil
}

// Keys returns the data keys of an encrypted Secret manifest, without
// decrypting it.
func Keys(encrypted []byte) ([]string, error) {
	var m struct {
		Data       map[string]any `json:"data"`
		StringData map[string]any `json:"stringData"`
		Sops       map[string]any `json:"sops"`
	}
	if err := yaml.Unmarshal(encrypted, &m); err != nil {
		return nil, err
	}
	if m.Sops == nil {
		return nil, errors.New("not SOPS-encrypted (no sops metadata)")
	}
	var keys []string
	for k := range m.Data {
		keys = append(keys, k)
	}
	for k := range m.StringData {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// Load reads every entry of the store. A missing directory is an empty store.
func (s Store) Load() ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == s.Dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".sops.yaml") {
			return nil
		}
		rel, _ := filepath.Rel(s.Dir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 2 {
			return fmt.Errorf("secret store: %s is not at <namespace>/<name>.sops.yaml", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		keys, err := Keys(data)
		if err != nil {
			return fmt.Errorf("secret store: %s: %w", p, err)
		}
		out = append(out, Entry{Namespace: parts[0], Name: strings.TrimSuffix(parts[1], ".sops.yaml"), Keys: keys, Encrypted: data})
		return nil
	})
	return out, err
}

// Set stores value under key in the Secret namespace/name: it decrypts the
// existing file with id (if any), sets the key, encrypts for recipients and
// replaces the file atomically. On any error the store is unchanged.
func (s Store) Set(namespace, name, key string, value []byte, id *Identity, recipients []string) error {
	p := s.Path(namespace, name)
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Type:       corev1.SecretTypeOpaque,
	}
	if old, err := os.ReadFile(p); err == nil {
		plain, err := Decrypt(old, id)
		if err != nil {
			return fmt.Errorf("secret %s/%s: %w", namespace, name, err)
		}
		if err := yaml.UnmarshalStrict(plain, secret); err != nil {
			return fmt.Errorf("secret %s/%s: the decrypted file is no Secret: %w", namespace, name, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	secret.Data[key] = value
	plain, err := yaml.Marshal(secret)
	if err != nil {
		return err
	}
	enc, err := Encrypt(plain, recipients, KubernetesEncryptedRegex)
	if err != nil {
		return fmt.Errorf("secret %s/%s: %w", namespace, name, err)
	}
	return writeAtomic(p, enc, 0o644)
}

// Get decrypts the Secret namespace/name with id and returns the value of key.
func (s Store) Get(namespace, name, key string, id *Identity) ([]byte, error) {
	data, err := os.ReadFile(s.Path(namespace, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secret %s/%s is not in the store %s: set it with `homelab secrets set %s/%s KEY`", namespace, name, s.Dir, namespace, name)
	}
	if err != nil {
		return nil, err
	}
	plain, err := Decrypt(data, id)
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
	}
	secret := &corev1.Secret{}
	if err := yaml.Unmarshal(plain, secret); err != nil {
		return nil, err
	}
	v, ok := secret.Data[key]
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
	}
	return v, nil
}

func writeAtomic(p string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := writeAll(f, data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// writeAll writes data to f.
func writeAll(f *os.File, data []byte) (int64, error) { return bytes.NewReader(data).WriteTo(f) }

// Source is the store's entries indexed for constructs (it implements
// secret.Source).
type Source map[string]Entry

// Source loads the store into a Source.
func (s Store) Source() (Source, error) {
	entries, err := s.Load()
	if err != nil {
		return nil, err
	}
	src := Source{}
	for _, e := range entries {
		src[e.Namespace+"/"+e.Name] = e
	}
	return src, nil
}

// Lookup returns the encrypted manifest of namespace/name.
func (s Source) Lookup(namespace, name string) ([]byte, []string, bool) {
	e, ok := s[namespace+"/"+name]
	if !ok {
		return nil, nil, false
	}
	return e.Encrypted, e.Keys, true
}
