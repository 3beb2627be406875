// Package synthcli holds the commands that need nothing but the construct
// tree and synth (synth and version), so a program made of them links
// none of the deployer's clients, SOPS' key services or the validators:
// the repository's main runs them itself and hands every other command to
// the full command line (package cli, cmd/homelab), which includes them
// too.
package synthcli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/pkg/lab"
	"github.com/funoffshore/homelab/pkg/secrets/store"
	"github.com/funoffshore/homelab/synth"
)

// Exit codes.
const (
	// ExitOK means success (and, for synth --check, an up-to-date tree).
	ExitOK = 0
	// ExitFailed means the command failed or the tree is stale.
	ExitFailed = 1
	// ExitBlocked means validate found the tree valid but not ready to
	// reconcile: Secrets without values or site values at their examples
	// (listed under "blocking:").
	ExitBlocked = 3
	// ExitUsage means the command line was wrong.
	ExitUsage = 64
)

// Builder builds the homelab the commands act on: each homelab's main
// passes its own (the repository's builds Funoffshore's).
type Builder func() (*lab.Lab, error)

// SecretsDir is the encrypted secret store builders read, relative to the
// working directory (the repository root).
const SecretsDir = "secrets"

// SopsConfig is the SOPS rules file builders read the operators' age
// public keys from.
const SopsConfig = ".sops.yaml"

// Operators returns the operators' age public keys of the SOPS rules at
// path, none when the file does not exist yet (before secrets init).
func Operators(path string) ([]string, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	cfg, err := store.LoadSopsConfig(path)
	if err != nil {
		return nil, err
	}
	return cfg.Recipients(), nil
}

// ErrStale marks synth --check finding differences (already printed).
var ErrStale = errors.New("cluster tree is stale")

// UsageError marks a wrong command line (exit ExitUsage).
type UsageError struct{ Err error }

func (u UsageError) Error() string { return u.Err.Error() }

// Unwrap returns the wrapped error.
func (u UsageError) Unwrap() error { return u.Err }

// Commands are the commands of this package.
var commands = []string{"synth", "version"}

// Handles reports whether args name a command of this package (synth,
// version) with no request for help: the caller runs those with Run and
// hands anything else to the full command line.
func Handles(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "help" {
			return false
		}
	}
	root := NewCommand(nil)
	cmd, _, err := root.Find(args)
	return err == nil && cmd != root && slices.Contains(commands, cmd.Name())
}

// NewCommand returns a root command with synth and version.
func NewCommand(build Builder) *cobra.Command {
	root := &cobra.Command{Use: "homelab", Short: "Homelab as typed Go: synthesize the homelab", Args: cobra.NoArgs}
	root.AddCommand(SynthCommand(build), VersionCommand())
	StrictArgs(root)
	return root
}

// Run runs synth or version against the tree build returns and returns
// the exit code.
func Run(build Builder, args []string, stdout, stderr io.Writer) int {
	return Execute(NewCommand(build), args, os.Stdin, stdout, stderr, nil)
}

// Execute runs root with args and maps its error to an exit code: codes
// gives the code of each sentinel error a command returns once it has
// printed why (ErrStale is ExitFailed); any other error is printed, with
// a hint for a UsageError (ExitUsage).
func Execute(root *cobra.Command, args []string, stdin io.Reader, stdout, stderr io.Writer, codes map[error]int) int {
	root.SetIn(stdin)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return UsageError{Err: err} })
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, ErrStale) {
		return ExitFailed
	}
	for sentinel, code := range codes {
		if errors.Is(err, sentinel) {
			return code
		}
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	var u UsageError
	if errors.As(err, &u) {
		fmt.Fprintln(stderr, "run with --help for usage")
		return ExitUsage
	}
	return ExitFailed
}

// Render builds the tree and renders it.
func Render(build Builder) (synth.Files, error) {
	l, err := build()
	if err != nil {
		return nil, err
	}
	return synth.Render(l.Tree())
}

// StrictArgs makes every mistake on the command line a usage error (exit
// ExitUsage): an unknown subcommand, at any level, is refused with the
// nearest command names, and extra arguments are refused instead of
// ignored. A command group run without a subcommand prints its help.
func StrictArgs(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		StrictArgs(c)
	}
	cmd.SuggestionsMinimumDistance = 2
	if cmd.HasSubCommands() && !cmd.Runnable() {
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			return unknownCommand(c, args[0])
		}
		return
	}
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			err := check(c, args)
			switch {
			case err == nil:
				return nil
			case len(args) > 0 && check(c, nil) == nil && check(c, args[:1]) != nil:
				return UsageError{Err: fmt.Errorf("%s takes no arguments, got %q", c.CommandPath(), args)}
			default:
				return UsageError{Err: fmt.Errorf("%s: %w (usage: %s)", c.CommandPath(), err, c.UseLine())}
			}
		}
	}
}

// unknownCommand is the usage error for `parent name` when parent has no
// subcommand name, with the closest names as a hint.
func unknownCommand(parent *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, parent.CommandPath())
	if s := parent.SuggestionsFor(name); len(s) > 0 {
		for i := range s {
			s[i] = strconv.Quote(s[i])
		}
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	} else {
		var names []string
		for _, c := range parent.Commands() {
			if c.IsAvailableCommand() {
				names = append(names, c.Name())
			}
		}
		msg += "; commands: " + strings.Join(names, ", ")
	}
	return UsageError{Err: errors.New(msg)}
}

// atModuleRoot refuses a working directory without go.mod: the default
// output (cluster/) and the secret store (secrets/) are the module root's,
// and a run from a subdirectory would write a stray cluster/ there.
func atModuleRoot() error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(wd, "go.mod")); err == nil {
		return nil
	}
	for dir := filepath.Dir(wd); dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return fmt.Errorf("synth runs from the module root, where cluster/ and secrets/ are: %s is below it; run it from %s (cd %s), or pass --out", wd, dir, dir)
		}
	}
	return fmt.Errorf("synth runs from the module root, where cluster/ and secrets/ are, and %s is in no Go module; run it there, or pass --out", wd)
}

// SynthCommand is `synth`: render the tree build returns into a directory.
func SynthCommand(build Builder) *cobra.Command {
	var out string
	var check bool
	cmd := &cobra.Command{
		Use:   "synth",
		Short: "Render the homelab into the output directory (default ./cluster)",
		Long: `synth validates every construct, then renders the tree into the output
directory atomically: a failed synth leaves the directory as it was. Files
without the generated header (such as encrypted secrets) are kept.

With --check it writes nothing and exits 1 with a unified diff when the
directory differs from a fresh synth, 0 when it is current.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("out") {
				if err := atModuleRoot(); err != nil {
					return UsageError{Err: err}
				}
			}
			if err := synth.CheckOutDir(out); err != nil {
				return UsageError{Err: err}
			}
			fewerCollections()
			files, err := Render(build)
			if err != nil {
				return err
			}
			if check {
				diff, err := synth.Diff(out, files)
				if err != nil {
					return err
				}
				if diff != "" {
					fmt.Fprint(cmd.OutOrStdout(), diff)
					fmt.Fprintf(cmd.ErrOrStderr(), "%s is stale: run `go run . synth` and commit the result\n", out)
					return ErrStale
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s is up to date (%d files)\n", out, len(files))
				return nil
			}
			if err := synth.Write(out, files); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d files to %s\n", len(files), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "cluster", "output directory")
	cmd.Flags().BoolVar(&check, "check", false, "compare the output directory with a fresh synth instead of writing")
	return cmd
}

// VersionCommand is `version`.
func VersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of homelab and of what it deploys",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := "(devel)"
			if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
				v = info.Main.Version
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "homelab %s\n", v)
			dist := flux.V2_9_0()
			fmt.Fprintf(w, "flux %s\n", dist.Version)
			for _, c := range flux.Controllers() {
				fmt.Fprintf(w, "  %s\n", dist.Image(c))
			}
		},
	}
}

// fewerCollections lets the heap grow to five times the live data between
// garbage collections (GOGC=400) unless GOGC is set: a synth allocates
// much short-lived garbage (JSON, YAML) and ends within a second, so the
// default's collections cost it about 5% of its time for memory it would
// hand back at exit anyway.
func fewerCollections() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
