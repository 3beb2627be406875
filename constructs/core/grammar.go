package core

import (
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
)

// Schedule is a standard five-field cron schedule ("0 2 * * *"), parsed
// once by Cron as Kubernetes' CronJob controller (and Longhorn) parse it.
// The zero Schedule is no schedule: a props field of this type takes its
// default then.
type Schedule struct {
	spec string
	err  error
}

// Cron parses spec. A spec that does not parse still gives a Schedule:
// the construct using it reports Err with its construct path, so a bad
// schedule is one validation error, never a panic.
func Cron(spec string) Schedule { return Schedule{spec: spec, err: checkCron(spec)} }

// String returns the schedule as written.
func (s Schedule) String() string { return s.spec }

// IsZero reports whether s is the zero Schedule.
func (s Schedule) IsZero() bool { return s == Schedule{} }

// Err is why the schedule does not parse, or nil. A time zone prefix
// (TZ=, CRON_TZ=) is refused, as the API server does: CronJobs take the
// zone in spec.timeZone.
func (s Schedule) Err() error {
	if s.IsZero() {
		return fmt.Errorf("there is no schedule")
	}
	return s.err
}

// OrDefault returns s, or def when s is the zero Schedule.
func (s Schedule) OrDefault(def string) Schedule {
	if s.IsZero() {
		return Cron(def)
	}
	return s
}

func checkCron(schedule string) error {
	if strings.Contains(schedule, "TZ=") {
		return fmt.Errorf("a time zone prefix is not allowed in the schedule")
	}
	if _, err := cron.ParseStandard(schedule); err != nil {
		return err
	}
	return nil
}
