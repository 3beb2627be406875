// Package storage models the homelab's storage: StorageClasses (exactly one
// default), Longhorn replicated block storage on a Talos user volume, the
// NFS subdir provisioner for a Synology share, and volumes that reference a
// class construct rather than a class name.
package storage
