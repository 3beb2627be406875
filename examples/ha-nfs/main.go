// Command ha-nfs is a second homelab built with the homelab library and
// driven by its command line (`go run . synth`, `validate`, `plan`,
// `deploy`, `secrets`): three Proxmox hosts, an HA control plane on a VIP,
// NFS only, no tunnel, and a wiki with its database.
//
// `go run . synth` links only synth, so the edit -> synth loop stays short;
// the other commands run the same package built with -tags homelab_full
// (see package launch).
package main

import (
	"github.com/funoffshore/homelab/pkg/cli/launch"
	"github.com/funoffshore/homelab/pkg/lab"
)

func main() {
	launch.Main(func(repo launch.Repo) (*lab.Lab, error) { return Build(repo.Secrets), nil })
}
