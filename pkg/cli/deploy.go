package cli

import (
	"bufio"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	proxmodel "github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/pkg/deploy"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
	pvedeploy "github.com/funoffshore/homelab/pkg/deploy/proxmox"
	talosdeploy "github.com/funoffshore/homelab/pkg/deploy/talos"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/localenv"
	"github.com/funoffshore/homelab/pkg/secrets"
	"github.com/funoffshore/homelab/synth"
)

// ExitPending is `homelab plan`'s exit code when changes are pending.
const ExitPending = 2

// errPending marks plan finding changes (already printed).
var errPending = errors.New("changes pending")

type deployFlags struct {
	secretsFlags
	simulate, yes, proxmoxInsecure, prune     bool
	allowPending                              bool
	logPath, stateDir, recoverFrom, tokenFile string
	proxmoxCA, knownHosts                     string
	adopt                                     []int
	reinstall                                 []string
	talosFingerprints                         map[string]string
	tempState                                 bool // stateDir is a simulation's temporary directory
}

func (f *deployFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.simulate, "simulate", false, "run against local simulators of Proxmox and Talos and a local kube-apiserver instead of the real hosts (needs the envtest binaries: make envtest)")
	cmd.Flags().BoolVar(&f.proxmoxInsecure, "proxmox-insecure", false, "removed: it sent the API token to whoever answered")
	_ = cmd.Flags().MarkHidden("proxmox-insecure")
	cmd.Flags().StringVar(&f.knownHosts, "proxmox-known-hosts", "", "certificate fingerprints of Proxmox hosts accepted on first use (default <user config dir>/homelab/proxmox_known_hosts)")
	cmd.Flags().StringSliceVar(&f.reinstall, "reinstall", nil, "nodes known to be configured whose disk was wiped, to configure again from scratch (their config still goes to their VM only)")
	cmd.Flags().StringToStringVar(&f.talosFingerprints, "talos-fingerprint", nil, "NODE=FINGERPRINT: the maintenance-mode certificate a node without a VM prints on its console; its first config goes to that certificate only")
	cmd.Flags().StringVar(&f.proxmoxCA, "proxmox-ca", "", "PEM file of the CA that signed the Proxmox hosts' certificates (the cluster's /etc/pve/pve-root-ca.pem)")
	cmd.Flags().StringVar(&f.identity, "identity", "", "age identity file (default $HOMELAB_AGE_KEY_FILE or <user config dir>/homelab/age.key)")
	cmd.Flags().StringVar(&f.store, "store", "secrets", "directory of the encrypted Secret store")
	cmd.Flags().StringVar(&f.talosSecrets, "talos-secrets", secrets.TalosSecretsPath, "encrypted Talos secrets bundle")
	cmd.Flags().StringVar(&f.clusterKey, "cluster-key", secrets.ClusterKeyPath, "the cluster's age key (for Flux), encrypted for the operators")
	cmd.Flags().StringVar(&f.tokenFile, "proxmox-token-file", "", "file holding the Proxmox API token as USER@REALM!TOKEN=SECRET (instead of PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET)")
	cmd.Flags().BoolVar(&f.allowPending, "allow-pending", false, "deploy although `go run . validate` lists blockers (Secrets without values, example site values): Flux will stall on them")
	cmd.Flags().IntSliceVar(&f.adopt, "adopt", nil, "VMIDs of existing VMs without this homelab's Proxmox tag to take over (reconfigure, tag, start); any other VM holding a model VMID is refused")
	cmd.Flags().StringVar(&f.logPath, "log", "", "action log (default <user state dir>/homelab/actions.jsonl; a temporary file with --simulate)")
}

// prepare builds the tree, finds what to deploy and the inputs: real
// credentials, or a simulation (closed by the returned function).
func (f *deployFlags) prepare(cmd *cobra.Command, build Builder) (deploy.Target, deploy.Inputs, func(), error) {
	var none deploy.Inputs
	l, err := build()
	if err != nil {
		return deploy.Target{}, none, nil, err
	}
	files, err := synth.Render(l.Tree())
	if err != nil {
		return deploy.Target{}, none, nil, err
	}
	target, err := deploy.FindTarget(l, files)
	if err != nil {
		return target, none, nil, err
	}
	if b := core.Blockers.Of(l.Tree()).All(); len(b) > 0 && !f.allowPending {
		var lines []string
		for _, x := range b {
			lines = append(lines, "  - "+x.String())
		}
		if !f.simulate {
			return target, none, nil, fmt.Errorf("the tree would not reconcile once Flux runs (%d blocker(s)):\n%s\nfix them (see `go run . validate`) or pass --allow-pending", len(b), strings.Join(lines, "\n"))
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %d blocker(s) would keep a real cluster from reconciling (see `go run . validate`); simulating anyway\n", len(b))
	}
	if f.simulate {
		spec := localenv.SimulationFor(target, fixtures.Existing(fixtures.ProxmoxSchema))
		env, err := localenv.StartSimulation(cmd.Context(), spec, cmd.ErrOrStderr())
		if err != nil {
			return target, none, nil, err
		}
		in, err := env.Inputs()
		if err != nil {
			env.Close()
			return target, none, nil, err
		}
		// A simulation never writes the real action log or client
		// configs: they go to a temporary directory removed at the end.
		tmp := ""
		if f.logPath == "" || f.stateDir == "" {
			if tmp, err = os.MkdirTemp("", "homelab-simulate-"); err != nil {
				env.Close()
				return target, none, nil, err
			}
			if f.logPath == "" {
				f.logPath = filepath.Join(tmp, "actions.jsonl")
			}
			if f.stateDir == "" {
				f.stateDir, f.tempState = tmp, true
			}
		}
		done := func() {
			env.Close()
			if tmp != "" {
				os.RemoveAll(tmp)
			}
		}
		in.Log = &actionlog.Log{Path: f.logPath}
		if err := f.extras(&in); err != nil {
			done()
			return target, none, nil, err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "simulating: Proxmox API %s, %d Talos nodes, a local kube-apiserver; temporary state in %s (removed at exit)\n", env.Proxmox.URL, len(spec.Nodes), cmp.Or(tmp, f.stateDir))
		return target, in, done, nil
	}
	if err := f.recover(cmd); err != nil {
		return target, none, nil, err
	}
	in, err := f.realInputs(cmd)
	if err == nil {
		err = f.trustHosts(cmd, target, &in)
	}
	if err == nil {
		err = f.extras(&in)
	}
	return target, in, func() {}, err
}

// extras applies --prune, --recover-from, --reinstall and
// --talos-fingerprint, and hands the Talos layer the action log so far.
func (f *deployFlags) extras(in *deploy.Inputs) error {
	in.Proxmox.Prune, in.Proxmox.Adopt = f.prune, f.adopt
	in.Talos.Reinstall, in.Talos.Fingerprints = f.reinstall, f.talosFingerprints
	if entries, err := actionlog.Read(f.logPath); err == nil {
		in.Talos.History = entries
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading the action log (it says which nodes are configured): %w", err)
	}
	if f.recoverFrom != "" {
		data, err := os.ReadFile(f.recoverFrom)
		if err != nil {
			return fmt.Errorf("--recover-from: %w", err)
		}
		if secrets.IsSOPS(data) {
			// The snapshot job encrypts for the operators.
			id, err := f.loadIdentity()
			if err != nil {
				return fmt.Errorf("--recover-from %s is encrypted: %w", f.recoverFrom, err)
			}
			if data, err = secrets.DecryptBinary(data, id); err != nil {
				return fmt.Errorf("--recover-from %s: %w", f.recoverFrom, err)
			}
		}
		in.Talos.RecoverFrom = data
	}
	return nil
}

// trustHosts pins the certificate of each Proxmox host that neither the
// model nor --proxmox-ca vouches for: recorded in the known-hosts file,
// or accepted by the operator on first use.
func (f *deployFlags) trustHosts(cmd *cobra.Command, target deploy.Target, in *deploy.Inputs) error {
	if f.proxmoxCA != "" {
		return nil
	}
	path := f.knownHosts
	if path == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return err
		}
		path = filepath.Join(dir, "homelab", "proxmox_known_hosts")
	}
	trust := pvedeploy.Trust{KnownHosts: path, Confirm: func(h proxmodel.InventoryHost, fp string) bool {
		if f.yes {
			return false // no unattended first trust
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "proxmox %s (%s) presents a certificate no CA you trust signed:\n  SHA-256 %s\ncompare it with the host's own (on the host: pvenode cert info; web UI: System > Certificates).\n", h.Name, h.Endpoint, fp)
		return confirm(cmd, fmt.Sprintf("trust it and record it in %s? [y/N] ", path))
	}}
	pins, err := trust.Pins(cmd.Context(), target.Inventory.Hosts)
	if err != nil {
		return err
	}
	in.Proxmox.Fingerprints = pins
	return nil
}

func (f *deployFlags) realInputs(cmd *cobra.Command) (deploy.Inputs, error) {
	var in deploy.Inputs
	if f.proxmoxInsecure {
		return in, errors.New("--proxmox-insecure was removed: it sent the Proxmox API token to whoever answered on the host's address. Run without it: deploy shows each self-signed host certificate's fingerprint once and pins it (or set ProxmoxHostProps.TLSFingerprint, or --proxmox-ca)")
	}
	id, secret := os.Getenv("PROXMOX_TOKEN_ID"), os.Getenv("PROXMOX_TOKEN_SECRET")
	if f.tokenFile != "" {
		data, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return in, fmt.Errorf("--proxmox-token-file: %w", err)
		}
		var ok bool
		if id, secret, ok = strings.Cut(strings.TrimSpace(string(data)), "="); !ok {
			return in, fmt.Errorf("--proxmox-token-file %s: want USER@REALM!TOKEN=SECRET", f.tokenFile)
		}
	}
	if id == "" || secret == "" {
		return in, errors.New("set PROXMOX_TOKEN_ID (user@realm!token) and PROXMOX_TOKEN_SECRET, or --proxmox-token-file, to a Proxmox API token; or use --simulate")
	}
	httpClient := http.DefaultClient
	if f.proxmoxCA != "" {
		pem, err := os.ReadFile(f.proxmoxCA)
		if err != nil {
			return in, fmt.Errorf("--proxmox-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return in, fmt.Errorf("--proxmox-ca %s holds no PEM certificate", f.proxmoxCA)
		}
		httpClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}}}
	}
	if user, _, _ := strings.Cut(id, "!"); user == "root@pam" {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: the Proxmox token is root@pam's: whoever holds it owns every host. deploy needs only the privileges of the role in docs/security.md (Proxmox API token)\n")
	}
	in.Proxmox = pvedeploy.Options{Token: pvedeploy.Token{ID: id, Secret: secret}, HTTPClient: httpClient}
	ident, err := f.loadIdentity()
	if err != nil {
		return in, err
	}
	if in.Bundle, err = secrets.LoadTalosSecrets(f.talosSecrets, ident); err != nil {
		return in, err
	}
	store := secrets.Store{Dir: f.store}
	enc, err := os.ReadFile(store.Path("flux-system", "flux-system"))
	if err != nil {
		return in, fmt.Errorf("the Flux Git credentials are not in the store (%w): set them with `go run . secrets set flux-system/flux-system identity`", err)
	}
	if in.GitCredentials, err = secrets.Decrypt(enc, ident); err != nil {
		return in, err
	}
	// Flux gets the cluster's own key, never an operator's: it decrypts
	// the Kubernetes Secrets and nothing else.
	ck, err := secrets.LoadClusterKey(f.clusterKey, ident)
	if err != nil {
		return in, err
	}
	in.AgeKey = ck.SecretKey()
	in.Kube = func(kubeconfig []byte) (client.Client, error) {
		cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
		if err != nil {
			return nil, err
		}
		return client.New(cfg, client.Options{Scheme: kube.Scheme})
	}
	if f.logPath == "" {
		if f.logPath, err = actionlog.DefaultPath(); err != nil {
			return in, err
		}
	}
	in.Log = &actionlog.Log{Path: f.logPath}
	return in, nil
}

// saveClientConfigs writes kubeconfig and talosconfig (mode 0600, atomic)
// to --state-dir or <user config dir>/homelab/<cluster> and returns the
// directory.
func (f *deployFlags) saveClientConfigs(target deploy.Target, res *talosdeploy.Result) (string, error) {
	dir := f.stateDir
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(base, "homelab", target.Cluster.Name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for name, data := range map[string][]byte{"kubeconfig": res.Kubeconfig, "talosconfig": res.Talosconfig} {
		if len(data) == 0 {
			continue
		}
		if err := secrets.WriteFileAtomic(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func planCommand(build Builder) *cobra.Command {
	f := &deployFlags{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print what deploy would change, per layer; change nothing (exit 2 when changes are pending)",
		Long: `plan reads the live state of the Proxmox hosts, the Talos nodes and, once it exists, the
cluster, and prints per layer what deploy would do. It changes nothing. Exit codes: 0 when
everything is as the homelab says, 2 when changes are pending, 1 on errors.

It needs a Proxmox API token in PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET, and your age
identity to read the Talos secrets; --simulate runs it against local simulators instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, in, done, err := f.prepare(cmd, build)
			if err != nil {
				return err
			}
			defer done()
			r, err := deploy.Plan(cmd.Context(), target, in)
			if err != nil {
				return err
			}
			r.Print(cmd.OutOrStdout())
			pending := r.Pending() > 0
			if r.Applied != "" {
				changed, err := appliedReview(cmd.Context(), cmd.OutOrStdout(), r.Applied, target.Files)
				if err != nil {
					return err
				}
				pending = pending || changed
			}
			if pending {
				return errPending
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func deployCommand(build Builder) *cobra.Command {
	f := &deployFlags{}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Create the VMs, configure Talos, bootstrap Flux: what Flux cannot do itself",
		Long: `deploy carries out the plan: the Talos ISO on each Proxmox host and the VMs created or
updated and started; the machine configs, rendered in memory from the encrypted Talos
secrets, applied to the nodes in maintenance mode, etcd bootstrapped once; then the Flux
bootstrap (gotk-components, the sops-age and Git credential Secrets, gotk-sync) until the
flux-system Kustomization is ready. It is idempotent and resumable: run it again after a
failure. Every action is appended to the action log; no secret is ever logged. It asks
before changing anything unless --yes. kubeconfig and talosconfig are saved (mode 0600)
under --state-dir.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, in, done, err := f.prepare(cmd, build)
			if err != nil {
				return err
			}
			defer done()
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			if entries, err := actionlog.Read(f.logPath); err == nil {
				// A start without an end: the last run stopped mid-action.
				// The plan below reads live state, so deploy converges.
				for _, e := range actionlog.Unfinished(entries) {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: %s %s %s started at %s and never ended (a crash or kill); the plan reads live state and finishes it\n",
						e.Layer, e.Action, e.Target, e.Time.Format(time.RFC3339))
				}
			}
			r, err := deploy.Plan(ctx, target, in)
			if err != nil {
				return err
			}
			r.Print(w)
			if r.Pending() == 0 {
				fmt.Fprintln(w, "nothing to do")
				return nil
			}
			if !f.yes && !confirm(cmd, fmt.Sprintf("apply %d change(s)? [y/N] ", r.Pending())) {
				return errors.New("aborted: nothing changed")
			}
			res, err := deploy.Deploy(ctx, target, in, cmd.ErrOrStderr())
			// The client configs are saved as soon as Talos produced
			// them, also when a later step (Flux) failed: without them
			// nobody reaches the cluster to see why.
			var dir string
			if res != nil {
				var saveErr error
				if dir, saveErr = f.saveClientConfigs(target, res); saveErr != nil {
					return errors.Join(err, saveErr)
				}
			}
			if err != nil {
				if dir != "" {
					return fmt.Errorf("%w (re-run deploy to resume; kubeconfig and talosconfig saved in %s; log: %s)", err, dir, f.logPath)
				}
				return fmt.Errorf("%w (re-run deploy to resume; log: %s)", err, f.logPath)
			}
			if f.tempState {
				fmt.Fprintf(w, "deployed; kubeconfig and talosconfig were in %s, a temporary directory removed at exit (pass --state-dir DIR to keep them); action log %s\n", dir, f.logPath)
			} else {
				fmt.Fprintf(w, "deployed; kubeconfig and talosconfig in %s (mode 0600); action log %s\n", dir, f.logPath)
			}
			if f.simulate {
				again, err := deploy.Plan(ctx, target, in)
				if err != nil {
					return err
				}
				fmt.Fprintln(w, "plan after deploy:")
				again.Print(w)
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.yes, "yes", false, "do not ask before changing anything")
	cmd.Flags().BoolVar(&f.prune, "prune", false, "also stop and destroy VMs on the hosts that the homelab does not describe")
	cmd.Flags().StringVar(&f.recoverFrom, "recover-from", "", "bootstrap etcd from this etcd snapshot (disaster recovery) instead of an empty etcd")
	cmd.Flags().StringVar(&f.stateDir, "state-dir", "", "where kubeconfig and talosconfig are saved (default <user config dir>/homelab/<cluster>; a temporary directory with --simulate)")
	return cmd
}

func confirm(cmd *cobra.Command, prompt string) bool {
	fmt.Fprint(cmd.ErrOrStderr(), prompt)
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes"
}
