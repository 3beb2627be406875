package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/funoffshore/homelab/constructs/certs"
	"github.com/funoffshore/homelab/pkg/secrets"
)

// secretsCACommand makes the root of each internal CA issuer the tree
// runs and keeps it in the store.
func secretsCACommand(f *secretsFlags, build Builder) *cobra.Command {
	var commonName string
	var years int
	var force bool
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Make the internal CA's root (cert-manager's CA issuer) and keep it encrypted in the store",
		Long: `ca makes a root certificate and key for each internal CA issuer the tree runs
(Platform.Certs.CADomains, certs.NewCAIssuer), sets them as the keys tls.crt and tls.key of the
issuer's Secret in the store, and prints the root's certificate (public) on standard output, for
your devices to trust (docs/tls.md). The root may sign only for the issuer's domains (an X.509
name constraint): a device that trusts it trusts it for no other site, even if the key leaks.

A root already in the store is kept unless --force: a new one would make every device that
trusts the old one distrust the homelab's certificates.`,
		Example: `  homelab secrets ca > homelab-ca.crt
  homelab secrets get cert-manager/homelab-ca tls.crt > homelab-ca.crt   # again, later`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := build()
			if err != nil {
				return err
			}
			cas := certs.CAIssuersOf(l.Tree())
			if len(cas) == 0 {
				return fmt.Errorf("the tree runs no internal CA issuer; set Platform.Certs.CADomains (or add a certs.NewCAIssuer) first")
			}
			store, id, recipients, err := f.writable()
			if err != nil {
				return err
			}
			for _, ca := range cas {
				if _, err := store.Get(ca.Namespace, ca.Name, "tls.crt", id); err == nil && !force {
					return fmt.Errorf("%s: the store already holds a root for %s/%s; keep it (`homelab secrets get %s/%s tls.crt` prints it) or pass --force to replace it, after which every device must trust the new one",
						ca.Info().Path(), ca.Namespace, ca.Name, ca.Namespace, ca.Name)
				}
				name := commonName
				if name == "" {
					name = "homelab CA (" + strings.Join(ca.Domains, ", ") + ")"
				}
				root, err := secrets.NewRootCA(name, ca.Domains, time.Duration(years)*365*24*time.Hour, time.Now())
				if err != nil {
					return fmt.Errorf("%s: %w", ca.Info().Path(), err)
				}
				for _, kv := range []struct {
					key   string
					value []byte
				}{{"tls.crt", root.CertPEM}, {"tls.key", root.KeyPEM}} {
					if _, err := store.Set(ca.Namespace, ca.Name, kv.key, kv.value, id, recipients); err != nil {
						return err
					}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "set %s/%s (tls.crt, tls.key) in %s: a root for %s, valid until %s; install the certificate below on your devices (docs/tls.md), then run `go run . synth`\n",
					ca.Namespace, ca.Name, store.Path(ca.Namespace, ca.Name), strings.Join(ca.Domains, ", "), root.Cert.NotAfter.Format(time.DateOnly))
				if _, err := cmd.OutOrStdout().Write(root.CertPEM); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&commonName, "cn", "", `the root's name, shown by devices (default "homelab CA (<domains>)")`)
	cmd.Flags().IntVar(&years, "years", 10, "years the root is valid")
	cmd.Flags().BoolVar(&force, "force", false, "replace a root the store already holds")
	return cmd
}
