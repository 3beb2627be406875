package talos

import (
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/version"

	model "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/upgradepath"
)

// planPath plans the hops from the versions the cluster runs (its oldest
// node's Talos, its oldest Kubernetes component) to the model's with
// package upgradepath: a move with no path is refused with the reason,
// and a Talos upgrade through intermediate releases becomes one Upgrade
// per node per hop, every node on a hop before the next. Kubernetes
// moves after Talos (planKubernetes); a path where it must move between
// two Talos hops is refused with the model versions to deploy first.
func (d *deployer) planPath(p *Plan, running map[*model.Node]map[string]string) {
	talosAt := oldest(p.talosOf)
	if talosAt == "" {
		return // nothing configured yet: the nodes install the model's release
	}
	tags := map[*model.Node]string{}
	for n, images := range running {
		for _, ref := range images {
			if t := imageTag(ref); t != "" && (tags[n] == "" || less(t, tags[n])) {
				tags[n] = t
			}
		}
	}
	kubeAt := oldest(tags)
	if kubeAt == "" {
		kubeAt = d.cluster.KubernetesVersion
	}
	path, err := upgradepath.Plan(upgradepath.Versions{Talos: talosAt, Kubernetes: kubeAt},
		upgradepath.Versions{Talos: d.cluster.TalosVersion, Kubernetes: d.cluster.KubernetesVersion})
	if err != nil {
		var r *upgradepath.Refused
		if errors.As(err, &r) && r.Layer == upgradepath.LayerKubernetes && len(p.Refused) > 0 {
			return // planKubernetes has said why already
		}
		p.Upgrade, p.Kubernetes = nil, nil
		p.Refused = append(p.Refused, err.Error())
		return
	}
	p.Path = path
	last := -1
	for i, h := range path {
		if h.Layer == upgradepath.LayerTalos {
			last = i
		}
	}
	for i, h := range path[:max(last, 0)] {
		if h.Layer != upgradepath.LayerKubernetes {
			continue
		}
		before := talosAt
		for _, b := range path[:i] {
			if b.Layer == upgradepath.LayerTalos {
				before = b.To
			}
		}
		p.Upgrade, p.Kubernetes = nil, nil
		p.Refused = append(p.Refused, fmt.Sprintf("Kubernetes: the path is %s; Kubernetes must reach %s before Talos moves past %s (%s), and deploy moves Kubernetes after Talos: set the model to Talos %s and Kubernetes %s, deploy, then to Talos %s and Kubernetes %s",
			path, h.To, before, h.Why, before, h.To, d.cluster.TalosVersion, d.cluster.KubernetesVersion))
		return
	}
	hops := path.Talos()
	if len(hops) < 2 {
		return
	}
	// One Upgrade per node per hop; a node already past a hop skips it.
	final := map[*model.Node]Upgrade{}
	for _, u := range p.Upgrade {
		final[u.Node] = u
	}
	at := map[*model.Node]string{}
	schematic := map[*model.Node]string{}
	for n, v := range p.talosOf {
		at[n] = v
		schematic[n] = final[n].FromSchematic
	}
	var ups []Upgrade
	for _, h := range hops {
		for _, n := range orderedNodes(d.cluster) {
			v, ok := at[n]
			if !ok || !less(v, h.To) {
				continue
			}
			want := final[n].ToSchematic
			if _, ok := final[n]; !ok {
				want = schematic[n]
			}
			ups = append(ups, Upgrade{Node: n, From: v, To: h.To, FromSchematic: schematic[n], ToSchematic: want})
			at[n], schematic[n] = h.To, want
		}
	}
	// A node on the model's release with other extensions is reinstalled.
	for _, u := range p.Upgrade {
		if !slices.ContainsFunc(ups, func(o Upgrade) bool { return o.Node == u.Node }) {
			ups = append(ups, u)
		}
	}
	p.Upgrade = ups
}

// oldest returns the lowest version among vs' values, or "".
func oldest(vs map[*model.Node]string) string {
	out := ""
	for _, v := range vs {
		if out == "" || less(v, out) {
			out = v
		}
	}
	return out
}

// less compares two version tags; one that does not parse sorts first,
// so that the planner names it.
func less(a, b string) bool {
	va, err := version.ParseGeneric(a)
	if err != nil {
		return true
	}
	vb, err := version.ParseGeneric(b)
	if err != nil {
		return false
	}
	return va.LessThan(vb)
}
