// Package cli is the homelab command line (cobra). main.go only calls Main;
// a homelab of one's own calls Run with its own Builder.
//
// Commands:
//
//	synth [--out DIR] [--check]      render the tree into DIR (default cluster) atomically; --check diffs instead
//	validate [--talconfig-schema F]  every check that needs no cluster (constructs, kustomize, Talos, talhelper schema)
//	validate --server | --local      also replay the tree in Flux order against KUBECONFIG's cluster or a local kube-apiserver
//	plan [--simulate]                what deploy would change per layer (exit 2 when changes are pending)
//	diff [REF] [--format markdown]   review a change against REF per layer, charts rendered, hazards first (exit 4)
//	deploy [--simulate] [--yes]      create the VMs, apply the Talos configs, bootstrap etcd and Flux
//	secrets init                     the age identity, .sops.yaml and the encrypted Talos secrets bundle
//	secrets set NS/NAME KEY          encrypt a Secret value read from standard input
//	secrets get NS/NAME KEY          decrypt and print one value
//	secrets ca                       make the internal CA's root, kept encrypted; print its certificate
//	secrets add-recipient KEY        re-encrypt every secret for another age key (a second machine)
//	secrets remove-recipient KEY     re-encrypt every secret without an age key
//	version                          versions of homelab and of the Flux release it installs
//
// Exit codes: ExitOK (0), ExitFailed (1, also a stale tree), ExitPending
// (2, plan), ExitBlocked (3, validate: valid but Secrets or site values
// missing), ExitHazards (4, diff: the change holds hazards), ExitUsage
// (64, a wrong command line: unknown command, extra
// or missing arguments, unknown flag, an output directory synth must not
// replace). `go run` reports any non-zero status as 1.
//
// validate --local, plan --simulate and deploy --simulate run their test
// servers in the homelab-testenv helper (package localenv), so the command
// itself links none of them.
package cli
