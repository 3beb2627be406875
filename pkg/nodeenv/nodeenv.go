// Package nodeenv prepares the jsii node child process that cdk8s and
// constructs-go talk to: without Node.js 20's end-of-life banner, and
// hosted by this program instead of jsii's own node wrapper.
//
// jsii prepares its child (and captures the environment for it) the first
// time a Go package talks to the runtime, which the cdk8s and constructs
// packages do while they are initialized, before main or TestMain run;
// node itself starts only on the first request. Setting variables in main
// is therefore too late for that child, but the child has not started
// yet: Ensure sets them and closes jsii's client, whose next use prepares
// a new child with the environment as it is then. That costs one
// extraction of jsii's runtime script (milliseconds), no process start.
//
// jsii's child is a node wrapper (bin/jsii-runtime.js) that starts a
// second node running the kernel (lib/program.js) and relays the API
// between its pipes and the kernel's descriptor 3: two node starts. Where
// the platform has Unix sockets, Ensure points JSII_NODE (jsii's choice of
// the node binary) at this program, which then hosts the kernel itself
// (see host): one node start, the relay in Go.
package nodeenv

import (
	"os"

	"github.com/aws/jsii-runtime-go"
)

// Var is the variable jsii reads.
const Var = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"

// jsiiNode is the variable jsii starts its child with instead of "node".
const jsiiNode = "JSII_NODE"

// hostVar holds the node binary the host starts; set, it also marks
// JSII_NODE as set by Ensure rather than by the user.
const hostVar = "HOMELAB_JSII_HOST_NODE"

// Ensure sets Var to "20" when it is unset and, unless the user chose a
// node (JSII_NODE) or a runtime (JSII_RUNTIME), makes this program jsii's
// node host; it then makes jsii's next node child see both. Started as
// the host, it runs the kernel and exits. Call it first thing in main and
// TestMain, before anything builds constructs (a child already running
// keeps its environment: Ensure would stop it and the next call would
// start another).
func Ensure() {
	if entrypoint, ok := hostCall(); ok {
		// jsii's client, prepared while this process initialized, has
		// extracted its runtime into a temporary directory: remove it.
		jsii.Close()
		os.Exit(host(entrypoint))
	}
	changed := false
	if _, ok := os.LookupEnv(Var); !ok {
		os.Setenv(Var, "20")
		changed = true
	}
	if useHost() {
		changed = true
	}
	if changed {
		jsii.Close()
	}
}
