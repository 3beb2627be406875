package core

// Warnings are the checks whose findings are risks, not errors: the tree
// is valid and renders, and `validate` prints each finding as a warning
// (a homelab that one host's loss would take down, for one). Constructs
// that let the homelab declare a risk unacceptable report it with
// AddValidation instead.
var Warnings = NewFacet("core/warnings", func() *WarningChecks { return &WarningChecks{} })

// WarningChecks holds a tree's warning checks.
type WarningChecks struct{ checks []func() []error }

// Add records a warning check.
func (w *WarningChecks) Add(check func() []error) { w.checks = append(w.checks, check) }

// Run runs the checks and returns their findings in the order the checks
// were added.
func (w *WarningChecks) Run() []error {
	var out []error
	for _, c := range w.checks {
		out = append(out, c()...)
	}
	return out
}
