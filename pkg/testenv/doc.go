// Package testenv is test support: a TestMain wrapper that sets up the jsii
// node process and closes it, and helpers to build and render homelab trees.
package testenv
