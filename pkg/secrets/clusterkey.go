package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/pkg/secrets/store"
)

// clusterKeyEncryptedRegex encrypts the key and leaves its public half
// readable.
const clusterKeyEncryptedRegex = store.ClusterKeyEncryptedRegex

// clusterKeyFile is the cluster key file's plain form.
type clusterKeyFile struct {
	// Recipient is the public key (readable without decrypting).
	Recipient string `json:"recipient"`
	// AgeKey is the AGE-SECRET-KEY line.
	AgeKey string `json:"age_key"`
}

// ClusterKey is the cluster's own age identity, which Flux holds in the
// cluster to decrypt the Kubernetes Secrets. It never decrypts the Talos
// bundle or itself.
type ClusterKey struct {
	// Recipient is the public key.
	Recipient string
	raw       string
}

// String hides the key.
func (k *ClusterKey) String() string { return "cluster age key (" + k.Recipient + ")" }

// SecretKey returns the private key line, for the deployer's sops-age
// Secret.
func (k *ClusterKey) SecretKey() string { return k.raw }

// LoadClusterKey decrypts the cluster key at path with an operator's id.
func LoadClusterKey(path string, id *Identity) (*ClusterKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no cluster age key at %s: run `go run . secrets init` (it creates one and re-encrypts the Secrets for it)", path)
	}
	if err != nil {
		return nil, err
	}
	plain, err := Decrypt(data, id)
	if err != nil {
		return nil, fmt.Errorf("cluster age key %s: %w", path, err)
	}
	var f clusterKeyFile
	if err := yaml.Unmarshal(plain, &f); err != nil {
		return nil, fmt.Errorf("cluster age key %s does not parse", path)
	}
	parsed, err := age.ParseX25519Identity(f.AgeKey)
	if err != nil {
		return nil, fmt.Errorf("cluster age key %s holds no valid age key", path)
	}
	return &ClusterKey{Recipient: parsed.Recipient().String(), raw: f.AgeKey}, nil
}

// newClusterKey generates a cluster key and returns it with its file,
// encrypted for operators.
func newClusterKey(operators []string) (*ClusterKey, []byte, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, nil, err
	}
	k := &ClusterKey{Recipient: id.Recipient().String(), raw: id.String()}
	plain, err := yaml.Marshal(clusterKeyFile{Recipient: k.Recipient, AgeKey: k.raw})
	if err != nil {
		return nil, nil, err
	}
	enc, err := Encrypt(plain, operators, clusterKeyEncryptedRegex)
	if err != nil {
		return nil, nil, err
	}
	return k, enc, nil
}
