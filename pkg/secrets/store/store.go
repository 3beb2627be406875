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
				return nil, fmt.Errorf("the value of key %q is not SOPS-encrypted (edited by hand?): set it again with `homelab secrets set`", k)
			}
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
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
		out = append(out, Entry{Namespace: parts[0], Name: strings.TrimSuffix(parts[1], ".sops.yaml"), Keys: keys, Encrypted: data})
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
