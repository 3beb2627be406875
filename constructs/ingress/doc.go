// Package ingress models how traffic reaches the apps: ingress-nginx in the
// cluster (the only, default IngressClass) and a Cloudflare Tunnel run by
// cloudflared, whose routes are generated from the hosts the apps expose,
// so no port is opened at home.
package ingress
