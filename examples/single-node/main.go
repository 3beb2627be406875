// Command single-node describes a different homelab with the homelab
// library: one Proxmox host, one Talos node that is control plane and
// worker, NFS as the only storage (no Longhorn), and one app. Run
// `go run . [DIR]` to synthesize it into DIR (default ./cluster).
package main

import (
	"fmt"
	"os"

	"github.com/aws/jsii-runtime-go"

	"github.com/funoffshore/homelab/pkg/nodeenv"
	"github.com/funoffshore/homelab/synth"
)

func main() {
	nodeenv.Ensure()
	out := "cluster"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	err := run(out)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	app := Build()
	files, err := synth.Render(app.Tree())
	if err != nil {
		return err
	}
	return synth.Write(out, files)
}
