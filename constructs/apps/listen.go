package apps

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// portFlags are the command-line flags that set the port a server
// listens on, and the environment variables that do.
var (
	portFlags = []string{"port", "http-port", "listen-port", "web.listen-address", "listen", "listen-address", "bind"}
	portEnv   = []string{"PORT", "HTTP_PORT", "LISTEN_PORT", "SERVER_PORT"}
)

// imageDefault is where an image's server listens when nothing sets it,
// as its documentation says, and the variable that changes it.
type imageDefault struct {
	port int32
	env  string
	doc  string
}

// imageDefaults are the documented default ports of the images the
// project's composition and examples run.
var imageDefaults = map[string]imageDefault{
	// traefik/whoami README: "--port The port number (default 80)",
	// env WHOAMI_PORT_NUMBER.
	"traefik/whoami": {80, "WHOAMI_PORT_NUMBER", "traefik/whoami README"},
	// agnhost netexec: "--http-port ... (default 8080)" (kubernetes
	// test/images/agnhost/netexec).
	"registry.k8s.io/e2e-test-images/agnhost": {8080, "", "agnhost netexec --http-port"},
	// Uptime Kuma: UPTIME_KUMA_PORT, default 3001 (server/config.js).
	"louislam/uptime-kuma": {3001, "UPTIME_KUMA_PORT", "Uptime Kuma's server/config.js"},
	// Homepage: PORT, default 3000 (its Dockerfile).
	"ghcr.io/gethomepage/homepage": {3000, "PORT", "Homepage's Dockerfile"},
	// PostgreSQL: 5432 unless PGPORT (the postgres image's docs).
	"postgres": {5432, "PGPORT", "the postgres image"},
	// Wiki.js: PORT, default 3000 (its config.sample.yml / Dockerfile).
	"ghcr.io/requarks/wiki": {3000, "PORT", "Wiki.js' Dockerfile"},
}

// listenPort says on which port a container's server listens: set by a
// flag in args (--port 8080, --port=8080, --listen=:8080), by a port
// variable in env, or, for an image it knows, its documented default.
// ok is false when nothing says.
func listenPort(image string, args []string, env []corev1.EnvVar) (port int32, why string, ok bool) {
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !isPortFlag(name) {
			continue
		}
		why := "argument " + a
		if !hasVal {
			if i+1 >= len(args) {
				continue
			}
			val = args[i+1]
			why += " " + val
		}
		if p, ok := parsePort(val); ok {
			return p, why, true
		}
	}
	repo := imageRepo(image)
	def, known := imageDefaults[repo]
	for _, e := range env {
		if e.ValueFrom != nil || !(containsFold(portEnv, e.Name) || known && e.Name == def.env) {
			continue
		}
		if p, ok := parsePort(e.Value); ok {
			return p, fmt.Sprintf("env %s=%s", e.Name, e.Value), true
		}
	}
	if known {
		return def.port, fmt.Sprintf("%s's default (%s)", repo, def.doc), true
	}
	return 0, "", false
}

func isPortFlag(name string) bool { return containsFold(portFlags, name) }

func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}

// parsePort reads "8080", ":8080" or "0.0.0.0:8080".
func parsePort(s string) (int32, bool) {
	if i := strings.LastIndex(s, ":"); i >= 0 {
		s = s[i+1:]
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return int32(n), true
}

// imageRepo is an image reference without its tag or digest.
func imageRepo(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return strings.TrimPrefix(image, "docker.io/")
}
