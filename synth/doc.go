// Package synth renders a homelab construct tree into files (one directory
// per chart, one file per unit, a kustomization.yaml per directory) and
// writes them atomically, or checks that a directory is up to date.
package synth
