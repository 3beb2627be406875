package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/pkg/cli/synthcli"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/localenv"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
)

// Exit codes (ExitPending is plan's).
const (
	// ExitOK means success (and, for synth --check, an up-to-date tree).
	ExitOK = synthcli.ExitOK
	// ExitFailed means the command failed or the tree is stale.
	ExitFailed = synthcli.ExitFailed
	// ExitBlocked means validate found the tree valid but not ready to
	// reconcile: Secrets without values or site values at their examples
	// (listed under "blocking:").
	ExitBlocked = synthcli.ExitBlocked
	// ExitUsage means the command line was wrong.
	ExitUsage = synthcli.ExitUsage
)

// Builder builds the homelab the commands act on; each homelab's main
// passes its own.
type Builder = synthcli.Builder

// SecretsDir is the encrypted secret store builders read, relative to the
// working directory (the repository root).
const SecretsDir = synthcli.SecretsDir

type usageError = synthcli.UsageError

// errBlocked marks validate finding blockers (already printed).
var errBlocked = errors.New("the tree has blockers")

// Run runs the command line against the tree build returns.
func Run(build Builder, args []string, stdout, stderr io.Writer) int {
	return RunIO(build, args, os.Stdin, stdout, stderr)
}

// RunIO is Run with standard input.
func RunIO(build Builder, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// The commands report through their own output; controller-runtime's
	// client logs would only add a stack dump about a missing logger.
	ctrllog.SetLogger(logr.Discard())
	return synthcli.Execute(NewCommand(build), args, stdin, stdout, stderr, map[error]int{errPending: ExitPending, errBlocked: ExitBlocked, errHazards: ExitHazards})
}

// NewCommand returns the root command.
func NewCommand(build Builder) *cobra.Command {
	root := &cobra.Command{
		Use:   "homelab",
		Short: "Homelab as typed Go: synthesize, check and deploy the homelab",
		Long: `homelab models a Kubernetes homelab on Proxmox as typed Go constructs and
renders it into cluster/ (Talos and Kubernetes YAML reconciled by Flux from Git).`,
		Args: cobra.NoArgs,
	}
	root.AddCommand(synthcli.SynthCommand(build), validateCommand(build), planCommand(build), diffCommand(build), deployCommand(build), secretsCommand(build), synthcli.VersionCommand())
	synthcli.StrictArgs(root)
	return root
}

func validateCommand(build Builder) *cobra.Command {
	var server, local bool
	var schema string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Run every check that needs no cluster; write nothing",
		Long: `validate runs every construct validation, renders the tree in memory,
builds every kustomization.yaml with kustomize, loads the Talos machine
configs with Talos machinery and validates them in metal mode, and, with
--talconfig-schema, checks talconfig.yaml against talhelper's JSON schema.
It reports all problems at once and writes nothing. A valid tree that
would still stall on a real cluster (a Secret without its value, a site
value such as the tunnel ID still at its example) is listed under
"blocking:" with the fix for each, and validate exits 3.

With --server it also applies the tree to the cluster in KUBECONFIG in Flux
order: CRDs and Namespaces for real, every other object as a server-side
dry-run, so the API server checks each object against its schema.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server && local {
				return usageError{Err: errors.New("validate: --server and --local exclude each other")}
			}
			l, err := build()
			if err != nil {
				return err
			}
			files, err := synth.Render(l.Tree())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			report := validate.Offline(l, files, schema)
			report.Print(w, cmd.ErrOrStderr())
			errs, blockers := report.Errors, report.Blockers
			if len(errs) > 0 {
				return errors.Join(errs...)
			}
			if !server && !local {
				if len(blockers) > 0 {
					return errBlocked
				}
				return nil
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			var c client.Client
			var opts validate.ReplayOptions
			if local {
				env, err := localenv.StartAPIServer(ctx, cmd.ErrOrStderr())
				if err != nil {
					return fmt.Errorf("validate --local: %w", err)
				}
				defer env.Close()
				if c, err = env.Client(); err != nil {
					return fmt.Errorf("validate --local: %w", err)
				}
				opts = localReplayOptions(cmd.ErrOrStderr())
			} else if c, err = serverClient(); err != nil {
				return err
			}
			steps, err := validate.ReplayWith(ctx, c, files, l.Tree().RepoDir(), opts)
			for _, s := range steps {
				fmt.Fprintf(w, "server: Kustomization %s (%s): %d objects\n", s.Kustomization, s.Path, s.Applied)
			}
			if err == nil && len(blockers) > 0 {
				return errBlocked
			}
			return err
		},
	}
	cmd.Flags().StringVar(&schema, "talconfig-schema", "", "path of talhelper's talconfig JSON schema to check talconfig.yaml against")
	cmd.Flags().BoolVar(&server, "server", false, "also dry-run every object against the cluster in KUBECONFIG (CRDs and namespaces are applied)")
	cmd.Flags().BoolVar(&local, "local", false, "like --server, against a local kube-apiserver started for the run (needs the envtest binaries: make envtest)")
	return cmd
}

// serverClient returns a client for the cluster in KUBECONFIG after one
// request shows it answers, so a dead server is one error, not one per
// object.
func serverClient() (client.Client, error) {
	cfg, err := config.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("validate --server: no cluster to check against (%v); set KUBECONFIG, or use --local to replay against a local kube-apiserver", err)
	}
	probe := rest.CopyConfig(cfg)
	probe.Timeout = 10 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(probe)
	if err == nil {
		_, err = dc.ServerVersion()
	}
	if err != nil {
		return nil, fmt.Errorf("validate --server: the API server at %s does not answer (%v); check KUBECONFIG, or use --local", cfg.Host, err)
	}
	return client.New(cfg, client.Options{Scheme: kube.Scheme})
}

// localReplayOptions are the CRDs a fresh Talos cluster has, with a
// warning for each chart whose CRDs are not in the fixture cache.
func localReplayOptions(log io.Writer) validate.ReplayOptions {
	opts, missing := validate.FreshTalosCluster()
	for _, rel := range missing {
		fmt.Fprintf(log, "warning: %s is not in %s (run `%s`): the custom resources of its chart will be refused\n", rel, fixtures.Dir(), fixtures.Script)
	}
	return opts
}
