//go:build homelab_full

package launch

import (
	"os"

	"github.com/aws/jsii-runtime-go"

	"github.com/funoffshore/homelab/pkg/cli"
	"github.com/funoffshore/homelab/pkg/nodeenv"
)

// Full reports whether this build is the full command line (built with
// FullTag).
const Full = true

// Main runs the command line of os.Args for the tree build returns and
// exits with its code: every command (synth, validate, plan, deploy,
// secrets, version).
func Main(build Build) {
	nodeenv.Ensure() // first: jsii's node through the launcher, no Node.js end-of-life banner
	code := cli.Run(build.builder, os.Args[1:], os.Stdout, os.Stderr)
	jsii.Close() // stop the node child process before exiting
	os.Exit(code)
}
