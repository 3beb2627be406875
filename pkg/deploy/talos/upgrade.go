package talos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cosi-project/runtime/pkg/safe"
	talosclient "github.com/siderolabs/talos/pkg/machinery/client"
	runtimeres "github.com/siderolabs/talos/pkg/machinery/resources/runtime"
	"google.golang.org/protobuf/types/known/emptypb"
	"k8s.io/apimachinery/pkg/util/wait"

	model "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/deploy/drain"
)

// Upgrade is a configured node that runs another Talos release than the
// model's.
type Upgrade struct {
	Node     *model.Node
	From, To string
	// FromSchematic and ToSchematic are the Image Factory schematics
	// (the extensions) it runs and the model's; empty when the node
	// reports none.
	FromSchematic, ToSchematic string
}

func (u Upgrade) String() string {
	how := "drained first, "
	if u.Node.Role == model.ControlPlane {
		how = "etcd checked before and after, "
	}
	what := fmt.Sprintf("upgrade Talos %s -> %s", u.From, u.To)
	if u.FromSchematic != u.ToSchematic {
		what += fmt.Sprintf(", schematic %.12s -> %.12s (other extensions)", u.FromSchematic, u.ToSchematic)
		if u.From == u.To {
			what = fmt.Sprintf("reinstall Talos %s with schematic %.12s (runs %.12s: other extensions)", u.To, u.ToSchematic, u.FromSchematic)
		}
	}
	return fmt.Sprintf("%s: %s (reboots; %sone node at a time)", u.Node.Hostname, what, how)
}

// schematic returns the Image Factory schematic n reports (its
// "schematic" extension, as `talosctl get extensions` lists it), or "".
func (d *deployer) schematic(ctx context.Context, n *model.Node) (string, error) {
	return onNode(ctx, d, n, func(c *talosclient.Client) (string, error) { return schematicOf(ctx, c) })
}

// schematicOf returns the schematic the node of c reports, or "".
func schematicOf(ctx context.Context, c *talosclient.Client) (string, error) {
	exts, err := safe.StateListAll[*runtimeres.ExtensionStatus](ctx, c.COSI)
	if err != nil {
		return "", err
	}
	for e := range exts.All() {
		if e.TypedSpec().Metadata.Name == "schematic" {
			return e.TypedSpec().Metadata.Version, nil
		}
	}
	return "", nil
}

// upgrade moves each node of ups to the model's release through the
// Talos upgrade API with the installer image of the cluster's schematic,
// one node at a time in order (control planes first): a worker is
// drained first (through Options.Kube) and uncordoned after; before and after
// a control plane, etcd must run on every control plane. It stops at the
// first failure with the cluster still serving, naming what is left.
func (d *deployer) upgrade(ctx context.Context, ups []Upgrade) error {
	for i, u := range ups {
		err := d.opts.Log.Record("talos", u.Node.Hostname, "upgrade "+u.To, func() error { return d.upgradeNode(ctx, u) })
		if err != nil {
			var rest []*model.Node
			for _, later := range ups[i+1:] {
				rest = append(rest, later.Node)
			}
			left := hostnames(rest)
			cordoned := ""
			if u.Node.Role != model.ControlPlane && d.opts.Kube != nil {
				cordoned = fmt.Sprintf(" (%s may stay cordoned until then)", u.Node.Hostname)
			}
			return errors.Join(fmt.Errorf("talos %s: upgrading to %s: %w", u.Node.Hostname, u.To, err),
				fmt.Errorf("stopped there; not yet upgraded: %s; the nodes before it run %s; fix the cause and run deploy again to resume%s", left, u.To, cordoned))
		}
	}
	return nil
}

func (d *deployer) upgradeNode(ctx context.Context, u Upgrade) error {
	n := u.Node
	if err := d.beforeDown(ctx, n); err != nil {
		return err
	}
	c, err := d.secure(ctx, n)
	if err != nil {
		return err
	}
	booted, _ := bootTime(ctx, c)
	_, err = c.Upgrade(ctx, d.cluster.InstallerImageAt(u.To), false, false)
	c.Close()
	if err != nil {
		return err
	}
	var rolledBack error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, d.opts.Timeout, true, func(ctx context.Context) (bool, error) {
		v, err := d.version(ctx, n)
		if err != nil {
			return false, nil
		}
		if v != u.To {
			// Back from a reboot on the release it ran: Talos could not
			// boot the new one and fell back (its A/B boot), and reports
			// the old version; waiting longer changes nothing.
			if b, err := onNode(ctx, d, n, func(c *talosclient.Client) (uint64, error) { return bootTime(ctx, c) }); err == nil && booted != 0 && b != booted && v == u.From {
				rolledBack = fmt.Errorf("the node rebooted and came back on %s, not %s: Talos rolled the upgrade back (the new release did not boot); see `talosctl -n %s dmesg` and the upgrade's installer image %s",
					u.From, u.To, n.IP, d.cluster.InstallerImageAt(u.To))
				return false, rolledBack
			}
			return false, nil
		}
		if u.FromSchematic == "" {
			return true, nil
		}
		s, err := d.schematic(ctx, n)
		return err == nil && s == u.ToSchematic, nil
	})
	if rolledBack != nil {
		return rolledBack
	}
	if err != nil {
		return fmt.Errorf("the node did not come back on %s within %s: %w", u.To, d.opts.Timeout, err)
	}
	return d.afterDown(ctx, n)
}

// bootTime is when the node of c booted (machine.SystemStat), which a
// reboot changes; 0 when it does not say.
func bootTime(ctx context.Context, c *talosclient.Client) (uint64, error) {
	st, err := c.MachineClient.SystemStat(ctx, &emptypb.Empty{})
	if err != nil {
		return 0, err
	}
	if len(st.GetMessages()) == 0 {
		return 0, errors.New("the node reported no system stat")
	}
	return st.GetMessages()[0].GetBootTime(), nil
}

// beforeDown readies the cluster for n going down (a reboot): every
// node Ready; on a control plane, etcd must run on every control plane;
// a worker is drained.
func (d *deployer) beforeDown(ctx context.Context, n *model.Node) error {
	if err := d.kubernetesHealthy(ctx); err != nil {
		return fmt.Errorf("before: %w", err)
	}
	if n.Role != model.ControlPlane {
		return d.drain(ctx, n.Hostname)
	}
	if err := d.etcdHealthy(ctx); err != nil {
		return fmt.Errorf("before: %w", err)
	}
	return nil
}

// afterDown follows n coming back: etcd again on every control plane, or
// the worker uncordoned; then every node Ready again.
func (d *deployer) afterDown(ctx context.Context, n *model.Node) error {
	if n.Role != model.ControlPlane {
		if err := d.uncordon(ctx, n.Hostname); err != nil {
			return err
		}
	} else if err := d.etcdHealthy(ctx); err != nil {
		return fmt.Errorf("after: %w", err)
	}
	if err := d.kubernetesHealthy(ctx); err != nil {
		return fmt.Errorf("after: %w", err)
	}
	return nil
}

// drain cordons node and evicts its pods through the Kubernetes API
// (package drain: PodDisruptionBudgets honoured, Options.DrainTimeout at
// most), recorded in the action log; without Options.Kube it does
// nothing.
func (d *deployer) drain(ctx context.Context, node string) error {
	if d.opts.Kube == nil {
		return nil
	}
	return d.opts.Log.Record("kubernetes", node, "drain", func() error {
		kc, err := d.opts.Kube(ctx)
		if err != nil {
			return err
		}
		return drain.Drain(ctx, kc, node, drain.Options{Timeout: d.opts.DrainTimeout})
	})
}

// uncordon makes node schedulable again, recorded in the action log.
func (d *deployer) uncordon(ctx context.Context, node string) error {
	if d.opts.Kube == nil {
		return nil
	}
	return d.opts.Log.Record("kubernetes", node, "uncordon", func() error {
		kc, err := d.opts.Kube(ctx)
		if err != nil {
			return err
		}
		return drain.Uncordon(ctx, kc, node)
	})
}

// etcdHealthy waits until etcd runs on every control plane and its
// member list is consistent (etcdConsistent).
func (d *deployer) etcdHealthy(ctx context.Context) error {
	for _, n := range d.cluster.ControlPlanes() {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, d.opts.Timeout, true, func(ctx context.Context) (bool, error) {
			ok, err := d.etcdRunning(ctx, n)
			return err == nil && ok, nil
		})
		if err != nil {
			return fmt.Errorf("etcd does not run on %s: %w", n.Hostname, err)
		}
	}
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, d.opts.Timeout, true, func(ctx context.Context) (bool, error) {
		err := d.etcdConsistent(ctx)
		if stray := (*strayMember)(nil); errors.As(err, &stray) {
			return false, stray.error
		}
		if err != nil && ctx.Err() == nil {
			last = err // not the wait's own deadline
		}
		return err == nil, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (after %s)", last, d.opts.Timeout)
	}
	return err
}
