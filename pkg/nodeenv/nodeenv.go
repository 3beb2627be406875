// Package nodeenv makes sure the jsii node child process starts with
// JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION set, so Node.js 20 does not
// print jsii's end-of-life banner on every run.
//
// jsii prepares its node child (and captures the environment for it) the
// first time a Go package talks to the runtime, which the cdk8s and
// constructs packages do while they are initialized, before main or
// TestMain run; node itself starts only on the first request. Setting the
// variable in main is therefore too late for that child, but the child has
// not started yet: Ensure sets the variable and closes jsii's client,
// whose next use prepares a new child with the environment as it is then.
// That costs one extraction of jsii's runtime script (milliseconds), no
// process start and no node start.
package nodeenv

import (
	"os"

	"github.com/aws/jsii-runtime-go"
)

// Var is the variable jsii reads.
const Var = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"

// Ensure sets Var to "20" when it is unset and makes jsii's next node child
// see it. Call it first thing in main and TestMain, before anything builds
// constructs (a child already running keeps its environment: Ensure would
// stop it and the next call would start another).
func Ensure() {
	if _, ok := os.LookupEnv(Var); ok {
		return
	}
	os.Setenv(Var, "20")
	jsii.Close()
}
