package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
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

// TalosSecretsPath is where the encrypted Talos secrets bundle lives, in
// talhelper's place.
const TalosSecretsPath = "cluster/talos/talsecret.sops.yaml"

// NewSopsConfig returns the rules for this repository: the data of
// Kubernetes Secrets in the store and under cluster/kubernetes, and the
// whole Talos secrets file, for the recipients.
func NewSopsConfig(recipients []string) SopsConfig {
	r := strings.Join(recipients, ",")
	return SopsConfig{CreationRules: []CreationRule{
		{PathRegex: `^(secrets|cluster/kubernetes)/.*\.sops\.yaml$`, EncryptedRegex: KubernetesEncryptedRegex, Age: r},
		{PathRegex: `^cluster/talos/talsecret\.sops\.yaml$`, Age: r},
	}}
}

// Recipients returns the age recipients of the rules.
func (c SopsConfig) Recipients() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range c.CreationRules {
		for _, a := range strings.Split(r.Age, ",") {
			a = strings.TrimSpace(a)
			if a != "" && !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// LoadSopsConfig reads .sops.yaml.
func LoadSopsConfig(path string) (SopsConfig, error) {
	var c SopsConfig
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, fmt.Errorf("%s is missing: run `homelab secrets init`", path)
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

// Write writes the config to path.
func (c SopsConfig) Write(path string) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data, 0o644)
}
