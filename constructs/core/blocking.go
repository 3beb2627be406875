package core

import (
	"fmt"
	"strings"
)

// Blocker is something that keeps a valid tree from reconciling on a real
// cluster: a Secret without its value, or a site value (a tunnel ID, a
// NAS address) still at an example. The tree renders, but Flux would
// stall on it.
type Blocker struct {
	// Source is the construct path.
	Source string
	// What is missing, and Fix how to provide it.
	What, Fix string
}

func (b Blocker) String() string { return b.Source + ": " + b.What + "; " + b.Fix }

// Blockers are what keeps a tree from reconciling
// (core.Blockers.Of(tree).Add(blocker), .All()).
var Blockers = NewTreeFacet("core/blockers", func(t *Tree) *BlockerList { return &BlockerList{t: t} })

// BlockerList holds a tree's recorded blockers.
type BlockerList struct {
	t     *Tree
	items []Blocker
}

// Add records a site value that still needs setting.
func (l *BlockerList) Add(b Blocker) { l.items = append(l.items, b) }

// All returns every recorded blocker, then one per pending Secret
// (naming each key and the command that sets it), in declaration order.
func (l *BlockerList) All() []Blocker {
	out := append([]Blocker(nil), l.items...)
	for _, d := range Secrets.Of(l.t).All() {
		if !d.Pending {
			continue
		}
		keys, what := d.Keys, fmt.Sprintf("secret %s/%s has no value in the store", d.Namespace, d.Name)
		if len(d.Missing) > 0 && len(d.Missing) < len(d.Keys) {
			keys = d.Missing
			what = fmt.Sprintf("secret %s/%s has no value for key(s) %s in the store", d.Namespace, d.Name, strings.Join(d.Missing, ", "))
		}
		var cmds []string
		for _, k := range keys {
			cmds = append(cmds, fmt.Sprintf("go run . secrets set %s/%s %s < FILE", d.Namespace, d.Name, k))
		}
		out = append(out, Blocker{Source: d.Source, What: what,
			Fix: "set each key (see docs/secrets.md): " + strings.Join(cmds, "; ")})
	}
	return out
}
