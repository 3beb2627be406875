// Package flux models Flux CD with the fluxcd API types: the controllers'
// install manifest for the pinned distribution, the Git sync, and the
// Kustomization, HelmRepository and HelmRelease objects that order
// everything else.
package flux
