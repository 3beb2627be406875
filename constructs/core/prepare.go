package core

import "sync"

var (
	preparationsMu sync.Mutex
	preparations   []func()
)

// Prepare registers work a package can do ahead of building constructs,
// such as parsing embedded manifests: NewApp starts each in a goroutine
// before its first call into jsii, so the work overlaps the start of
// jsii's node process (a third of a second) instead of following it.
// Register in an init function; the work must be safe to run at any time
// and more than once (a sync.OnceValues around it makes the first run the
// only one), and whoever needs its result waits for it the usual way.
func Prepare(work func()) {
	preparationsMu.Lock()
	defer preparationsMu.Unlock()
	preparations = append(preparations, work)
}

// startPreparations runs the registered work in the background.
func startPreparations() {
	preparationsMu.Lock()
	defer preparationsMu.Unlock()
	for _, work := range preparations {
		go work()
	}
}
