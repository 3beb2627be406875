//go:build !unix

package synth

import "os"

// isMountPoint is not checked on this platform.
func isMountPoint(string, os.FileInfo) bool { return false }
