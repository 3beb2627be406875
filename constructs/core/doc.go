// Package core holds what every construct in the homelab tree shares: the App
// at the root, the Go-side registry of its constructs (paths, output
// directories, objects and validations), the base for Go-struct constructs,
// and the validation error type.
//
// The construct tree itself lives in constructs-go (jsii); core mirrors the
// facts synth needs on the Go side, so that walking the tree, naming paths and
// running validations cost no calls into the node process.
package core
