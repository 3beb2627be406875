package secrets

import (
	"github.com/funoffshore/homelab/pkg/secrets/store"
)

// SopsConfig is .sops.yaml: which files sops encrypts for whom (see
// store.SopsConfig; it reads without any SOPS code, for synth).
type SopsConfig = store.SopsConfig

// CreationRule is one rule of .sops.yaml.
type CreationRule = store.CreationRule

// TalosSecretsPath is where the encrypted Talos secrets bundle lives, in
// talhelper's place.
const TalosSecretsPath = "cluster/talos/talsecret.sops.yaml"

// ClusterKeyPath is where the cluster's own age key lives, encrypted for
// the operators only. The deployer uploads it as Flux's decryption Secret.
const ClusterKeyPath = "cluster/cluster-age.sops.yaml"

// NewSopsConfig returns the rules for this repository (see
// store.NewSopsConfig).
func NewSopsConfig(operators []string, cluster string) SopsConfig {
	return store.NewSopsConfig(operators, cluster)
}

// LoadSopsConfig reads .sops.yaml.
func LoadSopsConfig(path string) (SopsConfig, error) { return store.LoadSopsConfig(path) }

// WriteSopsConfig writes c to path atomically.
func WriteSopsConfig(c SopsConfig, path string) error {
	data, err := c.Bytes()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data, 0o644)
}
