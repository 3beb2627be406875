// Command etcd is the etcd server, built from the pinned etcd module for
// the tests' kube-apiserver (controller-runtime envtest).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
