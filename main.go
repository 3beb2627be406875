// Command homelab synthesizes the Funoffshore homelab into cluster/ and
// checks it. Run `go run . --help`.
//
// This main links only what synth needs (package synthcli), so the edit ->
// `go run . synth` loop compiles and links a program half the size; every
// other command (validate, plan, deploy, secrets, help) runs in the full
// command, cmd/homelab, which it builds (cached by Go) and executes in its
// place (see package delegate).
package main

import (
	"fmt"
	"os"

	"github.com/aws/jsii-runtime-go"

	"github.com/funoffshore/homelab/internal/funoffshore"
	"github.com/funoffshore/homelab/pkg/cli/delegate"
	"github.com/funoffshore/homelab/pkg/cli/synthcli"
	"github.com/funoffshore/homelab/pkg/nodeenv"
)

func main() {
	nodeenv.Ensure() // first: jsii's node through the launcher, no Node.js end-of-life banner
	args := os.Args[1:]
	if !synthcli.Handles(args) {
		err := delegate.Exec(delegate.Program{Pkg: "github.com/funoffshore/homelab/cmd/homelab"}, args)
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(synthcli.ExitFailed)
	}
	code := synthcli.Run(funoffshore.Build, args, os.Stdout, os.Stderr)
	// Stop the node child process before exiting.
	jsii.Close()
	os.Exit(code)
}
