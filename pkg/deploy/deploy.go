package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/funoffshore/homelab/constructs/flux"
	proxmodel "github.com/funoffshore/homelab/constructs/proxmox"
	talosmodel "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
	fluxdeploy "github.com/funoffshore/homelab/pkg/deploy/flux"
	pvedeploy "github.com/funoffshore/homelab/pkg/deploy/proxmox"
	talosdeploy "github.com/funoffshore/homelab/pkg/deploy/talos"
	"github.com/funoffshore/homelab/pkg/lab"
)

// Target is the part of the tree the deployer acts on, and the rendered files.
type Target struct {
	// Inventory is the hypervisor layer's desired state, read back from
	// the rendered cluster/proxmox/inventory.yaml: what Git reviews.
	Inventory proxmodel.Inventory
	Cluster   *talosmodel.Cluster
	// Components and Sync are gotk-components.yaml and gotk-sync.yaml.
	Components, Sync []byte
	// Files is the whole rendered tree, by path below the output root.
	Files map[string][]byte
}

// FindTarget returns what to deploy: the Proxmox inventory, the lab's
// Talos cluster, and the Flux install and sync files of its rendered tree.
func FindTarget(l *lab.Lab, files map[string][]byte) (Target, error) {
	// The files are found through the constructs, so a homelab with other
	// output directories deploys the same.
	t := Target{Cluster: l.Cluster, Files: files}
	var inventory []byte
	if l.Datacenter != nil {
		inventory = files[l.Datacenter.InventoryPath()]
	}
	if inventory != nil {
		inv, err := proxmodel.ParseInventory(inventory)
		if err != nil {
			return t, err
		}
		t.Inventory = inv
	}
	if in := flux.InstallOf(l.Tree()); in != nil {
		t.Components = files[in.File()]
	}
	if s := flux.SyncOf(l.Tree()); s != nil {
		t.Sync = files[s.File()]
	}
	if inventory == nil || t.Cluster == nil || t.Components == nil || t.Sync == nil {
		return t, errors.New("the homelab has no Proxmox datacenter, Talos cluster or Flux sync to deploy")
	}
	return t, nil
}

// Inputs are the credentials and connections of a deploy.
type Inputs struct {
	Proxmox pvedeploy.Options
	Talos   talosdeploy.Options
	// Bundle is the decrypted Talos secrets bundle.
	Bundle *secrets.Bundle
	// AgeKey and GitCredentials go to Flux (see fluxdeploy.Inputs).
	AgeKey         string
	GitCredentials []byte
	// Kube returns a client for the cluster's API from its kubeconfig.
	Kube func(kubeconfig []byte) (client.Client, error)
	// FluxReadyTimeout bounds the wait for Flux. Default: 10m.
	FluxReadyTimeout time.Duration
	// Log records every action.
	Log *actionlog.Log
}

// Report is a plan per layer.
type Report struct {
	Proxmox *pvedeploy.Plan
	Talos   *talosdeploy.Plan
	// Flux lists the Flux objects to apply; FluxNote says why the list is
	// not known yet (no cluster to ask).
	Flux     []fluxdeploy.Change
	FluxNote string
	// Applied is the Git revision Flux last applied ("main@sha1:..."),
	// empty before Flux applied any: the base of the Kubernetes layer's
	// review (homelab diff against it).
	Applied string
}

// Pending counts the changes.
func (r *Report) Pending() int {
	n := len(r.Proxmox.Changes()) + len(r.Talos.Changes()) + len(r.Flux)
	if r.FluxNote != "" {
		n++
	}
	return n
}

// Print writes the plan, layer by layer.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintln(w, "proxmox:")
	for _, c := range r.Proxmox.Changes() {
		fmt.Fprintln(w, "  "+c.String())
	}
	for _, u := range append(slices.Clone(r.Proxmox.Notes), r.Proxmox.Unmanaged...) {
		fmt.Fprintln(w, "  note: "+u)
	}
	fmt.Fprintln(w, "talos:")
	for _, c := range r.Talos.Changes() {
		fmt.Fprintln(w, "  "+c)
	}
	for _, u := range r.Talos.Update {
		fmt.Fprintf(w, "  config diff of %s (secrets redacted):\n", u.Node.Hostname)
		for _, l := range strings.Split(strings.TrimRight(u.Diff, "\n"), "\n") {
			fmt.Fprintln(w, "    "+l)
		}
	}
	for _, d := range r.Talos.Drift {
		fmt.Fprintln(w, "  note: "+d)
	}
	fmt.Fprintln(w, "flux:")
	if r.FluxNote != "" {
		fmt.Fprintln(w, "  "+r.FluxNote)
	}
	for _, c := range r.Flux {
		fmt.Fprintf(w, "  %s %s\n", c.Action, c.Object)
	}
	fmt.Fprintf(w, "%d change(s) pending\n", r.Pending())
}

func (in Inputs) fluxInputs(t Target) fluxdeploy.Inputs {
	return fluxdeploy.Inputs{Components: t.Components, Sync: t.Sync, AgeKey: in.AgeKey, GitCredentials: in.GitCredentials}
}

// Plan reads the live state of every layer and returns what Deploy would change.
func Plan(ctx context.Context, t Target, in Inputs) (*Report, error) {
	in.Proxmox.Log, in.Talos.Log = nil, nil
	in.Proxmox.Owner = cmp.Or(in.Proxmox.Owner, t.Cluster.Name)
	if in.Talos.Delivery == nil {
		// First configs reach the VMs through the Proxmox API only.
		in.Talos.Delivery = pvedeploy.NewDelivery(t.Inventory, in.Proxmox)
	}
	r := &Report{}
	var err error
	if r.Proxmox, err = pvedeploy.NewPlan(ctx, t.Inventory, in.Proxmox); err != nil {
		return nil, err
	}
	if in.Talos.Kube == nil {
		in.Talos.Kube = in.kube(t)
	}
	if r.Talos, err = talosdeploy.NewPlan(ctx, t.Cluster, in.Bundle, in.Talos); err != nil {
		return nil, err
	}
	if len(r.Talos.Changes()) > 0 {
		r.FluxNote = "bootstrap Flux once the Kubernetes API answers (gotk-components, sops-age, Git credentials, gotk-sync)"
		return r, nil
	}
	res, err := talosdeploy.ClientConfigs(ctx, t.Cluster, in.Bundle, in.Talos)
	if err != nil {
		return nil, err
	}
	kc, err := in.Kube(res.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if len(r.Talos.Kubernetes) == 0 && len(r.Talos.Refused) == 0 {
		// The configs agree with the model: what Kubernetes reports
		// should too (a kubelet that did not restart shows here).
		drift, err := talosdeploy.KubernetesDrift(ctx, kc, t.Cluster)
		if err != nil {
			return nil, err
		}
		r.Talos.Drift = append(r.Talos.Drift, drift...)
	}
	if err := SecretsPreflight(t.Files, in.AgeKey, "cluster"); err != nil {
		return nil, err
	}
	if r.Flux, err = fluxdeploy.Bootstrap(ctx, kc, in.fluxInputs(t), fluxdeploy.Options{DryRun: true}); err != nil {
		return nil, err
	}
	if r.Applied, err = fluxdeploy.AppliedRevision(ctx, kc); err != nil {
		return nil, err
	}
	return r, nil
}

// Deploy carries out every layer in order, printing each step with its
// time to progress, and returns the Talos client configs to save.
func Deploy(ctx context.Context, t Target, in Inputs, progress io.Writer) (*talosdeploy.Result, error) {
	// Before anything changes: Flux, at the end, must decrypt what it applies.
	if err := SecretsPreflight(t.Files, in.AgeKey, "cluster"); err != nil {
		return nil, err
	}
	in.Proxmox.Log, in.Talos.Log = in.Log, in.Log
	in.Proxmox.Owner = cmp.Or(in.Proxmox.Owner, t.Cluster.Name)
	if in.Talos.Delivery == nil {
		// First configs reach the VMs through the Proxmox API only.
		in.Talos.Delivery = pvedeploy.NewDelivery(t.Inventory, in.Proxmox)
	}
	step := func(name string, fn func() error) error {
		start := time.Now()
		fmt.Fprintf(progress, "%s ...\n", name)
		if err := fn(); err != nil {
			fmt.Fprintf(progress, "%s failed after %s\n", name, time.Since(start).Round(time.Millisecond))
			return err
		}
		fmt.Fprintf(progress, "%s done in %s\n", name, time.Since(start).Round(time.Millisecond))
		return nil
	}
	var vms *pvedeploy.Plan
	err := step("proxmox: ISOs and VMs", func() error {
		var err error
		if vms, err = pvedeploy.NewPlan(ctx, t.Inventory, in.Proxmox); err != nil {
			return err
		}
		return vms.Provision(ctx)
	})
	if err != nil {
		return nil, err
	}
	var res *talosdeploy.Result
	if in.Talos.Kube == nil {
		in.Talos.Kube = in.kube(t)
	}
	err = step("talos: machine configs, etcd bootstrap, upgrades, removals", func() error {
		p, err := talosdeploy.NewPlan(ctx, t.Cluster, in.Bundle, in.Talos)
		if err != nil {
			return err
		}
		res, err = p.Apply(ctx, t.Cluster, in.Bundle, in.Talos)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(vms.Removals) > 0 {
		// After the Talos layer took their nodes out of the cluster.
		if err := step("proxmox: prune", func() error { return vms.Prune(ctx) }); err != nil {
			return nil, err
		}
	}
	err = step("flux: bootstrap", func() error {
		kc, err := in.Kube(res.Kubeconfig)
		if err != nil {
			return err
		}
		_, err = fluxdeploy.Bootstrap(ctx, kc, in.fluxInputs(t), fluxdeploy.Options{Log: in.Log, ReadyTimeout: in.FluxReadyTimeout})
		return err
	})
	return res, err
}

// kube returns the Talos layer's way to the cluster's Kubernetes API: the
// admin kubeconfig Talos hands out, fetched on first use (only day-2
// steps ask, once the cluster runs) and kept. Nil without Inputs.Kube.
func (in Inputs) kube(t Target) func(ctx context.Context) (client.Client, error) {
	if in.Kube == nil {
		return nil
	}
	var c client.Client
	return func(ctx context.Context) (client.Client, error) {
		if c != nil {
			return c, nil
		}
		res, err := talosdeploy.ClientConfigs(ctx, t.Cluster, in.Bundle, in.Talos)
		if err != nil {
			return nil, err
		}
		if c, err = in.Kube(res.Kubeconfig); err != nil {
			return nil, err
		}
		return c, nil
	}
}
