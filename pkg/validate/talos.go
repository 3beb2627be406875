package validate

import (
	"bytes"
	"fmt"
	"os"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"sigs.k8s.io/yaml"
)

// MetalMode is Talos' validation mode for bare metal and VMs installed from
// an ISO: the config must hold an install section. (talosctl's own mode
// type is internal to Talos.)
type MetalMode struct{}

// String names the mode.
func (MetalMode) String() string { return "metal" }

// RequiresInstall is true: metal nodes install to disk.
func (MetalMode) RequiresInstall() bool { return true }

// InContainer is false.
func (MetalMode) InContainer() bool { return false }

// TalosConfig loads a machine config with Talos machinery's configloader
// and validates it in metal mode. It returns machinery's warnings.
func TalosConfig(name string, data []byte) ([]string, error) {
	cfg, err := configloader.NewFromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: Talos cannot load it: %w", name, err)
	}
	warnings, err := cfg.Validate(MetalMode{})
	if err != nil {
		return warnings, fmt.Errorf("%s: Talos validation (metal mode) failed: %w", name, err)
	}
	return warnings, nil
}

// TalConfig validates a talconfig.yaml against talhelper's JSON schema at
// schemaPath.
func TalConfig(name string, data []byte, schemaPath string) error {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return fmt.Errorf("talhelper schema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("talhelper schema %s: %w", schemaPath, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("talconfig.schema.json", doc); err != nil {
		return err
	}
	schema, err := c.Compile("talconfig.schema.json")
	if err != nil {
		return fmt.Errorf("talhelper schema %s: %w", schemaPath, err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("%s: not YAML: %w", name, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	if err := schema.Validate(inst); err != nil {
		return fmt.Errorf("%s does not match talhelper's schema: %w", name, err)
	}
	return nil
}
