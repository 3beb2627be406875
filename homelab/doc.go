// Package homelab composes a homelab from the construct library: the
// Flux install and sync, the platform (Longhorn and NFS storage,
// ingress-nginx behind a Cloudflare Tunnel, monitoring, isolation,
// backups) and apps Kustomizations, the namespaces, the apps and an
// optional Homepage dashboard linking them. Props' zero values are
// neutral; Funoffshore's values are in Funoffshore() (funoffshore.go),
// which New(scope, nil) builds. Other homelabs call New with their own
// Props, or compose the constructs themselves.
package homelab
