package secrets

import (
	"fmt"
	"os"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/config"
	talossecrets "github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"sigs.k8s.io/yaml"
)

// NewTalosSecrets generates a Talos secrets bundle for talosVersion and
// returns it SOPS-encrypted for recipients, in talhelper's talsecret
// format (the bundle's YAML, every value encrypted).
func NewTalosSecrets(talosVersion string, recipients []string) ([]byte, error) {
	contract, err := config.ParseContractFromVersion(talosVersion)
	if err != nil {
		return nil, err
	}
	bundle, err := talossecrets.NewBundle(talossecrets.NewClock(), contract)
	if err != nil {
		return nil, fmt.Errorf("generating the Talos secrets bundle: %w", err)
	}
	plain, err := yaml.Marshal(bundle)
	if err != nil {
		return nil, err
	}
	return Encrypt(plain, recipients, "")
}

// LoadTalosSecrets decrypts the Talos secrets bundle at path with id.
func LoadTalosSecrets(path string, id *Identity) (*talossecrets.Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("talos secrets: %w (run `go run . secrets init`)", err)
	}
	plain, err := Decrypt(data, id)
	if err != nil {
		return nil, fmt.Errorf("talos secrets %s: %w", path, err)
	}
	b := &talossecrets.Bundle{}
	if err := yaml.Unmarshal(plain, b); err != nil {
		return nil, fmt.Errorf("talos secrets %s: %w", path, err)
	}
	b.Clock = talossecrets.NewFixedClock(time.Now())
	return b, nil
}
