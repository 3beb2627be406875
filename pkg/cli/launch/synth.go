//go:build !homelab_full

package launch

import (
	"fmt"
	"os"

	"github.com/aws/jsii-runtime-go"

	"github.com/funoffshore/homelab/pkg/cli/delegate"
	"github.com/funoffshore/homelab/pkg/cli/synthcli"
	"github.com/funoffshore/homelab/pkg/nodeenv"
)

// Full reports whether this build is the full command line (built with
// FullTag).
const Full = false

// Main runs the command line of os.Args for the tree build returns and
// exits with its code. This build runs synth and version itself and
// hands every other command to the main package built with FullTag.
func Main(build Build) {
	nodeenv.Ensure() // first: jsii's node through the launcher, no Node.js end-of-life banner
	args := os.Args[1:]
	if !synthcli.Handles(args) {
		full, err := delegate.Self(FullTag)
		if err == nil {
			err = delegate.Exec(full, args)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(synthcli.ExitFailed)
	}
	code := synthcli.Run(build.builder, args, os.Stdout, os.Stderr)
	jsii.Close() // stop the node child process before exiting
	os.Exit(code)
}
