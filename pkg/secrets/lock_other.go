//go:build !unix

package secrets

import "os"

// flock is a no-op where advisory locks are not available: concurrent
// writers to one store are not serialized there.
func flock(*os.File) error { return nil }
