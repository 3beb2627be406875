// Package security holds the cluster's network isolation: a default-deny
// NetworkPolicy per sensitive namespace with explicit allow lists (DNS,
// ingress-nginx to the apps, Prometheus scrapes, cloudflared to
// ingress-nginx).
package security
