package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/pkg/secrets/store"
)

// Store is a directory of SOPS-encrypted Kubernetes Secret manifests,
// one file per Secret: <Dir>/<namespace>/<name>.sops.yaml. Only the data
// values are encrypted, so names and keys are readable without the key.
type Store struct {
	// Dir is the store's directory ("secrets" in the repository).
	Dir string
}

// Entry is one encrypted Secret of the store.
type Entry = store.Entry

// Source is the store's entries indexed for constructs (it implements
// secret.Source).
type Source = store.Source

// Keys returns the data keys of an encrypted Secret manifest, without
// decrypting it (see store.Keys).
func Keys(encrypted []byte) ([]string, error) { return store.Keys(encrypted) }

// CheckRef refuses a namespace, name or key the API server would refuse,
// or that would lead a path out of the store.
func CheckRef(namespace, name, key string) error { return store.CheckRef(namespace, name, key) }

// Load reads every entry of the store. A missing directory is an empty store.
func (s Store) Load() ([]Entry, error) { return store.Load(s.Dir) }

// Source loads the store into a Source.
func (s Store) Source() (Source, error) { return store.ReadSource(s.Dir) }

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

// MaxSecretSize is the most data a Kubernetes Secret holds (1 MiB).
const MaxSecretSize = 1 << 20

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
	// One writer at a time: two concurrent sets of one Secret would each
	// decrypt the old file and the second would drop the first's key.
	unlock, err := s.lock()
	if err != nil {
		return SetResult{}, err
	}
	defer unlock()
	root, err := s.root()
	if err != nil {
		return SetResult{}, err
	}
	defer root.Close()
	rp, err := rel(root, namespace, name)
	if err != nil {
		return SetResult{}, err
	}
	p := s.Path(namespace, name)
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Type:       corev1.SecretTypeOpaque,
	}
	res := SetResult{Recipients: slices.Clone(recipients)}
	if old, err := root.ReadFile(rp); err == nil {
		if _, err := Keys(old); err != nil {
			return SetResult{}, fmt.Errorf("secret %s/%s (%s): %w", namespace, name, p, err)
		}
		if err := store.CheckManifest(old, namespace, name); err != nil {
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
		if secret, err = decodeSecret(plain, namespace, name); err != nil {
			return SetResult{}, err
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
	return res, writeIn(root, rp, enc)
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
	var data []byte
	root, err := os.OpenRoot(s.Dir)
	if err == nil {
		defer root.Close()
		var rp string
		if rp, err = rel(root, namespace, name); err != nil {
			return nil, err
		}
		data, err = root.ReadFile(rp)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secret %s/%s is not in the store %s: set it with `go run . secrets set %s/%s KEY`", namespace, name, s.Dir, namespace, name)
	}
	if err != nil {
		return nil, err
	}
	if _, err := Keys(data); err != nil {
		return nil, fmt.Errorf("secret %s/%s (%s): %w", namespace, name, s.Path(namespace, name), err)
	}
	if err := store.CheckManifest(data, namespace, name); err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
	}
	plain, err := Decrypt(data, id)
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
	}
	secret, err := decodeSecret(plain, namespace, name)
	if err != nil {
		return nil, err
	}
	v, ok := secret.Data[key]
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no key %q; its keys: %s", namespace, name, key, strings.Join(slices.Sorted(maps.Keys(secret.Data)), ", "))
	}
	return v, nil
}

// decodeSecret decodes a decrypted store file strictly and refuses it
// unless it is the v1 Secret namespace/name: the readable fields were
// checked before decryption (store.CheckManifest); this checks what the
// encryption covered too.
func decodeSecret(plain []byte, namespace, name string) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	if err := yaml.UnmarshalStrict(plain, secret); err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w: the decrypted file is no Secret", namespace, name, store.ErrNotASecret)
	}
	if secret.APIVersion != "v1" || secret.Kind != "Secret" || secret.Namespace != namespace || secret.Name != name {
		return nil, fmt.Errorf("secret %s/%s: %w: the decrypted file is %s %s %s/%s", namespace, name, store.ErrNotASecret, secret.APIVersion, secret.Kind, secret.Namespace, secret.Name)
	}
	return secret, nil
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
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := finish(f, data); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// finish writes data to the new file f, syncs and closes it: what an
// atomic replace does before its rename.
func finish(f *os.File, data []byte) error {
	if _, err := writeAll(f, data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeAll writes data to f.
func writeAll(f *os.File, data []byte) (int64, error) { return bytes.NewReader(data).WriteTo(f) }
