// Package secrets keeps the homelab's secrets encrypted with SOPS and age:
// the operator's age identity (outside the repository), .sops.yaml, the
// store of encrypted Kubernetes Secret manifests, and the Talos secrets
// bundle. Values are decrypted only in memory, by the operator's commands
// and the deployer; synth copies encrypted files as they are.
package secrets
