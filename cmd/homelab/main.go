// Command homelab is the full command line of the Funoffshore homelab:
// synth, validate, plan, deploy, secrets and version (package cli). The
// repository's own main (`go run .`) runs synth and version itself and
// hands every other command to this one. Run `go run ./cmd/homelab --help`.
package main

import (
	"os"

	"github.com/aws/jsii-runtime-go"

	"github.com/funoffshore/homelab/internal/funoffshore"
	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/nodeenv"
)

func main() {
	nodeenv.Ensure() // before any construct: no Node.js end-of-life banner
	code := cli.Run(funoffshore.Build, os.Args[1:], os.Stdout, os.Stderr)
	// Stop the node child process before exiting.
	jsii.Close()
	os.Exit(code)
}
