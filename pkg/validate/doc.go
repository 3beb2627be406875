// Package validate checks synthesized files with the programs that consume
// them; Replay applies a tree to a kube-apiserver the way Flux would on a
// fresh cluster.
package validate
