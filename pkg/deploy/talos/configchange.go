package talos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cosi-project/runtime/pkg/safe"
	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	talosclient "github.com/siderolabs/talos/pkg/machinery/client"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configdiff"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	configres "github.com/siderolabs/talos/pkg/machinery/resources/config"
	"k8s.io/apimachinery/pkg/util/wait"

	model "github.com/funoffshore/homelab/constructs/talos"
)

// ConfigChange is a configured node whose running machine config differs
// from the model's.
type ConfigChange struct {
	Node *model.Node
	// Diff is the semantic difference of the configs, secrets redacted.
	Diff string
	// Reboot is the node's own answer (a dry-run apply) to whether the
	// change needs a reboot.
	Reboot bool

	want   config.Provider
	config []byte // want, encoded
}

func (c ConfigChange) String() string {
	how := "no reboot"
	switch {
	case c.Reboot && c.Node.Role == model.ControlPlane:
		how = "reboots: staged, etcd checked before and after, rebooted"
	case c.Reboot:
		how = "reboots: staged, drained, rebooted, uncordoned"
	}
	return fmt.Sprintf("%s: apply the changed %s config (%s; one node at a time, waiting for it to answer and for etcd)", c.Node.Hostname, c.Node.Role, how)
}

// runningConfig reads the machine config n runs (its active
// MachineConfig resource).
func (d *deployer) runningConfig(ctx context.Context, n *model.Node) (config.Provider, error) {
	return onNode(ctx, d, n, func(c *talosclient.Client) (config.Provider, error) { return runningConfigOf(ctx, c) })
}

// runningConfigOf reads the machine config the node of c runs.
func runningConfigOf(ctx context.Context, c *talosclient.Client) (config.Provider, error) {
	running, err := safe.StateGetByID[*configres.MachineConfig](ctx, c.COSI, configres.ActiveID)
	if err != nil {
		return nil, fmt.Errorf("reading its machine config: %w", err)
	}
	return running.Provider(), nil
}

// configChange compares the config n runs with want, and asks the node
// (dry run, through c) whether applying it reboots. It returns nil when
// they agree.
func configChange(ctx context.Context, c *talosclient.Client, n *model.Node, running, want config.Provider) (*ConfigChange, error) {
	diff, err := configdiff.DiffConfigs(running.RedactSecrets("REDACTED"), want.RedactSecrets("REDACTED"))
	if err != nil {
		return nil, fmt.Errorf("comparing configs: %w", err)
	}
	if strings.TrimSpace(diff) == "" {
		return nil, nil
	}
	data, err := want.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled))
	if err != nil {
		return nil, err
	}
	resp, err := c.ApplyConfiguration(ctx, &machine.ApplyConfigurationRequest{Data: data, Mode: machine.ApplyConfigurationRequest_AUTO, DryRun: true})
	if err != nil {
		return nil, fmt.Errorf("dry-run apply: %w", err)
	}
	reboot := true // when the node does not say, assume the disruptive case
	for _, m := range resp.GetMessages() {
		if strings.Contains(m.GetModeDetails(), "without a reboot") {
			reboot = false
		}
	}
	return &ConfigChange{Node: n, Diff: diff, Reboot: reboot, want: want, config: data}, nil
}

// applyChanges applies each changed config, one node at a time in the
// plan's order (control planes first), in the least disruptive mode the
// change allows: live (NO_REBOOT) when the node said it needs no reboot;
// otherwise staged, then rebooted by deploy, with a worker drained first
// and uncordoned after and etcd checked on every control plane before
// and after a control plane. After each node it waits until the node
// runs the new config and, on a control plane, etcd runs again; it stops
// at the first failure, with the nodes after it untouched (a rerun plans
// and resumes from there).
func (d *deployer) applyChanges(ctx context.Context, changes []ConfigChange) error {
	for i, ch := range changes {
		n := ch.Node
		err := d.opts.Log.Record("talos", n.Hostname, "update-config", func() error { return d.applyChange(ctx, ch) })
		if err != nil {
			var rest []*model.Node
			for _, later := range changes[i+1:] {
				rest = append(rest, later.Node)
			}
			cordoned := ""
			if ch.Reboot && n.Role != model.ControlPlane && d.opts.Kube != nil {
				cordoned = fmt.Sprintf(" (%s may stay cordoned until then)", n.Hostname)
			}
			return errors.Join(fmt.Errorf("talos %s: applying the changed config: %w", n.Hostname, err),
				fmt.Errorf("stopped there; not yet changed: %s; the nodes before it run the new config; fix the cause and run deploy again to resume%s", hostnames(rest), cordoned))
		}
	}
	return nil
}

func (d *deployer) applyChange(ctx context.Context, ch ConfigChange) error {
	n := ch.Node
	cp := n.Role == model.ControlPlane
	mode := machine.ApplyConfigurationRequest_NO_REBOOT
	if ch.Reboot {
		mode = machine.ApplyConfigurationRequest_STAGED
		if err := d.beforeDown(ctx, n); err != nil {
			return err
		}
	}
	c, err := d.secure(ctx, n)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ApplyConfiguration(ctx, &machine.ApplyConfigurationRequest{Data: ch.config, Mode: mode}); err != nil {
		return err
	}
	if ch.Reboot {
		if err := d.opts.Log.Record("talos", n.Hostname, "reboot", func() error { return c.Reboot(ctx) }); err != nil {
			return fmt.Errorf("reboot into the staged config: %w", err)
		}
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, d.opts.Timeout, true, func(ctx context.Context) (bool, error) {
		running, err := d.runningConfig(ctx, n)
		if err != nil {
			return false, nil
		}
		if diff, err := configdiff.DiffConfigs(running, ch.want); err != nil || strings.TrimSpace(diff) != "" {
			return false, nil
		}
		if !cp {
			return true, nil
		}
		ok, err := d.etcdRunning(ctx, n)
		return err == nil && ok, nil
	})
	if err != nil {
		return fmt.Errorf("the node does not run the new config within %s: %w", d.opts.Timeout, err)
	}
	if ch.Reboot {
		return d.afterDown(ctx, n)
	}
	return nil
}

// hostnames lists nodes for a message ("none" for none).
func hostnames(nodes []*model.Node) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Hostname
	}
	return orNone(names)
}
