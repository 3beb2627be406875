// Package review compares two renderings of a homelab — the tree as Git
// holds it at a ref and the tree the working copy synthesizes — and says,
// layer by layer, what a merge would change: the Proxmox VMs, each Talos
// node's machine config and what applying it takes, the Kubernetes
// objects grouped by the Flux Kustomization that applies them, and for a
// HelmRelease whose chart or values change, the objects the chart renders
// on both sides. Hazards (what Flux would delete that holds data, changes
// the API server refuses, a change that takes the only control plane
// down) come first. Compare holds no I/O; the command line reads the two
// sides.
package review

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/pkg/helmrender"
	"github.com/funoffshore/homelab/pkg/manifest"
	"github.com/funoffshore/homelab/pkg/oracle/talosapply"
)

// Options configure Compare.
type Options struct {
	// RepoDir is where the rendered tree sits in Git ("cluster", the
	// default): the prefix of the Flux Kustomizations' paths.
	RepoDir string
	// ChartFile returns the path of the chart package name at version,
	// or "" when it is not at hand (the rendered chart diff is then left
	// out, with a note). Nil: no chart is rendered.
	ChartFile func(name, version string) string
}

// Report is the review of a change.
type Report struct {
	// Hazards come first: what to look at before merging.
	Hazards []Hazard
	// Proxmox are the VMs' changes, one line each.
	Proxmox []Change
	// Talos are the machine-config changes, per file.
	Talos []TalosChange
	// Kubernetes are the object changes, by Flux Kustomization.
	Kubernetes []Group
	// Charts are the rendered diffs of the HelmReleases added, changed or
	// removed.
	Charts []ChartDiff
}

// Hazard is a change that loses data, fails, or takes the cluster down.
type Hazard struct {
	// Layer is "proxmox", "talos" or "kubernetes"; Object what it is
	// about; What what happens and what to do.
	Layer, Object, What string
}

// Change is one added (+), changed (~) or removed (-) thing.
type Change struct {
	Op     string // "+", "~", "-"
	Object string
	// Detail is a one-line summary; Diff a unified diff of its YAML
	// (secret values redacted).
	Detail, Diff string
}

// TalosChange is a change of one machine-config file and the nodes it
// reaches.
type TalosChange struct {
	File  string
	Nodes []string
	// Takes is what applying it takes ("Talos upgrade ...").
	Takes string
	Diff  string
}

// Group is the changes a Flux Kustomization applies.
type Group struct {
	Kustomization string
	Changes       []Change
}

// ChartDiff is what a HelmRelease's chart renders differently.
type ChartDiff struct {
	Release  string
	From, To string
	Changes  []Change
	// Note says why nothing was rendered.
	Note string
}

// Empty is true when the two sides render the same.
func (r *Report) Empty() bool {
	return len(r.Hazards)+len(r.Proxmox)+len(r.Talos)+len(r.Kubernetes)+len(r.Charts) == 0
}

// Compare reviews the change from before to after: both the files of a
// rendered tree, by path below the output root ("kubernetes/apps/echo.yaml").
func Compare(before, after map[string][]byte, opts Options) (*Report, error) {
	opts.RepoDir = cmp.Or(opts.RepoDir, "cluster")
	r := &Report{}
	if err := r.proxmox(before["proxmox/inventory.yaml"], after["proxmox/inventory.yaml"]); err != nil {
		return nil, err
	}
	if err := r.talos(before, after); err != nil {
		return nil, err
	}
	b, err := objects(before)
	if err != nil {
		return nil, fmt.Errorf("before: %w", err)
	}
	a, err := objects(after)
	if err != nil {
		return nil, fmt.Errorf("after: %w", err)
	}
	r.kubernetes(b, a, opts)
	slices.SortStableFunc(r.Hazards, func(x, y Hazard) int {
		return cmp.Or(cmp.Compare(layerOrder(x.Layer), layerOrder(y.Layer)), cmp.Compare(x.Object, y.Object), cmp.Compare(x.What, y.What))
	})
	return r, nil
}

func layerOrder(l string) int { return slices.Index([]string{"proxmox", "talos", "kubernetes"}, l) }

func (r *Report) hazard(layer, object, format string, args ...any) {
	r.Hazards = append(r.Hazards, Hazard{Layer: layer, Object: object, What: fmt.Sprintf(format, args...)})
}

// proxmox compares the inventories' VMs by name.
func (r *Report) proxmox(before, after []byte) error {
	parse := func(data []byte) (map[string]proxmox.InventoryVM, error) {
		out := map[string]proxmox.InventoryVM{}
		if data == nil {
			return out, nil
		}
		inv, err := proxmox.ParseInventory(data)
		if err != nil {
			return nil, err
		}
		for _, v := range inv.VMs {
			out[v.Name] = v
		}
		return out, nil
	}
	b, err := parse(before)
	if err != nil {
		return fmt.Errorf("before: proxmox/inventory.yaml: %w", err)
	}
	a, err := parse(after)
	if err != nil {
		return fmt.Errorf("after: proxmox/inventory.yaml: %w", err)
	}
	for _, name := range sortedKeys(b, a) {
		old, had := b[name]
		v, has := a[name]
		obj := fmt.Sprintf("vm %d %s", cmp.Or(v.VMID, old.VMID), name)
		switch {
		case !had:
			r.Proxmox = append(r.Proxmox, Change{Op: "+", Object: obj, Detail: fmt.Sprintf("created on %s: %d cores, %d MiB, %d GiB disk", v.Host, v.Cores, v.MemoryMiB, v.DiskGiB)})
		case !has:
			r.Proxmox = append(r.Proxmox, Change{Op: "-", Object: obj, Detail: "deleted from " + old.Host})
			r.hazard("proxmox", obj, "deploy destroys the VM on %s and its disks, with whatever the node kept there (Longhorn replicas, local volumes); drain and remove the node first (docs/operations.md)", old.Host)
		default:
			var what []string
			if old.Host != v.Host {
				what = append(what, fmt.Sprintf("host %s -> %s", old.Host, v.Host))
				r.hazard("proxmox", obj, "moves from %s to %s: the VM is made anew on %s, its disks are not carried over", old.Host, v.Host, v.Host)
			}
			if old.Cores != v.Cores || old.MemoryMiB != v.MemoryMiB {
				what = append(what, fmt.Sprintf("%d -> %d cores, %d -> %d MiB (applied at the VM's next start: restart it)", old.Cores, v.Cores, old.MemoryMiB, v.MemoryMiB))
			}
			switch {
			case v.DiskGiB > old.DiskGiB:
				what = append(what, fmt.Sprintf("disk %d -> %d GiB (grown online)", old.DiskGiB, v.DiskGiB))
			case v.DiskGiB < old.DiskGiB:
				what = append(what, fmt.Sprintf("disk %d -> %d GiB", old.DiskGiB, v.DiskGiB))
				r.hazard("proxmox", obj, "disk %d -> %d GiB: Proxmox cannot shrink a disk; keep the size or replace the node", old.DiskGiB, v.DiskGiB)
			}
			var keys []string
			for _, k := range sortedKeys(old.Config, v.Config) {
				if old.Config[k] != v.Config[k] && k != "cores" && k != "memory" {
					keys = append(keys, k)
				}
			}
			if len(keys) > 0 {
				what = append(what, "config "+strings.Join(keys, ", "))
			}
			if old.BootISO != v.BootISO {
				what = append(what, "boot ISO "+path.Base(v.BootISO)+" (used when the VM is made anew)")
			}
			if len(what) > 0 {
				r.Proxmox = append(r.Proxmox, Change{Op: "~", Object: obj, Detail: strings.Join(what, "; ")})
			}
		}
	}
	return nil
}

// talconfig is what the review reads of talos/talconfig.yaml.
type talconfig struct {
	TalosVersion      string `json:"talosVersion"`
	KubernetesVersion string `json:"kubernetesVersion"`
	Nodes             []struct {
		Hostname     string `json:"hostname"`
		ControlPlane bool   `json:"controlPlane"`
	} `json:"nodes"`
}

// talos reviews the role configs: every node of the role takes the change.
func (r *Report) talos(before, after map[string][]byte) error {
	var bt, at talconfig
	if err := yaml.Unmarshal(before["talos/talconfig.yaml"], &bt); err != nil {
		return fmt.Errorf("before: talos/talconfig.yaml: %w", err)
	}
	if err := yaml.Unmarshal(after["talos/talconfig.yaml"], &at); err != nil {
		return fmt.Errorf("after: talos/talconfig.yaml: %w", err)
	}
	role := func(cp bool) string {
		if cp {
			return "control plane"
		}
		return "worker"
	}
	had := map[string]bool{}
	for _, n := range bt.Nodes {
		had[n.Hostname] = true
	}
	has := map[string]bool{}
	for _, n := range at.Nodes {
		has[n.Hostname] = true
		if !had[n.Hostname] && len(bt.Nodes) > 0 {
			r.Talos = append(r.Talos, TalosChange{File: "talos/talconfig.yaml", Nodes: []string{n.Hostname},
				Takes: "a new " + role(n.ControlPlane) + ": deploy applies its config and it joins the cluster"})
		}
	}
	for _, n := range bt.Nodes {
		if !has[n.Hostname] {
			r.Talos = append(r.Talos, TalosChange{File: "talos/talconfig.yaml", Nodes: []string{n.Hostname},
				Takes: "a " + role(n.ControlPlane) + " removed: deploy drains it, takes it out of the cluster (and etcd) and resets it"})
		}
	}
	for _, f := range []struct {
		file string
		cp   bool
	}{{"talos/controlplane.yaml", true}, {"talos/worker.yaml", false}} {
		old, now := before[f.file], after[f.file]
		if string(old) == string(now) {
			continue
		}
		var nodes []string
		for _, n := range at.Nodes {
			if n.ControlPlane == f.cp {
				nodes = append(nodes, n.Hostname)
			}
		}
		takes, reboots := applies(old, now)
		var ups []string
		if bt.TalosVersion != at.TalosVersion && bt.TalosVersion != "" {
			ups = append(ups, fmt.Sprintf("a Talos upgrade %s -> %s (each node reboots into it)", bt.TalosVersion, at.TalosVersion))
		}
		if bt.KubernetesVersion != at.KubernetesVersion && bt.KubernetesVersion != "" {
			ups = append(ups, fmt.Sprintf("a Kubernetes upgrade %s -> %s", bt.KubernetesVersion, at.KubernetesVersion))
		}
		if len(ups) > 0 {
			takes, reboots = strings.Join(ups, " and "), true
		}
		if old == nil {
			takes, reboots = "new nodes of this role: made by deploy", false
		}
		r.Talos = append(r.Talos, TalosChange{File: f.file, Nodes: nodes, Takes: takes, Diff: unified(f.file, redactText(string(old)), redactText(string(now)))})
		if f.cp && reboots && len(nodes) == 1 {
			r.hazard("talos", nodes[0], "the only control plane reboots for the change: the Kubernetes API and etcd are down meanwhile; run 3 control planes, or merge when an outage is fine")
		}
	}
	return nil
}

// applies says what a node takes to apply the change from old to now, as
// Talos' auto mode decides it (pkg/oracle/talosapply), and whether it
// reboots.
func applies(old, now []byte) (string, bool) {
	if old == nil {
		return "", false
	}
	a, errA := configloader.NewFromBytes(old)
	b, errB := configloader.NewFromBytes(now)
	if err := cmp.Or(errA, errB); err != nil {
		return fmt.Sprintf("unknown: the config does not load (%v)", err), true
	}
	live, _, err := talosapply.Immediate(a, b)
	switch {
	case err != nil:
		return fmt.Sprintf("unknown (%v)", err), true
	case live:
		return "applied live, no reboot (Talos " + talosapply.TalosVersion + "'s rule); deploy goes node by node", false
	default:
		return "a reboot of each node, one at a time (staged, workers drained first): the change touches what Talos " + talosapply.TalosVersion + " applies only at boot", true
	}
}

// object is a decoded manifest and the file it came from.
type object struct {
	u    *unstructured.Unstructured
	file string
}

// objects decodes every Kubernetes manifest below kubernetes/, keyed by
// group/Kind namespace/name; the kustomize files that list them are left
// out.
func objects(files map[string][]byte) (map[string]object, error) {
	out := map[string]object{}
	for p, data := range files {
		if !strings.HasPrefix(p, "kubernetes/") || path.Base(p) == "kustomization.yaml" {
			continue
		}
		objs, err := manifest.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, o := range objs {
			if o.GetKind() == "" {
				continue
			}
			// SOPS' own metadata changes with every encryption.
			unstructured.RemoveNestedField(o.Object, "sops")
			out[key(o)] = object{u: o, file: p}
		}
	}
	return out, nil
}

func key(o *unstructured.Unstructured) string {
	id := o.GetKind() + " "
	if g := o.GroupVersionKind().Group; g != "" {
		id = o.GetKind() + "." + g + " "
	}
	if ns := o.GetNamespace(); ns != "" {
		return id + ns + "/" + o.GetName()
	}
	return id + o.GetName()
}

// name is an object's kind and name for messages.
func name(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return o.GetKind() + " " + ns + "/" + o.GetName()
	}
	return o.GetKind() + " " + o.GetName()
}

// kustomizations are the Flux Kustomizations among objs.
func kustomizations(objs map[string]object, repoDir string) []manifest.FluxKustomization {
	var us []*unstructured.Unstructured
	for _, k := range slices.Sorted(maps.Keys(objs)) {
		us = append(us, objs[k].u)
	}
	return manifest.FluxKustomizations(us, repoDir)
}

// owner is the Kustomization applying file, or a stand-in naming none.
func owner(ks []manifest.FluxKustomization, file string) (manifest.FluxKustomization, bool) {
	if k, ok := manifest.Owner(ks, file); ok {
		return k, true
	}
	return manifest.FluxKustomization{ID: "(applied by no Flux Kustomization)"}, false
}

// kubernetes compares the objects, groups them by Kustomization, renders
// changed charts and finds the hazards.
func (r *Report) kubernetes(before, after map[string]object, opts Options) {
	ksBefore, ksAfter := kustomizations(before, opts.RepoDir), kustomizations(after, opts.RepoDir)
	groups := map[string][]Change{}
	for _, k := range sortedKeys(before, after) {
		b, had := before[k]
		a, has := after[k]
		switch {
		case !had:
			ks, _ := owner(ksAfter, a.file)
			groups[ks.ID] = append(groups[ks.ID], Change{Op: "+", Object: name(a.u)})
			if a.u.GetKind() == "HelmRelease" {
				r.chart(nil, a.u, opts)
			}
		case !has:
			ks, found := owner(ksBefore, b.file)
			detail := ""
			if found && !ks.Prune {
				detail = "left in the cluster (prune is off): Flux stops managing it"
			}
			groups[ks.ID] = append(groups[ks.ID], Change{Op: "-", Object: name(b.u), Detail: detail})
			if !found || ks.Prune {
				r.removalHazards(b.u, after)
				if b.u.GetKind() == "HelmRelease" {
					r.chart(b.u, nil, opts)
				}
			}
		default:
			if equal(b.u, a.u) {
				continue
			}
			ks, _ := owner(ksAfter, a.file)
			groups[ks.ID] = append(groups[ks.ID], Change{Op: "~", Object: name(a.u), Diff: unified(name(a.u), objectYAML(b.u), objectYAML(a.u))})
			r.changeHazards(b.u, a.u)
			if a.u.GetKind() == "HelmRelease" {
				r.chart(b.u, a.u, opts)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(groups)) {
		r.Kubernetes = append(r.Kubernetes, Group{Kustomization: id, Changes: groups[id]})
	}
}

// removalHazards: what Flux deletes with a removed object.
func (r *Report) removalHazards(o *unstructured.Unstructured, after map[string]object) {
	n := name(o)
	switch o.GetKind() {
	case "PersistentVolumeClaim":
		r.hazard("kubernetes", n, "Flux deletes the claim, and with it its volume and the data on it (the classes' reclaim policy is Delete); back it up or keep the claim")
	case "Namespace":
		r.hazard("kubernetes", n, "Flux deletes the namespace and every object in it, claims and their data included")
	case "CustomResourceDefinition":
		r.hazard("kubernetes", n, "Flux deletes the CRD and with it every custom resource of its kind in the cluster")
	case "StorageClass":
		r.hazard("kubernetes", n, "claims of this class can no longer be provisioned, and a new claim naming it stays Pending; bound volumes stay")
	case "Secret":
		if users := secretUsers(after, o.GetNamespace(), o.GetName()); len(users) > 0 {
			r.hazard("kubernetes", n, "still used by %s: their pods fail to start without it", strings.Join(users, ", "))
		}
	}
}

// changeHazards: changes the API server refuses to apply.
func (r *Report) changeHazards(b, a *unstructured.Unstructured) {
	switch a.GetKind() {
	case "Deployment", "StatefulSet", "DaemonSet", "Job":
		bs, _, _ := unstructured.NestedFieldNoCopy(b.Object, "spec", "selector")
		as, _, _ := unstructured.NestedFieldNoCopy(a.Object, "spec", "selector")
		if !equalValues(bs, as) {
			r.hazard("kubernetes", name(a), "its selector changes, which the API server refuses (the field is immutable): the Kustomization fails; rename the workload (a new object) or delete it by hand first")
		}
	case "PersistentVolumeClaim":
		for _, f := range [][]string{{"spec", "storageClassName"}, {"spec", "accessModes"}, {"spec", "volumeName"}} {
			bv, _, _ := unstructured.NestedFieldNoCopy(b.Object, f...)
			av, _, _ := unstructured.NestedFieldNoCopy(a.Object, f...)
			if !equalValues(bv, av) {
				r.hazard("kubernetes", name(a), "%s changes on an existing claim, which the API server refuses (only its size may grow): copy the data to a new claim instead", strings.Join(f[1:], "."))
			}
		}
		bq, _, _ := unstructured.NestedString(b.Object, "spec", "resources", "requests", "storage")
		aq, _, _ := unstructured.NestedString(a.Object, "spec", "resources", "requests", "storage")
		if smaller(aq, bq) {
			r.hazard("kubernetes", name(a), "its size shrinks (%s -> %s), which the API server refuses", bq, aq)
		}
	}
}

// secretUsers are the workloads of namespace whose pods use the Secret.
func secretUsers(objs map[string]object, namespace, secret string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(objs)) {
		o := objs[k].u
		if o.GetNamespace() != namespace {
			continue
		}
		spec, ok, _ := unstructured.NestedMap(o.Object, "spec", "template", "spec")
		if !ok {
			spec, ok, _ = unstructured.NestedMap(o.Object, "spec", "jobTemplate", "spec", "template", "spec")
		}
		if ok && mentionsSecret(spec, secret) {
			out = append(out, name(o))
		}
	}
	return out
}

// mentionsSecret finds a secretKeyRef, secretRef or secret volume naming
// secret anywhere in a pod spec.
func mentionsSecret(v any, secret string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if m, ok := x.(map[string]any); ok && (k == "secretKeyRef" || k == "secretRef") && m["name"] == secret {
				return true
			}
			if m, ok := x.(map[string]any); ok && k == "secret" && m["secretName"] == secret {
				return true
			}
			if mentionsSecret(x, secret) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if mentionsSecret(x, secret) {
				return true
			}
		}
	}
	return false
}

// chart renders a changed HelmRelease's chart on both sides.
//
// An added HelmRelease (b nil) shows what its chart makes; a removed one
// (a nil) what helm-controller uninstalls with it, objects Helm keeps
// (helm.sh/resource-policy: keep, such as CRDs a chart keeps) left out.
func (r *Report) chart(b, a *unstructured.Unstructured, opts Options) {
	release := func(u *unstructured.Unstructured) (helmrender.Release, string, error) {
		if u == nil {
			return helmrender.Release{}, "(none)", nil
		}
		rel, err := helmrender.ReleaseOf(u.Object)
		return rel, rel.Chart + " " + rel.Version, err
	}
	rb, from, errB := release(b)
	ra, to, errA := release(a)
	cd := ChartDiff{Release: name(cmp.Or(a, b)), From: from, To: to}
	if err := cmp.Or(errB, errA); err != nil {
		cd.Note = err.Error()
		r.Charts = append(r.Charts, cd)
		return
	}
	if b != nil && a != nil && rb.Chart == ra.Chart && rb.Version == ra.Version && equalValues(rb.Values, ra.Values) && equalValues(rb.Patches, ra.Patches) &&
		rb.Name == ra.Name && rb.Namespace == ra.Namespace {
		return // only the HelmRelease's own settings changed
	}
	render := func(u *unstructured.Unstructured, rel helmrender.Release) (map[string]object, string) {
		if u == nil {
			return map[string]object{}, ""
		}
		file := ""
		if opts.ChartFile != nil {
			file = opts.ChartFile(rel.Chart, rel.Version)
		}
		if file == "" {
			return nil, fmt.Sprintf("chart %s %s is not in the chart cache (make fixtures), so its rendering is not shown", rel.Chart, rel.Version)
		}
		objs, err := helmrender.RenderRelease(rel, file)
		if err != nil {
			return nil, fmt.Sprintf("rendering %s %s: %v", rel.Chart, rel.Version, err)
		}
		out := map[string]object{}
		for _, o := range objs {
			if a == nil && o.GetAnnotations()["helm.sh/resource-policy"] == "keep" {
				continue // Helm keeps it when the release goes
			}
			out[key(o)] = object{u: o}
		}
		return out, ""
	}
	bo, noteB := render(b, rb)
	ao, noteA := render(a, ra)
	if note := cmp.Or(noteB, noteA); note != "" {
		cd.Note = note
		r.Charts = append(r.Charts, cd)
		return
	}
	for _, k := range sortedKeys(bo, ao) {
		ob, had := bo[k]
		oa, has := ao[k]
		switch {
		case !had:
			cd.Changes = append(cd.Changes, Change{Op: "+", Object: name(oa.u)})
		case !has:
			cd.Changes = append(cd.Changes, Change{Op: "-", Object: name(ob.u)})
			r.removalHazards(ob.u, ao)
		case !equal(ob.u, oa.u):
			cd.Changes = append(cd.Changes, Change{Op: "~", Object: name(oa.u), Diff: unified(name(oa.u), objectYAML(ob.u), objectYAML(oa.u))})
			r.changeHazards(ob.u, oa.u)
		}
	}
	if len(cd.Changes) == 0 {
		cd.Note = "the chart renders the same objects"
	}
	r.Charts = append(r.Charts, cd)
}

// secretFields are the fields of a Secret whose values are never shown.
var secretFields = []string{"data", "stringData"}

// objectYAML is an object as YAML, a Secret's values redacted.
func objectYAML(o *unstructured.Unstructured) string {
	c := o.DeepCopy()
	if c.GetKind() == "Secret" {
		for _, f := range secretFields {
			if m, ok, _ := unstructured.NestedMap(c.Object, f); ok {
				for k := range m {
					m[k] = "(redacted)"
				}
				_ = unstructured.SetNestedMap(c.Object, m, f)
			}
		}
	}
	data, err := yaml.Marshal(c.Object)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(data)
}

// sensitive are YAML lines of a machine config whose values are keys.
var sensitive = regexp.MustCompile(`(?i)^(\s*-?\s*(?:key|token|secret|crt|ca|aescbcEncryptionSecret|secretboxEncryptionSecret|bootstraptoken|id):\s*)\S.*$`)

func redactText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = sensitive.ReplaceAllString(l, "${1}(redacted)")
	}
	return strings.Join(lines, "\n")
}

func unified(name, a, b string) string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b), FromFile: "a/" + name, ToFile: "b/" + name, Context: 2,
	})
	if err != nil {
		return err.Error()
	}
	return d
}

func equal(a, b *unstructured.Unstructured) bool { return equalValues(a.Object, b.Object) }

// equalValues compares two decoded values by their canonical JSON.
func equalValues(a, b any) bool {
	ja, errA := yaml.Marshal(a)
	jb, errB := yaml.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// smaller says whether quantity a is below b (both set).
func smaller(a, b string) bool {
	qa, errA := resource.ParseQuantity(a)
	qb, errB := resource.ParseQuantity(b)
	return errA == nil && errB == nil && qa.Cmp(qb) < 0
}

// sortedKeys are the keys of both maps, sorted, once each.
func sortedKeys[V any](a, b map[string]V) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
