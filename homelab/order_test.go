package homelab_test

import (
	"slices"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/synth"
)

// TestOrderDoesNotMatter builds the Funoffshore homelab with every list
// whose order has no meaning reversed (namespaces, apps, hosts, the
// workers) and expects the same files, so user code that fills them from
// a Go map synthesizes the same tree on every run.
func TestOrderDoesNotMatter(t *testing.T) {
	render := func(p *homelab.Props) synth.Files {
		t.Helper()
		app, _ := homelab.NewApp(p)
		files, err := synth.Render(app.Tree())
		require.NoError(t, err)
		return files
	}
	extra := []homelab.Namespace{{Name: "media", PodSecurity: "baseline"}, {Name: "backups", PodSecurity: "restricted"}}
	props := homelab.Funoffshore()
	props.Namespaces = slices.Clone(extra)
	want := render(props)

	m := homelab.DefaultMachines()
	slices.Reverse(m.Hosts)
	// The control plane stays first (it is the default endpoint); the
	// workers swap.
	m.Nodes[1], m.Nodes[2] = m.Nodes[2], m.Nodes[1]
	a := homelab.DefaultApps()
	slices.Reverse(a)
	slices.Reverse(extra)
	props = homelab.Funoffshore()
	props.Machines, props.Apps, props.Namespaces = m, a, extra
	got := render(props)

	for _, p := range want.Paths() {
		if string(got[p]) != string(want[p]) {
			d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(want[p])), B: difflib.SplitLines(string(got[p])), FromFile: p, ToFile: p, Context: 2})
			t.Errorf("%s depends on the order of the props:\n%s", p, d)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d files, want %d", len(got), len(want))
	}
}
