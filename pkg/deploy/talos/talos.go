// Package talos is the deployer's OS layer: it renders the full machine
// configs in memory from the decrypted secrets bundle, hands the nodes
// still without one their first config only through a channel that
// reaches that machine alone (a config ISO attached through the Proxmox
// API, or a pinned maintenance-mode certificate), waits
// for every node to answer with mutual TLS, bootstraps etcd on the first
// control plane exactly once, and returns the kubeconfig and talosconfig
// for the caller to save outside the repository.
package talos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	talosclient "github.com/siderolabs/talos/pkg/machinery/client"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/constants"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	model "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
	"github.com/funoffshore/homelab/pkg/upgradepath"
)

// Options configure Plan and Deploy.
type Options struct {
	// Address returns a node's Talos API address. Default: IP:50000.
	Address func(n *model.Node) string
	// Log records every action.
	Log *actionlog.Log
	// Timeout bounds waiting for nodes and etcd. Default: 10m.
	Timeout time.Duration
	// Concurrency bounds parallel config applies. Default: 2.
	Concurrency int
	// RecoverFrom is an etcd snapshot (the etcd-snapshot CronJob's) to
	// bootstrap etcd from instead of an empty one, for disaster recovery.
	RecoverFrom []byte
	// Kube returns a client of the cluster's Kubernetes API, asked only
	// once the cluster runs: workers are drained through it before their
	// upgrade, a Kubernetes upgrade watches each component come back
	// through it, and nodes the model no longer has are found and deleted
	// there. Nil upgrades Talos without draining (Talos drains on its own,
	// without a timeout of ours), refuses Kubernetes upgrades, and finds
	// removed control planes from etcd alone.
	Kube func(ctx context.Context) (client.Client, error)
	// DrainTimeout bounds each drain. Default: 5m.
	DrainTimeout time.Duration
	// Delivery hands a node with a VM its first config out of band (see
	// Delivery). Nil refuses to configure VM nodes.
	Delivery Delivery
	// Fingerprints pins, by hostname, the certificate a node without a VM
	// serves in maintenance mode: the base64 SPKI fingerprint Talos prints
	// on its console. Its first config goes to that certificate only.
	Fingerprints map[string]string
	// Reinstall names nodes known to be configured that may get a first
	// config again (after their disk was wiped).
	Reinstall []string
	// History is the action log so far: a node it shows configured is
	// known to be, also when nothing else says so.
	History []actionlog.Entry
}

func (o Options) withDefaults() Options {
	if o.Address == nil {
		o.Address = func(n *model.Node) string {
			return net.JoinHostPort(n.IP.String(), strconv.Itoa(constants.ApidPort))
		}
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Concurrency == 0 {
		o.Concurrency = 2
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 5 * time.Minute
	}
	return o
}

// Plan lists what Deploy would do.
type Plan struct {
	// Configure lists the nodes in maintenance mode, to configure.
	Configure []*model.Node
	// Bootstrap is the control plane to bootstrap etcd on, or nil.
	Bootstrap *model.Node
	// Update lists the configured nodes whose running config differs from
	// the model's, control planes first; Apply changes them one by one.
	Update []ConfigChange
	// Upgrade lists the configured nodes on another Talos release,
	// control planes first; Apply upgrades them one by one, after Update.
	Upgrade []Upgrade
	// Kubernetes lists the steps of a Kubernetes upgrade to the model's
	// version, component by component and node by node (see
	// KubernetesStep), after the Talos upgrades; Apply then syncs Talos'
	// bootstrap manifests.
	Kubernetes []KubernetesStep
	// Remove lists the nodes the cluster runs that the model no longer
	// has; Apply removes them last, one at a time (see Removal).
	Remove []Removal
	// Refused lists what the model asks that deploy will not do (a
	// Kubernetes jump of more than one minor, a downgrade), with the way
	// forward; Apply changes nothing while it is not empty.
	Refused []string
	// Drift lists what differs that deploy does not change (deploy.Plan
	// adds what Kubernetes reports, see KubernetesDrift).
	Drift []string
	// Path is the sequence of hops from the Talos and Kubernetes
	// versions the cluster runs (its oldest node's) to the model's (see
	// package upgradepath); Upgrade goes through its Talos hops, each
	// over every node before the next.
	Path upgradepath.Path

	talosOf map[*model.Node]string // the Talos release each configured node runs

	recoverNote   string
	manifestsFrom *model.Node // the control plane whose manifests a Kubernetes upgrade syncs
	configureBy   map[*model.Node]string
}

func cmpRole(r model.Role) int {
	if r == model.ControlPlane {
		return 0
	}
	return 1
}

// Changes renders the plan for `homelab plan`.
func (p *Plan) Changes() []string {
	var out []string
	for _, n := range p.Configure {
		if p.configureBy[n] == byFingerprint {
			out = append(out, fmt.Sprintf("%s: apply %s config to the machine at its address whose maintenance-mode certificate is the pinned one", n.Hostname, n.Role))
			continue
		}
		out = append(out, fmt.Sprintf("%s: deliver %s config to VM %s out of band (an ISO attached through the Proxmox API; the VM restarts with it)", n.Hostname, n.Role, n.Machine.MachineName()))
	}
	if p.Bootstrap != nil {
		out = append(out, fmt.Sprintf("%s: bootstrap etcd%s", p.Bootstrap.Hostname, p.recoverNote))
	}
	for _, u := range p.Update {
		out = append(out, u.String())
	}
	if len(p.Path) > 1 && len(p.Refused) == 0 {
		out = append(out, "upgrade path: "+p.Path.String()+" (each hop over every node before the next)")
	}
	for _, u := range p.Upgrade {
		out = append(out, u.String())
	}
	for _, k := range p.Kubernetes {
		out = append(out, k.String())
	}
	if len(p.Kubernetes) > 0 {
		out = append(out, fmt.Sprintf("%s: sync Talos' bootstrap manifests (kube-proxy, CoreDNS, the CNI) to the cluster, as talosctl upgrade-k8s does", p.manifestsFrom.Hostname))
	}
	for _, r := range p.Remove {
		out = append(out, r.String())
	}
	for _, r := range p.Refused {
		out = append(out, "refused: "+r)
	}
	return out
}

// Result is what Deploy hands back to save.
type Result struct {
	// Talosconfig and Kubeconfig are secret: save them with mode 0600
	// outside the repository.
	Talosconfig, Kubeconfig []byte
}

type deployer struct {
	cluster *model.Cluster
	bundle  *secrets.Bundle
	opts    Options
	// leaving names the nodes the plan removes (last): until then they
	// may still be etcd members.
	leaving []string
}

func (d *deployer) secure(ctx context.Context, n *model.Node) (*talosclient.Client, error) {
	cfg, err := d.cluster.Talosconfig(d.bundle)
	if err != nil {
		return nil, err
	}
	return talosclient.New(ctx, talosclient.WithConfig(cfg), talosclient.WithEndpoints(d.opts.Address(n)))
}

// configured reports whether n answers with mutual TLS (it has a config).
func (d *deployer) configured(ctx context.Context, n *model.Node) bool {
	c, err := d.secure(ctx, n)
	if err != nil {
		return false
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = c.Version(cctx)
	return err == nil
}

// onNode runs fn with one mutual-TLS client of n, closed after.
func onNode[T any](ctx context.Context, d *deployer, n *model.Node, fn func(*talosclient.Client) (T, error)) (T, error) {
	c, err := d.secure(ctx, n)
	if err != nil {
		var zero T
		return zero, err
	}
	defer c.Close()
	return fn(c)
}

// version returns the Talos version a configured node runs.
func (d *deployer) version(ctx context.Context, n *model.Node) (string, error) {
	return onNode(ctx, d, n, func(c *talosclient.Client) (string, error) { return versionOf(ctx, c) })
}

// versionOf returns the Talos version the node of c runs.
func versionOf(ctx context.Context, c *talosclient.Client) (string, error) {
	v, err := c.Version(ctx)
	if err != nil {
		return "", err
	}
	if len(v.Messages) == 0 || v.Messages[0].Version == nil {
		return "", errors.New("the node reported no version")
	}
	return v.Messages[0].Version.Tag, nil
}

// etcdRunning reports whether etcd runs on the control plane n.
func (d *deployer) etcdRunning(ctx context.Context, n *model.Node) (bool, error) {
	c, err := d.secure(ctx, n)
	if err != nil {
		return false, err
	}
	defer c.Close()
	svcs, err := c.ServiceInfo(ctx, "etcd")
	if err != nil {
		return false, err
	}
	for _, s := range svcs {
		if s.Service.State == "Running" {
			return true, nil
		}
	}
	return false, nil
}

// NewPlan reads the nodes' state.
func NewPlan(ctx context.Context, cluster *model.Cluster, bundle *secrets.Bundle, opts Options) (*Plan, error) {
	d := &deployer{cluster: cluster, bundle: bundle, opts: opts.withDefaults()}
	p := &Plan{talosOf: map[*model.Node]string{}}
	cps := cluster.ControlPlanes()
	if len(cps) == 0 {
		return nil, errors.New("talos: the cluster has no control plane")
	}
	p.manifestsFrom = cps[0]
	running := map[*model.Node]map[string]string{} // node -> Kubernetes component -> image
	wants := map[*model.Node]config.Provider{}
	var pending []*model.Node
	for _, n := range cluster.Nodes() {
		if !d.configured(ctx, n) {
			pending = append(pending, n)
			continue
		}
		var err error
		if wants[n], err = cluster.NodeConfig(n, bundle); err != nil {
			return nil, err
		}
		// One client per node for everything plan reads from it.
		_, err = onNode(ctx, d, n, func(c *talosclient.Client) (struct{}, error) {
			return struct{}{}, d.planNode(ctx, c, p, n, wants[n], running)
		})
		if err != nil {
			return nil, fmt.Errorf("talos %s: %w", n.Hostname, err)
		}
	}
	d.firstConfig(ctx, p, pending, len(pending) < len(cluster.Nodes()))
	// Control planes first, as talosctl's upgrade order: the workers
	// follow a control plane that already runs the new config.
	slices.SortStableFunc(p.Update, func(a, b ConfigChange) int {
		return cmpRole(a.Node.Role) - cmpRole(b.Node.Role)
	})
	slices.SortStableFunc(p.Upgrade, func(a, b Upgrade) int {
		return cmpRole(a.Node.Role) - cmpRole(b.Node.Role)
	})
	if err := d.planKubernetes(p, running, wants); err != nil {
		return nil, err
	}
	d.planPath(p, running)
	first := cps[0]
	etcd := false
	firstUp := d.configured(ctx, first)
	if firstUp {
		var err error
		if etcd, err = d.etcdRunning(ctx, first); err != nil {
			return nil, fmt.Errorf("talos %s: reading etcd state: %w", first.Hostname, err)
		}
	}
	if !etcd {
		if !firstUp && !slices.Contains(p.Configure, first) {
			return p, nil // refused above: nothing to bootstrap through
		}
		p.Bootstrap = first
		if len(d.opts.RecoverFrom) > 0 {
			p.recoverNote = fmt.Sprintf(" from a %d-byte snapshot", len(d.opts.RecoverFrom))
		}
		return p, nil
	}
	var err error
	if p.Remove, err = d.planRemovals(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// planNode reads, through c, what the configured node n runs and adds
// its upgrade and config change to p, and its Kubernetes images to
// running.
func (d *deployer) planNode(ctx context.Context, c *talosclient.Client, p *Plan, n *model.Node, wantCfg config.Provider, running map[*model.Node]map[string]string) error {
	cluster := d.cluster
	tag, err := versionOf(ctx, c)
	if err != nil {
		return fmt.Errorf("reading its version: %w", err)
	}
	p.talosOf[n] = tag
	schematic, err := schematicOf(ctx, c)
	if err != nil {
		return fmt.Errorf("reading its extensions: %w", err)
	}
	want := cluster.Schematic().ID()
	if schematic == "" {
		want = "" // not installed from the Image Factory: nothing to compare
	}
	if tag != cluster.TalosVersion || schematic != want {
		p.Upgrade = append(p.Upgrade, Upgrade{Node: n, From: tag, To: cluster.TalosVersion, FromSchematic: schematic, ToSchematic: want})
	}
	cfg, err := runningConfigOf(ctx, c)
	if err != nil {
		return err
	}
	running[n] = runningImages(n, cfg)
	// The config change keeps the Kubernetes images the node runs:
	// moving them is the Kubernetes upgrade's, in its order.
	same, err := withImages(wantCfg, running[n], 0)
	if err != nil {
		return err
	}
	ch, err := configChange(ctx, c, n, cfg, same)
	if err != nil {
		return err
	}
	if ch != nil {
		p.Update = append(p.Update, *ch)
	}
	return nil
}

// Apply carries the plan out and returns the client configs.
func (p *Plan) Apply(ctx context.Context, cluster *model.Cluster, bundle *secrets.Bundle, opts Options) (*Result, error) {
	d := &deployer{cluster: cluster, bundle: bundle, opts: opts.withDefaults()}
	for _, r := range p.Remove {
		d.leaving = append(d.leaving, r.Hostname)
	}
	if len(p.Refused) > 0 {
		return nil, fmt.Errorf("talos: deploy refuses, nothing changed: %s", strings.Join(p.Refused, "; "))
	}
	// Each node gets its own config: its role's, with its hostname.
	configs := map[*model.Node][]byte{}
	for _, n := range p.Configure {
		cfg, err := cluster.NodeConfig(n, bundle)
		if err != nil {
			return nil, err
		}
		if configs[n], err = cfg.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled)); err != nil {
			return nil, err
		}
	}
	sem := make(chan struct{}, d.opts.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, n := range p.Configure {
		wg.Add(1)
		sem <- struct{}{}
		go func(n *model.Node) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := d.sendFirstConfig(ctx, p.configureBy[n], n, configs[n]); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("talos %s: apply config: %w", n.Hostname, err))
				mu.Unlock()
			}
		}(n)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, n := range cluster.Nodes() {
		err := d.opts.Log.Record("talos", n.Hostname, "wait-secure-api", func() error {
			return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, d.opts.Timeout, true, func(ctx context.Context) (bool, error) {
				return d.configured(ctx, n), nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("talos %s: no answer with mutual TLS: %w", n.Hostname, err)
		}
		if d.opts.Delivery != nil && n.Machine != nil {
			// The config ISO holds the cluster's keys: gone once the
			// node runs its config (also one a failed run left).
			err := d.opts.Delivery.Cleanup(ctx, n.Machine)
			if err != nil {
				return nil, fmt.Errorf("talos %s: removing its config ISO: %w", n.Hostname, err)
			}
		}
	}
	if err := d.applyChanges(ctx, p.Update); err != nil {
		return nil, err
	}
	if err := d.upgrade(ctx, p.Upgrade); err != nil {
		return nil, err
	}
	if n := p.Bootstrap; n != nil {
		err := d.opts.Log.Record("talos", n.Hostname, "bootstrap-etcd", func() error {
			c, err := d.secure(ctx, n)
			if err != nil {
				return err
			}
			defer c.Close()
			if len(d.opts.RecoverFrom) > 0 {
				if _, err := c.EtcdRecover(ctx, bytes.NewReader(d.opts.RecoverFrom)); err != nil {
					return fmt.Errorf("uploading the etcd snapshot: %w", err)
				}
				return c.Bootstrap(ctx, &machine.BootstrapRequest{RecoverEtcd: true})
			}
			return c.Bootstrap(ctx, &machine.BootstrapRequest{})
		})
		if err != nil {
			return nil, fmt.Errorf("talos %s: bootstrap: %w", n.Hostname, err)
		}
	}
	if err := d.upgradeKubernetes(ctx, p.Kubernetes); err != nil {
		return nil, err
	}
	if err := d.remove(ctx, p.Remove); err != nil {
		return nil, err
	}
	return d.clientConfigs(ctx)
}

// ClientConfigs reads the kubeconfig from the first control plane (waiting
// until Kubernetes serves it) and renders the talosconfig; it changes
// nothing on the nodes.
func ClientConfigs(ctx context.Context, cluster *model.Cluster, bundle *secrets.Bundle, opts Options) (*Result, error) {
	d := &deployer{cluster: cluster, bundle: bundle, opts: opts.withDefaults()}
	return d.clientConfigs(ctx)
}

func (d *deployer) clientConfigs(ctx context.Context) (*Result, error) {
	first := d.cluster.ControlPlanes()[0]
	var kubeconfig []byte
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, d.opts.Timeout, true, func(ctx context.Context) (bool, error) {
		c, err := d.secure(ctx, first)
		if err != nil {
			return false, nil
		}
		defer c.Close()
		kubeconfig, err = c.Kubeconfig(ctx)
		return err == nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("talos %s: kubeconfig: %w", first.Hostname, err)
	}
	tc, err := d.cluster.Talosconfig(d.bundle)
	if err != nil {
		return nil, err
	}
	talosconfig, err := tc.Bytes()
	if err != nil {
		return nil, err
	}
	return &Result{Talosconfig: talosconfig, Kubeconfig: kubeconfig}, nil
}
