// Package funoffshore builds the Funoffshore homelab the way this
// repository's commands run it: the composition's values (homelab.Funoffshore)
// with the encrypted Secrets of the store in secrets/ and the operators'
// keys of .sops.yaml. The repository's mains link it; package cli, which
// other homelabs use with their own builders, does not.
package funoffshore

import (
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/cli/synthcli"
	"github.com/funoffshore/homelab/pkg/lab"
	"github.com/funoffshore/homelab/pkg/secrets/store"
)

// Build builds the Funoffshore homelab with its default values and the
// encrypted Secrets of the store in synthcli.SecretsDir, relative to the
// working directory (the repository root).
func Build() (*lab.Lab, error) {
	src, err := store.ReadSource(synthcli.SecretsDir)
	if err != nil {
		return nil, err
	}
	props := homelab.Funoffshore()
	props.Secrets = src
	if props.Operators, err = synthcli.Operators(synthcli.SopsConfig); err != nil {
		return nil, err
	}
	l, _ := homelab.NewLab(props)
	return l, nil
}
