package talos

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	yaml "go.yaml.in/yaml/v4"
)

// Schematic is an Image Factory schematic: the customization of a Talos
// image. Its ID is computed offline the way the Image Factory does.
type Schematic struct {
	Customization Customization `yaml:"customization"`
}

// Customization holds the kernel arguments and system extensions of a
// schematic, in the field order of the Image Factory's own type
// (image-factory v1.4.0 pkg/schematic/schematic.go, Customization), which
// the ID hashes.
type Customization struct {
	ExtraKernelArgs  []string         `yaml:"extraKernelArgs,omitempty"`
	SystemExtensions SystemExtensions `yaml:"systemExtensions,omitempty"`
}

// SystemExtensions lists official Talos extensions.
type SystemExtensions struct {
	OfficialExtensions []string `yaml:"officialExtensions,omitempty"`
}

// NewSchematic returns the schematic with the given extensions, sorted and
// without duplicates.
func NewSchematic(extensions ...string) Schematic {
	set := map[string]bool{}
	var exts []string
	for _, e := range extensions {
		if !set[e] {
			set[e] = true
			exts = append(exts, e)
		}
	}
	sort.Strings(exts)
	return Schematic{Customization: Customization{SystemExtensions: SystemExtensions{OfficialExtensions: exts}}}
}

// ID returns the schematic ID: the hex SHA-256 of its canonical YAML.
func (s Schematic) ID() string {
	data, err := yaml.Marshal(s)
	if err != nil {
		// Marshaling a struct of strings cannot fail.
		panic(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// WithKernelArgs returns a copy of s whose images boot with args too.
func (s Schematic) WithKernelArgs(args ...string) Schematic {
	out := NewSchematic(s.Extensions()...)
	out.Customization.ExtraKernelArgs = append(append([]string(nil), s.Customization.ExtraKernelArgs...), args...)
	return out
}

// Extensions returns the schematic's extensions.
func (s Schematic) Extensions() []string {
	return append([]string(nil), s.Customization.SystemExtensions.OfficialExtensions...)
}
