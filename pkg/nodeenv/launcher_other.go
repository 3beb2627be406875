//go:build !unix

package nodeenv

// useLauncher keeps jsii's own node wrapper where there is no POSIX shell.
func useLauncher() bool { return false }
