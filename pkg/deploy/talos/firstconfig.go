package talos

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"time"

	"github.com/siderolabs/crypto/x509"
	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	talosclient "github.com/siderolabs/talos/pkg/machinery/client"
	corev1 "k8s.io/api/core/v1"

	model "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
)

// Delivery hands a VM its first machine config out of band, so that the
// config, which holds the cluster's CA keys, reaches only that VM: deploy
// passes the Proxmox layer's, which attaches it as a config ISO that
// Talos reads at boot (see proxmox.Delivery and
// talos.Cluster.BootSchematic).
type Delivery interface {
	// Deliver makes m boot with config.
	Deliver(ctx context.Context, m model.Machine, config []byte) error
	// Cleanup removes what Deliver left once the node runs its config;
	// it writes nothing when there is nothing to remove.
	Cleanup(ctx context.Context, m model.Machine) error
}

// How a first config reaches a node.
const (
	byDelivery    = "delivery"
	byFingerprint = "fingerprint"
)

// firstConfig decides how each node that does not answer with the
// cluster's CA gets its first config, or refuses.
//
// A node known to be configured (the action log shows its config
// applied, it is an etcd member, or Kubernetes has its Node) gets
// nothing unless Options.Reinstall names it: what answers at its address
// without the cluster's CA is not that node, or not the node as it was.
// Otherwise a node with a VM gets its config through Options.Delivery,
// and a node without one (bare metal) over the network only to the
// maintenance-mode certificate Options.Fingerprints pins for it. Without
// either, deploy refuses: sending the config to whatever answers would
// hand the cluster's keys to anyone on the LAN.
func (d *deployer) firstConfig(ctx context.Context, p *Plan, pending []*model.Node, anyConfigured bool) {
	if len(pending) == 0 {
		return
	}
	known := d.knownConfigured(ctx, anyConfigured)
	p.configureBy = map[*model.Node]string{}
	for _, n := range pending {
		addr := d.opts.Address(n)
		if why, ok := known[n.Hostname]; ok && !slices.Contains(d.opts.Reinstall, n.Hostname) {
			p.Refused = append(p.Refused, fmt.Sprintf("%s is known to be configured (%s), but the machine at %s does not answer with the cluster's CA: deploy sends it nothing, as a machine answering in its place would get the cluster's keys. If the node is down or rebooting, start it and run deploy again; if its disk was wiped to reinstall it, run deploy --reinstall %s",
				n.Hostname, why, addr, n.Hostname))
			continue
		}
		switch {
		case n.Machine != nil && d.opts.Delivery != nil:
			p.Configure = append(p.Configure, n)
			p.configureBy[n] = byDelivery
		case d.opts.Fingerprints[n.Hostname] != "":
			p.Configure = append(p.Configure, n)
			p.configureBy[n] = byFingerprint
		case n.Machine != nil:
			p.Refused = append(p.Refused, fmt.Sprintf("%s: VM %s would get its first config over the LAN from whatever answers at %s; deploy delivers it through the Proxmox API instead, which this run has no access to", n.Hostname, n.Machine.MachineName(), addr))
		default:
			p.Refused = append(p.Refused, fmt.Sprintf("%s has no VM, so its first config (the cluster's keys) would go over the LAN to whatever answers at %s: read the certificate fingerprint Talos prints on the node's console in maintenance mode (\"server certificate issued\") and run deploy --talos-fingerprint %s=<fingerprint>",
				n.Hostname, addr, n.Hostname))
		}
	}
}

// knownConfigured names the nodes known to have been configured, with
// the evidence: the action log, etcd's members, Kubernetes' Nodes. The
// last two are read only through machines that answer with the
// cluster's CA.
func (d *deployer) knownConfigured(ctx context.Context, anyConfigured bool) map[string]string {
	known := map[string]string{}
	for _, e := range d.opts.History {
		if e.Layer != "talos" || e.Result != actionlog.OK {
			continue
		}
		switch e.Action {
		case "apply-config", "deliver-config", "wait-secure-api":
			known[e.Target] = "the action log shows it configured on " + e.Time.Format(time.DateOnly)
		case "reset":
			delete(known, e.Target) // wiped: it is new again
		}
	}
	if !anyConfigured {
		return known
	}
	if members, err := d.etcdMembers(ctx); err == nil {
		for _, m := range members {
			known[m.Hostname] = "an etcd member"
		}
	}
	if d.opts.Kube != nil {
		if kc, err := d.opts.Kube(ctx); err == nil {
			var nodes corev1.NodeList
			if kc.List(ctx, &nodes) == nil {
				for _, n := range nodes.Items {
					if _, ok := known[n.Name]; !ok {
						known[n.Name] = "Kubernetes has its Node"
					}
				}
			}
		}
	}
	return known
}

// sendFirstConfig hands n its first config the way the plan chose.
func (d *deployer) sendFirstConfig(ctx context.Context, how string, n *model.Node, cfg []byte) error {
	if how == byDelivery {
		return d.opts.Log.Record("talos", n.Hostname, "deliver-config", func() error {
			return d.opts.Delivery.Deliver(ctx, n.Machine, cfg)
		})
	}
	return d.opts.Log.Record("talos", n.Hostname, "apply-config", func() error {
		fp, err := x509.ParseFingerprint(d.opts.Fingerprints[n.Hostname])
		if err != nil {
			return fmt.Errorf("--talos-fingerprint %s: %w (use the base64 fingerprint Talos prints)", n.Hostname, err)
		}
		c, err := talosclient.New(ctx, talosclient.WithEndpoints(d.opts.Address(n)),
			talosclient.WithTLSConfig(&tls.Config{
				InsecureSkipVerify: true, //nolint:gosec // the certificate is checked against the pinned fingerprint below, as talosctl --cert-fingerprint does
				VerifyConnection:   x509.MatchSPKIFingerprints(fp),
			}))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.ApplyConfiguration(ctx, &machine.ApplyConfigurationRequest{Data: cfg, Mode: machine.ApplyConfigurationRequest_AUTO})
		return err
	})
}
