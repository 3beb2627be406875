// Command homelab-testenv runs local stand-ins for a homelab's
// infrastructure for the homelab command (see package localenv): a real
// kube-apiserver and etcd (`apiserver`, for `validate --local`), or that
// plus simulators of the Proxmox hosts and Talos nodes (`simulate`, for
// `plan --simulate` and `deploy --simulate`). It prints one JSON line
// saying how to reach them, then runs until its standard input closes or
// it is interrupted, and stops everything it started.
//
// The kube-apiserver and etcd binaries come from $KUBEBUILDER_ASSETS or
// the cache `make envtest` builds.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/jsii-runtime-go"

	"github.com/funoffshore/homelab/pkg/localenv"
	"github.com/funoffshore/homelab/pkg/testenv"
)

type list []string

func (l *list) String() string     { return fmt.Sprint(*l) }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	// The helper builds no constructs: remove the copy of jsii's runtime
	// that jsii's client prepared while the program initialized.
	jsii.Close()
	testenv.QuietLogs()
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "homelab-testenv:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: homelab-testenv apiserver | simulate --talos-version V --host H... --node N... [--proxmox-schema FILE]")
	}
	var handle *localenv.Handle
	var stop func()
	switch args[0] {
	case "apiserver":
		api, err := testenv.StartAPIServerAt(testenv.AssetsDir())
		if err != nil {
			return err
		}
		stop = func() { _ = api.Stop() }
		kc, err := api.AdminKubeconfig()
		if err != nil {
			stop()
			return err
		}
		handle = &localenv.Handle{Kubeconfig: kc}
	case "simulate":
		fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
		var spec localenv.Simulation
		var hosts, nodes list
		fs.StringVar(&spec.TalosVersion, "talos-version", "", "Talos version of the nodes")
		fs.StringVar(&spec.ProxmoxSchema, "proxmox-schema", "", "Proxmox API schema to validate requests with")
		fs.Var(&hosts, "host", "a Proxmox host name (repeat)")
		fs.Var(&nodes, "node", "a Talos node hostname (repeat)")
		var identities list
		fs.Var(&identities, "identity", "what a node's machine reports: NAME=UUID,MAC (repeat)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		spec.Hosts, spec.Nodes = hosts, nodes
		spec.Identities = map[string]localenv.NodeIdentity{}
		for _, id := range identities {
			name, rest, _ := strings.Cut(id, "=")
			uuid, mac, ok := strings.Cut(rest, ",")
			if !ok {
				return fmt.Errorf("--identity %q: want NAME=UUID,MAC", id)
			}
			spec.Identities[name] = localenv.NodeIdentity{UUID: uuid, MAC: mac}
		}
		sim, err := testenv.Simulate(spec)
		if err != nil {
			return err
		}
		stop = sim.Close
		if handle, err = sim.Handle(); err != nil {
			stop()
			return err
		}
	default:
		return fmt.Errorf("unknown mode %q: want apiserver or simulate", args[0])
	}
	defer stop()
	line, err := json.Marshal(handle)
	if err != nil {
		return err
	}
	if _, err := os.Stdout.Write(append(line, '\n')); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-done:
	case <-sig:
	}
	return nil
}
