// Package cli is the homelab command line (cobra): synth, validate and
// version. main.go only calls Main.
package cli
