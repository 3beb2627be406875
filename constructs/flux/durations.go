package flux

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/funoffshore/homelab/constructs/core"
)

// durationField is a duration prop and the spec field it lands in.
type durationField struct {
	prop, field string
	value       *metav1.Duration
}

// checkDurations refuses durations the pattern of Flux's own CRD for
// their spec field refuses, as the API server would when Flux applies
// them: a negative duration renders "-5m0s", which the pattern
// ("^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$") does not match. Zero props mean
// the default and never reach here as zero.
func checkDurations(path, crd, version string, fields ...durationField) []error {
	var errs []error
	for _, f := range fields {
		if f.value == nil {
			continue
		}
		pattern, err := SpecPattern(crd, version, f.field)
		if err != nil {
			errs = append(errs, core.Errorf(path, "report this as a bug", "%v", err))
			continue
		}
		if s := f.value.Duration.String(); !pattern.MatchString(s) {
			errs = append(errs, core.Errorf(path, `use a positive duration such as "10m" (0 means the default)`,
				"%s %s is refused by Flux's %s CRD (spec.%s must match %s)", f.prop, s, strings.SplitN(crd, ".", 2)[0], f.field, pattern))
		}
	}
	return errs
}
