package core

// AddWarnings records a check whose findings are risks, not errors: the
// tree is valid and renders, and `validate` prints each finding as a
// warning (a homelab that one host's loss would take down, for one).
// Constructs that let the homelab declare a risk unacceptable report it
// with AddValidation instead.
func (t *Tree) AddWarnings(check func() []error) { t.warnings = append(t.warnings, check) }

// Warnings runs the recorded warning checks and returns their findings in
// the order the checks were added.
func (t *Tree) Warnings() []error {
	var out []error
	for _, w := range t.warnings {
		out = append(out, w()...)
	}
	return out
}
