// Command ha-nfs is a second homelab built with the homelab library and
// driven by its command line (`go run . synth`, `validate`, `plan`,
// `deploy`): three Proxmox hosts, an HA control plane on a VIP, NFS only,
// no tunnel, and a wiki with its database.
package main

import (
	"os"

	"github.com/aws/jsii-runtime-go"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/nodeenv"
	"github.com/funoffshore/homelab/pkg/secrets"
)

func main() {
	nodeenv.Ensure() // before any construct: no Node.js end-of-life banner
	code := cli.Run(func() (*core.App, error) {
		src, err := secrets.Store{Dir: cli.SecretsDir}.Source()
		if err != nil {
			return nil, err
		}
		return Build(src), nil
	}, os.Args[1:], os.Stdout, os.Stderr)
	jsii.Close()
	os.Exit(code)
}
