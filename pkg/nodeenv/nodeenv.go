// Package nodeenv makes sure the jsii node child process starts with
// JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION set, so Node.js 20 does not
// print jsii's end-of-life banner on every run.
//
// jsii captures the environment of its node command while Go packages are
// initialized (before main or TestMain run) and starts node only on the
// first call. Setting the variable in main is therefore too late; Ensure
// re-executes the program once with the variable set, which costs a process
// start but no node start. (A package initialized before jsii's would avoid
// it, but Go initializes packages in import-path order and this module's
// paths sort after github.com/aws/...; a module of its own with an earlier
// path would have to be resolvable by every library user.) The command
// calls Ensure only for commands that start node (cli.StartsNode).
package nodeenv

import (
	"os"
	"syscall"
)

// Var is the variable jsii reads.
const Var = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"

// Ensure re-executes the running program with Var set to "20" when it is
// unset. It returns (and the banner may show) only if re-executing fails.
// Call it first thing in main and TestMain.
func Ensure() {
	if _, ok := os.LookupEnv(Var); ok {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	env := append(os.Environ(), Var+"=20")
	_ = syscall.Exec(exe, os.Args, env)
}
