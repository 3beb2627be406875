package validate

import (
	"fmt"
	"io"

	"github.com/siderolabs/talos/pkg/machinery/config/machine"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/pkg/lab"
	"github.com/funoffshore/homelab/synth"
)

// Report is what the offline checks of a lab found: the counts of what
// was checked, the risks and blockers the tree reports, and every
// problem. The CLI's validate prints it.
type Report struct {
	// Objects and Files are the tree's objects and rendered files.
	Objects, Files int
	// KustomizeDirs is the number of kustomization directories built;
	// KustomizeOK whether every one did.
	KustomizeDirs int
	KustomizeOK   bool
	// TalosConfigs is the number of machine configs checked in metal
	// mode; TalosWarnings what machinery said about them ("path: text").
	TalosConfigs  int
	TalosWarnings []string
	// TalConfigs are the talconfig files that match talhelper's schema
	// (checked only with a schema).
	TalConfigs []string
	// Capacity is the Talos cluster's capacity table ("" without one).
	Capacity string
	// Warnings are risks the homelab has not declared unacceptable.
	Warnings []error
	// Blockers keep a valid tree from reconciling on a real cluster.
	Blockers []core.Blocker
	// Errors are the problems: kustomize builds, machine configs,
	// talconfig schema.
	Errors []error
}

// Offline runs the checks that need no cluster on the lab and its
// rendered files: every kustomization builds, the machine configs load
// and validate with Talos machinery in metal mode, and, with
// talconfigSchema (a path), talconfig.yaml matches talhelper's JSON
// schema. The Talos files are the lab's cluster's, whatever their
// directory.
func Offline(l *lab.Lab, files synth.Files, talconfigSchema string) Report {
	r := Report{Objects: len(l.Tree().Objects()), Files: len(files)}
	n, errs := Kustomize(files)
	r.KustomizeDirs, r.KustomizeOK, r.Errors = n, len(errs) == 0, errs
	talosConfigs, talconfigs := map[string]bool{}, map[string]bool{}
	if c := l.Cluster; c != nil {
		talosConfigs[c.ConfigPath(machine.TypeControlPlane)] = true
		talosConfigs[c.ConfigPath(machine.TypeWorker)] = true
		talconfigs[c.TalconfigPath()] = true
		r.Capacity = fmt.Sprint(c.Capacity())
	}
	for _, p := range files.Paths() {
		if talosConfigs[p] {
			r.TalosConfigs++
			warnings, err := TalosConfig(p, files[p])
			for _, w := range warnings {
				r.TalosWarnings = append(r.TalosWarnings, p+": "+w)
			}
			if err != nil {
				r.Errors = append(r.Errors, err)
			}
		}
		if talconfigs[p] && talconfigSchema != "" {
			if err := TalConfig(p, files[p], talconfigSchema); err != nil {
				r.Errors = append(r.Errors, err)
			} else {
				r.TalConfigs = append(r.TalConfigs, p)
			}
		}
	}
	r.Warnings = core.Warnings.Of(l.Tree()).Run()
	r.Blockers = core.Blockers.Of(l.Tree()).All()
	return r
}

// Print writes the report as validate shows it: what was checked, the
// capacity, warnings and blockers on w; machinery's warnings about the
// machine configs on errw. The errors are the caller's to return.
func (r Report) Print(w, errw io.Writer) {
	fmt.Fprintf(w, "constructs: valid (%d objects, %d files)\n", r.Objects, r.Files)
	if r.KustomizeOK {
		fmt.Fprintf(w, "kustomize: %d directories build\n", r.KustomizeDirs)
	}
	for _, wn := range r.TalosWarnings {
		fmt.Fprintf(errw, "warning: %s\n", wn)
	}
	for _, p := range r.TalConfigs {
		fmt.Fprintf(w, "talhelper: %s matches the schema\n", p)
	}
	if r.TalosConfigs > 0 {
		fmt.Fprintf(w, "talos: %d machine configs checked (metal mode)\n", r.TalosConfigs)
	}
	if r.Capacity != "" {
		fmt.Fprintf(w, "capacity:\n%s", r.Capacity)
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "warning: %v\n", wn)
	}
	if len(r.Blockers) > 0 {
		fmt.Fprintf(w, "blocking: %d thing(s) keep this tree from reconciling on a real cluster:\n", len(r.Blockers))
		for _, b := range r.Blockers {
			fmt.Fprintf(w, "  - %s: %s\n    fix: %s\n", b.Source, b.What, b.Fix)
		}
	}
}
