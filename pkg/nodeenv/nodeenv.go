// Package nodeenv prepares the jsii node child process that cdk8s and
// constructs-go talk to: without Node.js 20's end-of-life banner, and as
// one node process instead of the two jsii's own node wrapper starts.
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
// between its pipes and the kernel's descriptor 3: two node starts and
// every call relayed. Where the platform has a POSIX shell, Ensure points
// JSII_NODE (jsii's choice of the node binary) at a launcher script that
// runs the kernel in the first node, with a preload that puts the kernel's
// API on jsii's pipes (see launcher/).
package nodeenv

import (
	"os"

	"github.com/aws/jsii-runtime-go"
)

// Var is the variable jsii reads.
const Var = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"

// jsiiNode is the variable jsii starts its child with instead of "node".
const jsiiNode = "JSII_NODE"

// nodeVar holds the node binary the launcher starts; set, it also marks
// JSII_NODE as set by Ensure rather than by the user, so programs this
// one starts keep the launcher.
const nodeVar = "HOMELAB_JSII_HOST_NODE"

// Ensure sets Var to "20" when it is unset and, unless the user chose a
// node (JSII_NODE) or a runtime (JSII_RUNTIME), points jsii at the
// launcher; it then closes the client jsii prepared while the program
// initialized, so the next use prepares a child that sees both, and a
// program that never uses jsii leaves no copy of jsii's runtime behind.
// Call it first thing in main and TestMain, before anything builds
// constructs (a child already running keeps its environment: Ensure would
// stop it and the next call would start another).
func Ensure() {
	if _, ok := os.LookupEnv(Var); !ok {
		os.Setenv(Var, "20")
	}
	useLauncher()
	jsii.Close()
}
