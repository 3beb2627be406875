// Package homelab composes the Funoffshore homelab from the construct
// library: the Flux install and sync, the platform and apps Kustomizations,
// the namespaces and the apps, with the architecture memo's values as
// defaults. Other homelabs call New with their own Props, or compose the
// constructs themselves.
package homelab
