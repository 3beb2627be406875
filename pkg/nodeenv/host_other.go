//go:build !unix

package nodeenv

// useHost keeps jsii's own node wrapper where Unix sockets are missing.
func useHost() bool { return false }

// hostCall is never true without the host.
func hostCall() (string, bool) { return "", false }

// host is never called without the host.
func host(string) int { return 1 }
