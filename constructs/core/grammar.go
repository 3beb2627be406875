package core

import (
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
)

// CheckCron returns an error when schedule is not a standard five-field
// cron schedule as Kubernetes' CronJob controller (and Longhorn) parse it.
// A time zone prefix (TZ=, CRON_TZ=) is refused, as the API server does:
// CronJobs take the zone in spec.timeZone.
func CheckCron(schedule string) error {
	if strings.Contains(schedule, "TZ=") {
		return fmt.Errorf("a time zone prefix is not allowed in the schedule")
	}
	if _, err := cron.ParseStandard(schedule); err != nil {
		return err
	}
	return nil
}
