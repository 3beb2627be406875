package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"k8s.io/apimachinery/pkg/util/validation"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
// It refuses names the API server would refuse, so no path leaves the
// store ("../x", "./x").
func ParseRef(ref string) (namespace, name string, err error) {
	ns, n, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("secret %q: name it as NAMESPACE/NAME, such as monitoring/grafana-admin", ref)
	}
	if err := CheckRef(ns, n, ""); err != nil {
		return "", "", fmt.Errorf("secret %q: %w", ref, err)
	}
	return ns, n, nil
}

// encryptedValue is the form SOPS gives every encrypted value.
var encryptedValue = regexp.MustCompile(`^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:[a-z]+\]$`)

// Keys returns the data keys of an encrypted Secret manifest, without
// decrypting it. It fails unless the file is a SOPS document with a MAC
// and age recipients whose every data value is an encrypted SOPS value: a
// value edited in by hand is plaintext in Git. Errors name the key, never
// the value.
func Keys(encrypted []byte) ([]string, error) {
	var m struct {
		Data       map[string]any `json:"data"`
		StringData map[string]any `json:"stringData"`
		Sops       *struct {
			MAC string           `json:"mac"`
			Age []map[string]any `json:"age"`
		} `json:"sops"`
	}
	if err := yaml.Unmarshal(encrypted, &m); err != nil {
		return nil, errors.New("not a YAML Secret manifest")
	}
	switch {
	case m.Sops == nil:
		return nil, errors.New("not SOPS-encrypted (no sops metadata)")
	case !encryptedValue.MatchString(m.Sops.MAC):
		return nil, errors.New("the sops metadata has no encrypted MAC")
	case len(m.Sops.Age) == 0:
		return nil, errors.New("the file is encrypted for no age recipient")
	}
	var keys []string
	for _, values := range []map[string]any{m.Data, m.StringData} {
		for k, v := range values {
			if s, ok := v.(string); !ok || !encryptedValue.MatchString(s) {
				return nil, fmt.Errorf("the value of key %q is not SOPS-encrypted (edited by hand?): set it again with `homelab secrets set`", k)
			}
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// MaxSecretSize is the most data a Kubernetes Secret holds (1 MiB).
const MaxSecretSize = 1 << 20

// CheckRef refuses a namespace, name or key the API server would refuse,
// or that would lead a path out of the store.
func CheckRef(namespace, name, key string) error {
	if msgs := validation.IsDNS1123Label(namespace); len(msgs) > 0 {
		return fmt.Errorf("namespace %q is not a valid namespace name (lowercase letters, digits and '-', at most 63)", namespace)
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("name %q is not a valid Secret name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)", name)
	}
	if key != "" {
		if msgs := validation.IsConfigMapKey(key); len(msgs) > 0 {
			return fmt.Errorf("key %q is not a valid Secret data key (letters, digits, '-', '_' and '.')", key)
		}
	}
	return nil
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
//
// An existing file keeps its own recipients: the result says whether they
// differ from recipients (the repository's .sops.yaml), so the caller can
// report it; a new file is encrypted for recipients.
func (s Store) Set(namespace, name, key string, value []byte, id *Identity, recipients []string) (SetResult, error) {
	if err := CheckRef(namespace, name, key); err != nil {
		return SetResult{}, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
	}
	p := s.Path(namespace, name)
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Type:       corev1.SecretTypeOpaque,
	}
	res := SetResult{Recipients: slices.Clone(recipients)}
	if old, err := os.ReadFile(p); err == nil {
		if _, err := Keys(old); err != nil {
			return SetResult{}, fmt.Errorf("secret %s/%s (%s): %w", namespace, name, p, err)
		}
		own, err := Recipients(old)
		if err != nil {
			return SetResult{}, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
		}
		res.Recipients, res.Differs = own, !sameSet(own, recipients)
		plain, err := Decrypt(old, id)
		if err != nil {
			return SetResult{}, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
		}
		if err := yaml.UnmarshalStrict(plain, secret); err != nil {
			return SetResult{}, fmt.Errorf("secret %s/%s: the decrypted file is no Secret", namespace, name)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return SetResult{}, err
	}
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	secret.Data[key] = value
	size := 0
	for k, v := range secret.Data {
		size += len(k) + len(v)
	}
	if size > MaxSecretSize {
		return SetResult{}, fmt.Errorf("secret %s/%s would hold %d bytes, above Kubernetes' limit of %d (1 MiB): store large files elsewhere", namespace, name, size, MaxSecretSize)
	}
	plain, err := yaml.Marshal(secret)
	if err != nil {
		return SetResult{}, err
	}
	enc, err := Encrypt(plain, res.Recipients, KubernetesEncryptedRegex)
	if err != nil {
		return SetResult{}, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
	}
	return res, WriteFileAtomic(p, enc, 0o644)
}

// SetResult says which recipients Set encrypted the Secret for.
type SetResult struct {
	// Recipients the file is encrypted for.
	Recipients []string
	// Differs is true when an existing file kept recipients other than
	// the ones asked for.
	Differs bool
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// Get decrypts the Secret namespace/name with id and returns the value of key.
func (s Store) Get(namespace, name, key string, id *Identity) ([]byte, error) {
	if err := CheckRef(namespace, name, key); err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
	}
	data, err := os.ReadFile(s.Path(namespace, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secret %s/%s is not in the store %s: set it with `homelab secrets set %s/%s KEY`", namespace, name, s.Dir, namespace, name)
	}
	if err != nil {
		return nil, err
	}
	if _, err := Keys(data); err != nil {
		return nil, fmt.Errorf("secret %s/%s (%s): %w", namespace, name, s.Path(namespace, name), err)
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

// WriteFileAtomic replaces the file p with data, with exactly mode (also
// when p existed with another mode): it writes and syncs a temporary file
// beside p and renames it over p, so a crash leaves the old file or the
// new one, never a part.
func WriteFileAtomic(p string, data []byte, mode fs.FileMode) error {
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
	if err := f.Sync(); err != nil {
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
