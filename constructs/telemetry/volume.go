package telemetry

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/storage"
)

// store names a store of logs or traces for its volume's rules: its
// props type, what it keeps, its name, and how long and how much a day.
type store struct {
	props, what, name, retention, daily string
}

// storeVolume reserves a store's volume on its class (the capacity check
// of Longhorn counts it, as claim) and adds its rules: a class, a valid
// size, and room for the retention (retentionFits). It returns the
// claim's size and class name for the chart ("" when unset).
func storeVolume(at *core.Info, claim string, s store, v storage.Volume) (size, class string) {
	volume := v.Parse()
	if volume.Err == nil {
		size = volume.Quantity.String()
		if v.Class != nil {
			v.Class.Reserve(at.Path()+"/"+claim, volume.Quantity)
		}
	}
	if v.Class != nil {
		class = v.Class.Name
	}
	path := at.Path()
	at.Tree().AddValidation(func() []error {
		var errs []error
		if v.Class == nil {
			errs = append(errs, core.Errorf(path, fmt.Sprintf("set %s.Volume to a volume on a block class such as longhorn", s.props), "%s has no volume", s.name))
		} else {
			errs = append(errs, volume.Validate(at)...)
		}
		return append(errs, retentionFits(path, s, volume)...)
	})
	return size, class
}

// retentionFits is the capacity rule of a store that keeps its retention
// of its daily volume on volume: the volume holds it with a fifth to
// spare (the compactor deletes what is past retention a while after, and
// the write-ahead log sits beside it).
func retentionFits(path string, s store, volume storage.ParsedVolume) []error {
	d, err := model.ParseDuration(s.retention)
	if err != nil || d <= 0 {
		return []error{core.Errorf(path, fmt.Sprintf(`set %s.Retention to a duration such as "14d"`, s.props), "retention %q of the %s is no duration", s.retention, s.what)}
	}
	perDay, err := resource.ParseQuantity(s.daily)
	if err != nil || perDay.Sign() <= 0 {
		return []error{core.Errorf(path, fmt.Sprintf(`set %s.DailyVolume to a size such as "300Mi"`, s.props), "daily volume %q of the %s is no size", s.daily, s.what)}
	}
	if volume.Err != nil || volume.Quantity.Sign() <= 0 {
		return nil // the volume's own validation says so
	}
	days := time.Duration(d).Hours() / 24
	need := int64(float64(perDay.Value()) * days * 1.2)
	if need > volume.Quantity.Value() {
		return []error{core.Errorf(path, fmt.Sprintf("raise %s.Volume.Size to at least %s, or shorten Retention, or lower DailyVolume", s.props, gib(need)),
			"%s of %s at %s a day need %s with a fifth to spare; the volume has %s", s.retention, s.what, s.daily, gib(need), volume.Size)}
	}
	return nil
}

// gib writes bytes as a whole number of GiB, rounded up ("3Gi").
func gib(bytes int64) string {
	return strconv.FormatInt((bytes+(1<<30)-1)>>30, 10) + "Gi"
}
