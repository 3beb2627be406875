package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// The values SOPS encrypts: a Kubernetes Secret's data; the cluster key
// file's key.
const (
	KubernetesEncryptedRegex = "^(data|stringData)$"
	ClusterKeyEncryptedRegex = "^age_key$"
)

// SopsConfig is .sops.yaml: which files sops encrypts for whom.
type SopsConfig struct {
	CreationRules []CreationRule `json:"creation_rules"`
}

// CreationRule is one rule of .sops.yaml.
type CreationRule struct {
	PathRegex      string `json:"path_regex"`
	EncryptedRegex string `json:"encrypted_regex,omitempty"`
	Age            string `json:"age"`
}

// NewSopsConfig returns the rules for this repository. The key model:
// operators (people's age keys) decrypt everything; the cluster key, which
// Flux holds in the cluster, decrypts only the data of Kubernetes Secrets
// (in the store and under cluster/kubernetes). The Talos secrets bundle
// (every CA key of the nodes) and the cluster key itself are encrypted
// for the operators only, so reading one Secret in the cluster decrypts
// no machine credentials. cluster may be empty (no cluster key yet).
func NewSopsConfig(operators []string, cluster string) SopsConfig {
	ops := strings.Join(operators, ",")
	secretsFor := ops
	if cluster != "" {
		secretsFor += "," + cluster
	}
	return SopsConfig{CreationRules: []CreationRule{
		{PathRegex: `^(secrets|cluster/kubernetes)/.*\.sops\.yaml$`, EncryptedRegex: KubernetesEncryptedRegex, Age: secretsFor},
		{PathRegex: `^cluster/talos/talsecret\.sops\.yaml$`, Age: ops},
		{PathRegex: `^cluster/cluster-age\.sops\.yaml$`, EncryptedRegex: ClusterKeyEncryptedRegex, Age: ops},
	}}
}

func splitAge(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Recipients returns the operators' age keys: the recipients of the Talos
// bundle's rule (every recipient, for a config without that rule).
func (c SopsConfig) Recipients() []string {
	for _, r := range c.CreationRules {
		if strings.Contains(r.PathRegex, "talsecret") {
			return splitAge(r.Age)
		}
	}
	var out []string
	for _, r := range c.CreationRules {
		for _, a := range splitAge(r.Age) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// SecretRecipients returns who Kubernetes Secrets are encrypted for: the
// operators and the cluster key.
func (c SopsConfig) SecretRecipients() []string {
	for _, r := range c.CreationRules {
		if strings.HasPrefix(r.PathRegex, "^(secrets") {
			return splitAge(r.Age)
		}
	}
	return c.Recipients()
}

// Cluster returns the cluster key's recipient, "" when there is none.
func (c SopsConfig) Cluster() string {
	ops := c.Recipients()
	for _, a := range c.SecretRecipients() {
		if !slices.Contains(ops, a) {
			return a
		}
	}
	return ""
}

// LoadSopsConfig reads .sops.yaml.
func LoadSopsConfig(path string) (SopsConfig, error) {
	var c SopsConfig
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, fmt.Errorf("%s is missing: run `go run . secrets init`", path)
	}
	if err != nil {
		return c, err
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Recipients()) == 0 {
		return c, fmt.Errorf("%s names no age recipient", path)
	}
	return c, nil
}

// Bytes is the config as written.
func (c SopsConfig) Bytes() ([]byte, error) { return yaml.Marshal(c) }
