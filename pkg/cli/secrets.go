package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/secrets"
)

type secretsFlags struct {
	identity, store, sopsConfig, talosSecrets, clusterKey string
}

func (f *secretsFlags) repo() secrets.Repo {
	return secrets.Repo{Store: secrets.Store{Dir: f.store}, TalosSecrets: f.talosSecrets, SopsConfig: f.sopsConfig, ClusterKey: f.clusterKey}
}

// recover finishes or undoes a rekey a crash interrupted, before any
// command reads the encrypted files (see secrets.Repo.Recover).
func (f *secretsFlags) recover(cmd *cobra.Command) error {
	r := f.repo()
	r.SopsConfig = cmp.Or(r.SopsConfig, ".sops.yaml")
	msg, err := r.Recover()
	if err != nil {
		return err
	}
	if msg != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), "secrets: "+msg)
	}
	return nil
}

func (f *secretsFlags) identityPath() (string, error) {
	if f.identity != "" {
		return f.identity, nil
	}
	return secrets.DefaultIdentityPath()
}

// loadIdentity loads the age identity the flags name.
// writable is the store with the identity that reads it and the
// recipients new values are encrypted for (.sops.yaml's).
func (f *secretsFlags) writable() (secrets.Store, *secrets.Identity, []string, error) {
	id, err := f.loadIdentity()
	if err != nil {
		return secrets.Store{}, nil, nil, err
	}
	cfg, err := secrets.LoadSopsConfig(f.sopsConfig)
	if err != nil {
		return secrets.Store{}, nil, nil, err
	}
	return secrets.Store{Dir: f.store}, id, cfg.SecretRecipients(), nil
}

func (f *secretsFlags) loadIdentity() (*secrets.Identity, error) {
	path, err := f.identityPath()
	if err != nil {
		return nil, err
	}
	return secrets.LoadIdentity(path)
}

func secretsCommand(build Builder) *cobra.Command {
	f := &secretsFlags{}
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage the SOPS/age-encrypted secrets (init, set, get)",
		Long: `Secrets live encrypted in Git: Kubernetes Secrets under secrets/<namespace>/<name>.sops.yaml
(only their data encrypted, so names and keys stay reviewable) and the Talos secrets bundle
at cluster/talos/talsecret.sops.yaml. The age identity that decrypts them stays outside the
repository. synth copies the encrypted files as they are; Flux decrypts them in the cluster.`,
		Args:              cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return f.recover(cmd) },
	}
	cmd.PersistentFlags().StringVar(&f.identity, "identity", "", "age identity file (default $HOMELAB_AGE_KEY_FILE or <user config dir>/homelab/age.key)")
	cmd.PersistentFlags().StringVar(&f.store, "store", "secrets", "directory of the encrypted Secret store")
	cmd.PersistentFlags().StringVar(&f.sopsConfig, "sops-config", ".sops.yaml", "SOPS creation rules holding the age recipients")
	cmd.PersistentFlags().StringVar(&f.talosSecrets, "talos-secrets", secrets.TalosSecretsPath, "encrypted Talos secrets bundle")
	cmd.PersistentFlags().StringVar(&f.clusterKey, "cluster-key", secrets.ClusterKeyPath, "the cluster's age key (for Flux), encrypted for the operators")
	cmd.AddCommand(secretsInitCommand(f), secretsSetCommand(f, build), secretsGetCommand(f), secretsListCommand(build), secretsRotateCommand(f), secretsCACommand(f, build),
		secretsRecipientCommand(f, "add-recipient", "Let another age key (a second machine, a teammate) decrypt every secret: re-encrypt all files for it"),
		secretsRecipientCommand(f, "remove-recipient", "Stop an age key from decrypting the secrets from now on: re-encrypt all files without it"))
	return cmd
}

func secretsInitCommand(f *secretsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the age identity, .sops.yaml and the encrypted Talos secrets bundle (each only if missing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			path, err := f.identityPath()
			if err != nil {
				return err
			}
			var recipient string
			if id, err := secrets.LoadIdentity(path); err == nil {
				recipient = id.Recipient
				fmt.Fprintf(w, "age identity: %s (exists; public key %s)\n", path, recipient)
			} else if _, statErr := os.Stat(path); errors.Is(statErr, fs.ErrNotExist) {
				if recipient, err = secrets.GenerateIdentity(path); err != nil {
					return err
				}
				fmt.Fprintf(w, "age identity: %s (created, mode 0600; public key %s)\n", path, recipient)
				fmt.Fprintln(w, "back it up outside the repository: it decrypts every secret")
			} else {
				return err
			}
			cfg, err := secrets.LoadSopsConfig(f.sopsConfig)
			switch {
			case err == nil:
				found := false
				for _, r := range cfg.Recipients() {
					found = found || r == recipient
				}
				if !found {
					return fmt.Errorf("%s does not list this machine's public key %s, so this machine cannot decrypt the secrets yet: "+
						"on a machine that can, run `go run . secrets add-recipient %s`, commit, and pull here (the identity %s is kept for that; nothing else was written)",
						f.sopsConfig, recipient, recipient, path)
				}
				fmt.Fprintf(w, "sops config: %s (exists)\n", f.sopsConfig)
			default:
				if _, statErr := os.Stat(f.sopsConfig); !errors.Is(statErr, fs.ErrNotExist) {
					return err
				}
				cfg = secrets.NewSopsConfig([]string{recipient}, "")
				if err := secrets.WriteSopsConfig(cfg, f.sopsConfig); err != nil {
					return err
				}
				fmt.Fprintf(w, "sops config: %s (created)\n", f.sopsConfig)
			}
			if _, err := os.Stat(f.clusterKey); err == nil {
				fmt.Fprintf(w, "cluster key: %s (exists)\n", f.clusterKey)
			} else {
				id, err := secrets.LoadIdentity(path)
				if err != nil {
					return err
				}
				res, err := f.repo().RotateClusterKey(id)
				if err != nil {
					return err
				}
				if cfg, err = secrets.LoadSopsConfig(f.sopsConfig); err != nil {
					return err
				}
				fmt.Fprintf(w, "cluster key: %s (created, encrypted for the operators; public key %s; Kubernetes Secrets are encrypted for it, the Talos bundle is not)\n", f.clusterKey, cfg.Cluster())
				for _, p := range res.Files {
					if p != f.clusterKey {
						fmt.Fprintf(w, "re-encrypted %s\n", p)
					}
				}
			}
			if _, err := os.Stat(f.talosSecrets); err == nil {
				fmt.Fprintf(w, "talos secrets: %s (exists)\n", f.talosSecrets)
				return nil
			}
			enc, err := secrets.NewTalosSecrets(talos.DefaultTalosVersion, cfg.Recipients())
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(f.talosSecrets), 0o755); err != nil {
				return err
			}
			if err := secrets.WriteFileAtomic(f.talosSecrets, enc, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(w, "talos secrets: %s (created, encrypted)\n", f.talosSecrets)
			return nil
		},
	}
}

func secretsSetCommand(f *secretsFlags, build Builder) *cobra.Command {
	return &cobra.Command{
		Use:   "set NAMESPACE/NAME KEY",
		Short: "Set a key of an encrypted Secret to the value read from standard input",
		Long: `set encrypts the value read from standard input into the Secret's file of the store.
The Secret and the key must be declared by the tree (secret.New with the key in Keys):
a value nothing declares would be rendered into the cluster and read by nothing.`,
		Example: `  homelab secrets set cloudflared/cloudflared-credentials credentials.json < ~/.cloudflared/<tunnel-id>.json
  printf %s "$PASSWORD" | homelab secrets set monitoring/grafana-admin admin-password`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, name, err := secrets.ParseRef(args[0])
			if err != nil {
				return usageError{Err: err}
			}
			if err := declared(build, ns, name, args[1]); err != nil {
				return err
			}
			value, err := io.ReadAll(cmd.InOrStdin())
			if err != nil {
				return err
			}
			if len(value) == 0 {
				return errors.New("no value on standard input: pipe the value in")
			}
			store, id, recipients, err := f.writable()
			if err != nil {
				return err
			}
			res, err := store.Set(ns, name, args[1], value, id, recipients)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "set %s/%s %s in %s (encrypted for %d recipient(s)); run `go run . synth`\n", ns, name, args[1], store.Path(ns, name), len(res.Recipients))
			if res.Differs {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %s keeps its own recipients (%s), which differ from %s (%s); `go run . secrets add-recipient`/`remove-recipient` re-encrypt every file for .sops.yaml\n",
					store.Path(ns, name), strings.Join(res.Recipients, ", "), f.sopsConfig, strings.Join(recipients, ", "))
			}
			return nil
		},
	}
}

func secretsGetCommand(f *secretsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAMESPACE/NAME KEY",
		Short: "Decrypt a key of a Secret and print its value to standard output",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, name, err := secrets.ParseRef(args[0])
			if err != nil {
				return usageError{Err: err}
			}
			id, err := f.loadIdentity()
			if err != nil {
				return err
			}
			v, err := secrets.Store{Dir: f.store}.Get(ns, name, args[1], id)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(v)
			return err
		},
	}
}

func secretsRecipientCommand(f *secretsFlags, use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " AGE_PUBLIC_KEY",
		Short: short,
		Long: short + `.

Every file of the store and the Talos secrets bundle is decrypted with your identity and
encrypted again for the new list of recipients (sops updatekeys), and .sops.yaml is
rewritten to name them; nothing is written unless every file re-encrypts. Commit the
result. Removing a key does not remove it from Git history: rotate the values it could
read.`,
		Example: "  homelab secrets " + use + " age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := f.loadIdentity()
			if err != nil {
				return err
			}
			repo := f.repo()
			var res *secrets.RekeyResult
			if use == "add-recipient" {
				res, err = repo.AddRecipient(args[0], id)
			} else {
				res, err = repo.RemoveRecipient(args[0], id)
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, p := range res.Files {
				fmt.Fprintf(w, "re-encrypted %s\n", p)
			}
			fmt.Fprintf(w, "%s now lists %d recipient(s); commit the changed files\n", f.sopsConfig, len(res.Recipients))
			return nil
		},
	}
}

func secretsRotateCommand(f *secretsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Give the cluster a new age key and re-encrypt every Kubernetes Secret for it",
		Long: `rotate replaces the cluster's age key (the one Flux holds in the cluster to decrypt the
Secrets) and re-encrypts every Secret of the store for the operators and the new key; it
names each file it changed. Run deploy afterwards to hand the new key to Flux. Git history
stays readable with the old key: rotate the values it could read as well.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := f.loadIdentity()
			if err != nil {
				return err
			}
			res, err := f.repo().RotateClusterKey(id)
			if err != nil {
				return err
			}
			cfg, err := secrets.LoadSopsConfig(f.sopsConfig)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, p := range res.Files {
				fmt.Fprintf(w, "re-encrypted %s\n", p)
			}
			fmt.Fprintf(w, "new cluster key %s; commit the changed files, then run deploy to hand it to Flux\n", cfg.Cluster())
			return nil
		},
	}
}

// declared refuses namespace/name key unless the tree build returns
// declares that Secret with that key, naming what it does declare.
func declared(build Builder, ns, name, key string) error {
	l, err := build()
	if err != nil {
		return err
	}
	decls := core.Secrets.Of(l.Tree()).All()
	var all []string
	for _, d := range decls {
		if d.Namespace == ns && d.Name == name {
			if d.Store != "" {
				return fmt.Errorf("%s: secret %s/%s comes from the external secret store %s, not from the SOPS store: set %q there (the operator copies it into the cluster)",
					d.Source, ns, name, d.External, key)
			}
			if slices.Contains(d.Keys, key) {
				return nil
			}
			return fmt.Errorf("%s: secret %s/%s declares the keys %s, not %q; add %q to the Keys of its secret.Props, or set one of its keys",
				d.Source, ns, name, strings.Join(d.Keys, ", "), key, key)
		}
		all = append(all, d.Namespace+"/"+d.Name)
	}
	slices.Sort(all)
	return fmt.Errorf("the tree declares no secret %s/%s (it declares %s); declare it with secret.New(scope, %q, &secret.Props{Namespace: %q, Keys: []string{%q}, Source: ...}) first, or fix the name",
		ns, name, cmp.Or(strings.Join(all, ", "), "none"), name, ns, key)
}

func secretsListCommand(build Builder) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the Secrets the tree declares, their keys, and where each one's values come from",
		Long: `list prints one line per Secret the tree declares: its keys and its source, the SOPS
store (with the keys that have no value yet) or an external secret store (the store and the
path there, which the External Secrets Operator reads). Values are never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := build()
			if err != nil {
				return err
			}
			decls := core.Secrets.Of(l.Tree()).All()
			slices.SortFunc(decls, func(a, b core.SecretDecl) int {
				return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
			})
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "SECRET\tKEYS\tSOURCE")
			for _, d := range decls {
				src := "SOPS store"
				switch {
				case d.Store != "":
					src = "external store " + d.External
				case len(d.Missing) > 0:
					src += ", no value yet for " + strings.Join(d.Missing, ", ")
				case d.Pending:
					src += ", no value yet"
				}
				fmt.Fprintf(w, "%s/%s\t%s\t%s\n", d.Namespace, d.Name, strings.Join(d.Keys, ","), src)
			}
			return w.Flush()
		},
	}
}
