// Package store reads the encrypted Secret store without any key: the
// Secrets' names and data keys and their encrypted manifests, which synth
// renders as they are. It needs no SOPS code (package secrets encrypts
// and decrypts), so a program that only synthesizes links none of SOPS'
// key services.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Entry is one encrypted Secret of the store.
type Entry struct {
	Namespace, Name string
	// Keys are the Secret's data keys (readable without decrypting).
	Keys []string
	// Encrypted is the file as stored.
	Encrypted []byte
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
				return nil, fmt.Errorf("the value of key %q is not SOPS-encrypted (edited by hand?): set it again with `go run . secrets set`", k)
			}
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// ErrNotASecret is a file in the store that is not the Secret its path
// names.
var ErrNotASecret = errors.New("not the Secret its path names")

// CheckManifest refuses an encrypted file unless its readable fields
// make it the Secret namespace/name: apiVersion v1, kind Secret, that
// name and namespace, and no fields a Secret does not have. Any other
// SOPS file placed in the store (a copy of the Talos bundle, say) would
// otherwise be rendered, and re-encrypted for the cluster by a rekey.
func CheckManifest(encrypted []byte, namespace, name string) error {
	var top map[string]any
	if err := yaml.Unmarshal(encrypted, &top); err != nil {
		return fmt.Errorf("%w: not YAML", ErrNotASecret)
	}
	for k := range top {
		switch k {
		case "apiVersion", "kind", "metadata", "type", "data", "stringData", "immutable", "sops":
		default:
			return fmt.Errorf("%w: it has a field %q that a Secret does not have", ErrNotASecret, k)
		}
	}
	meta, _ := top["metadata"].(map[string]any)
	if top["apiVersion"] != "v1" || top["kind"] != "Secret" || meta == nil || meta["name"] != name || meta["namespace"] != namespace {
		return fmt.Errorf("%w: want apiVersion v1, kind Secret, metadata %s/%s; it says %v %v %v/%v",
			ErrNotASecret, namespace, name, top["apiVersion"], top["kind"], meta["namespace"], meta["name"])
	}
	return nil
}

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
func Load(dir string) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("secret store: %s is a symbolic link: the store holds only its own files (replace it with the file)", p)
		}
		if d.IsDir() || !strings.HasSuffix(p, ".sops.yaml") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
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
		ns, name := parts[0], strings.TrimSuffix(parts[1], ".sops.yaml")
		if err := CheckManifest(data, ns, name); err != nil {
			return fmt.Errorf("secret store: %s: %w; remove it, or set its values again with `go run . secrets set %s/%s KEY`", p, err, ns, name)
		}
		out = append(out, Entry{Namespace: ns, Name: name, Keys: keys, Encrypted: data})
		return nil
	})
	return out, err
}

// Source is the store's entries indexed for constructs (it implements
// secret.Source).
type Source map[string]Entry

// ReadSource loads the store in dir into a Source.
func ReadSource(dir string) (Source, error) {
	entries, err := Load(dir)
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
