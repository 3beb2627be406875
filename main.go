// Command homelab synthesizes the Funoffshore homelab into cluster/ and
// checks it. Run `go run . --help`.
package main

import (
	"os"

	"github.com/aws/jsii-runtime-go"

	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/nodeenv"
)

func main() {
	// Only commands that build the tree start node, whose banner the
	// re-execution silences; the others run in one process.
	if cli.StartsNode(os.Args[1:]) {
		nodeenv.Ensure()
	}
	code := cli.Main(os.Args[1:], os.Stdout, os.Stderr)
	// Stop the node child process before exiting.
	jsii.Close()
	os.Exit(code)
}
