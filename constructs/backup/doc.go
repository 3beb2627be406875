// Package backup holds disaster recovery: scheduled etcd snapshots taken
// through the Talos API from inside the cluster, kept on an NFS volume with
// a retention.
package backup
