package secrets

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	sops "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/stores/json"
	"github.com/getsops/sops/v3/stores/yaml"
	"github.com/getsops/sops/v3/version"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/pkg/secrets/store"
)

// KubernetesEncryptedRegex encrypts only the data of a Secret, as Flux's
// kustomize-controller expects.
const KubernetesEncryptedRegex = store.KubernetesEncryptedRegex

// Encrypt encrypts a plain YAML document for the age recipients. With a
// non-empty encryptedRegex only matching keys are encrypted; otherwise
// every value is.
func Encrypt(plain []byte, recipients []string, encryptedRegex string) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("sops: no age recipient: run `go run . secrets init` first")
	}
	store := yaml.NewStore(&config.YAMLStoreConfig{})
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("sops: reading the plain document: %w", err)
	}
	var group sops.KeyGroup
	for _, r := range recipients {
		mk, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("sops: age recipient %q: %w", r, err)
		}
		group = append(group, mk)
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{
		KeyGroups: []sops.KeyGroup{group}, EncryptedRegex: encryptedRegex, Version: version.Version,
	}}
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, err
	}
	for _, k := range group {
		if err := k.Encrypt(dataKey); err != nil {
			return nil, fmt.Errorf("sops: encrypting the data key: %w", err)
		}
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("sops: encrypting: %w", err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("sops: encrypting the MAC: %w", err)
	}
	return store.EmitEncryptedFile(tree)
}

// Decrypt decrypts a SOPS YAML document with the identity and checks its
// MAC, so a tampered file fails.
func Decrypt(data []byte, id *Identity) ([]byte, error) {
	return decrypt(yaml.NewStore(&config.YAMLStoreConfig{}), data, id)
}

// DecryptBinary decrypts a file SOPS encrypted as binary (`sops encrypt
// --input-type binary`, as the etcd-snapshot job does) and returns its
// bytes, checking the MAC.
func DecryptBinary(data []byte, id *Identity) ([]byte, error) {
	return decrypt(json.NewBinaryStore(&config.JSONBinaryStoreConfig{}), data, id)
}

// IsSOPS reports whether data is a SOPS document (YAML or JSON) rather
// than plain bytes.
func IsSOPS(data []byte) bool {
	var m map[string]any
	return sigsyaml.Unmarshal(data, &m) == nil && m["sops"] != nil
}

func decrypt(store sops.Store, data []byte, id *Identity) ([]byte, error) {
	tree, err := store.LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("sops: not an encrypted SOPS document: %w", err)
	}
	ids := sopsage.ParsedIdentities{id.id}
	var dataKey []byte
	var errs []error
	for _, g := range tree.Metadata.KeyGroups {
		for _, k := range g {
			mk, ok := k.(*sopsage.MasterKey)
			if !ok {
				continue
			}
			ids.ApplyToMasterKey(mk)
			if dk, err := mk.Decrypt(); err == nil {
				dataKey = dk
				break
			} else {
				errs = append(errs, err)
			}
		}
	}
	if dataKey == nil {
		return nil, fmt.Errorf("sops: %s cannot decrypt this file (it is encrypted for other recipients): %w", id, errors.Join(errs...))
	}
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("sops: decrypting: %w", err)
	}
	stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("sops: the file's MAC does not decrypt: it was tampered with")
	}
	if stored != mac {
		return nil, fmt.Errorf("sops: MAC mismatch: the file was tampered with")
	}
	return store.EmitPlainFile(tree.Branches)
}

// Recipients returns the age recipients a SOPS document is encrypted for,
// without decrypting it.
func Recipients(data []byte) ([]string, error) {
	tree, err := yaml.NewStore(&config.YAMLStoreConfig{}).LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("sops: not an encrypted SOPS document: %w", err)
	}
	var out []string
	for _, g := range tree.Metadata.KeyGroups {
		for _, k := range g {
			if mk, ok := k.(*sopsage.MasterKey); ok {
				out = append(out, mk.Recipient)
			}
		}
	}
	return out, nil
}

var _ keys.MasterKey = (*sopsage.MasterKey)(nil)

// Rekey re-encrypts a SOPS document for recipients (sops updatekeys): it
// decrypts data with id, checking its MAC, and encrypts the same values
// again with the document's own encrypted_regex.
func Rekey(data []byte, id *Identity, recipients []string) ([]byte, error) {
	tree, err := yaml.NewStore(&config.YAMLStoreConfig{}).LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("sops: not an encrypted SOPS document: %w", err)
	}
	plain, err := Decrypt(data, id)
	if err != nil {
		return nil, err
	}
	return Encrypt(plain, recipients, tree.Metadata.EncryptedRegex)
}
