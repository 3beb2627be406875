package core

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error is one validation problem: which construct, what is wrong with which
// value, and how to fix it.
type Error struct {
	// Path is the construct path, such as "flux/platform".
	Path string
	// Problem says what is wrong and quotes the bad value.
	Problem string
	// Fix says what to change.
	Fix string
}

// Errorf returns an Error for the construct at path; the problem is formatted
// from format and args, fix says how to repair it.
func Errorf(path, fix, format string, args ...any) *Error {
	return &Error{Path: path, Problem: fmt.Sprintf(format, args...), Fix: fix}
}

// Error renders "path: problem; fix".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// ValidationError is every problem a validation run found, sorted by
// construct path so the report is stable.
type ValidationError struct {
	Errors []error
}

// Error lists every problem, one per line.
func (v *ValidationError) Error() string {
	lines := make([]string, 0, len(v.Errors)+1)
	lines = append(lines, fmt.Sprintf("validation failed with %d error(s):", len(v.Errors)))
	for _, err := range v.Errors {
		lines = append(lines, "  - "+err.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (v *ValidationError) Unwrap() []error { return v.Errors }

func newValidationError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	sorted := append([]error(nil), errs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return pathOf(sorted[i]) < pathOf(sorted[j])
	})
	return &ValidationError{Errors: sorted}
}

func pathOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Path
	}
	return ""
}
