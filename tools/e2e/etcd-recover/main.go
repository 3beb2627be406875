// Command etcd-recover takes an etcd snapshot and restores one the way
// Talos does, with etcd's own code at the release the tests' etcd runs
// (go.etcd.io/etcd v3.6.8, tools/envtest; Talos v1.13.9 links v3.6.12,
// whose snapshot and restore code is the same API):
//
//	etcd-recover save --endpoint URL --out FILE
//	    the snapshot `talosctl etcd snapshot` takes: the etcd client's
//	    Maintenance Snapshot stream (machined's EtcdSnapshot,
//	    internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go
//	    lines 1956-1990 at v1.13.9), written whole or not at all.
//	etcd-recover restore --snapshot FILE --data-dir DIR --name NAME --peer-url URL
//	    what `talosctl bootstrap --recover-from` makes machined do before
//	    it starts etcd: etcdutl's snapshot manager checks the snapshot
//	    (Status) and restores it into an empty data directory as a
//	    one-member cluster of NAME at URL (recoverFromSnapshot,
//	    internal/app/machined/pkg/system/services/etcd.go lines 570-600).
//
// The end-to-end test's restore rehearsal runs it (e2e/restore.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: etcd-recover save|restore [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "save":
		err = save(os.Args[2:])
	case "restore":
		err = restore(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: save or restore", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd-recover:", err)
		os.Exit(1)
	}
}

func save(args []string) error {
	fs := flag.NewFlagSet("save", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "etcd client URL")
	out := fs.String("out", "", "snapshot file to write")
	_ = fs.Parse(args)
	if *endpoint == "" || *out == "" {
		return fmt.Errorf("save needs --endpoint and --out")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{*endpoint}, DialTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	rd, err := cli.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer rd.Close()
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".snapshot-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, rd)
	if err != nil {
		tmp.Close()
		return fmt.Errorf("reading the snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	fmt.Printf("saved %d bytes to %s\n", n, *out)
	return nil
}

func restore(args []string) error {
	fs := flag.NewFlagSet("restore", flag.ExitOnError)
	path := fs.String("snapshot", "", "snapshot file")
	dataDir := fs.String("data-dir", "", "etcd data directory to create (must not exist)")
	name := fs.String("name", "default", "the member's name")
	peer := fs.String("peer-url", "http://localhost:2380", "the member's advertised peer URL")
	_ = fs.Parse(args)
	if *path == "" || *dataDir == "" {
		return fmt.Errorf("restore needs --snapshot and --data-dir")
	}
	lg, err := zap.NewProduction()
	if err != nil {
		return err
	}
	manager := snapshot.NewV3(lg)
	status, err := manager.Status(*path)
	if err != nil {
		return fmt.Errorf("verifying the snapshot: %w", err)
	}
	fmt.Printf("recovering etcd from snapshot: hash %08x, revision %d, total keys %d, total size %d\n",
		status.Hash, status.Revision, status.TotalKey, status.TotalSize)
	return manager.Restore(snapshot.RestoreConfig{
		SnapshotPath:   *path,
		Name:           *name,
		OutputDataDir:  *dataDir,
		PeerURLs:       []string{*peer},
		InitialCluster: *name + "=" + *peer,
	})
}
