// Package launch is the main of a homelab module: one call gives a
// library user's `go run .` the homelab command line (synth, validate,
// plan, deploy, secrets, version) for their own tree, with the project's
// fast edit -> synth loop.
//
// A plain build of the module links only what synth needs (package
// synthcli), so `go run . synth` after an edit compiles and links a
// program half the size. Any other command is handed to the same main
// package built with the build tag FullTag, which links the full command
// line (package cli); that build is kept in the user's cache and rebuilt
// only when the module changes (see package delegate). Build the full
// command directly with `go build -tags homelab_full`.
//
//	func main() {
//		launch.Main(func(repo launch.Repo) (*core.App, error) {
//			return Build(repo.Secrets), nil
//		})
//	}
package launch

import (
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/pkg/cli/synthcli"
	"github.com/funoffshore/homelab/pkg/lab"
	"github.com/funoffshore/homelab/pkg/secrets/store"
)

// FullTag is the build tag that makes Main the full command line.
const FullTag = "homelab_full"

// Repo is what a homelab's tree is built from besides its Go code: the
// files of the repository the command runs in.
type Repo struct {
	// Secrets is the encrypted store (secrets/ in the working directory):
	// pass it as secret.Props.Source.
	Secrets secret.Source
	// Operators are the operators' age public keys from .sops.yaml (none
	// before `secrets init`), for constructs that encrypt for them
	// (backup.EtcdSnapshotsProps.Recipients, homelab.Props.Operators).
	Operators []string
}

// Build builds a homelab: its construct tree, and the Talos cluster and
// Proxmox datacenter in it, which validate, plan and deploy act on (nil
// for a homelab without them: synth needs neither).
type Build func(Repo) (*lab.Lab, error)

// builder reads the repository in the working directory and builds the
// tree with build.
func (build Build) builder() (*lab.Lab, error) {
	src, err := store.ReadSource(synthcli.SecretsDir)
	if err != nil {
		return nil, err
	}
	ops, err := synthcli.Operators(synthcli.SopsConfig)
	if err != nil {
		return nil, err
	}
	return build(Repo{Secrets: src, Operators: ops})
}
