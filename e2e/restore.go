package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// SnapshotEtcd writes a snapshot of the control plane's etcd to path, the
// way `talosctl etcd snapshot` takes one (etcd's client Maintenance
// Snapshot; the etcd-recover program hack/e2e.sh builds from etcd's own
// modules).
func (c *Cluster) SnapshotEtcd(ctx context.Context, path string) error {
	return c.etcdRecover(ctx, "save", "--endpoint", c.env.ControlPlane.Etcd.URL.String(), "--out", path)
}

// RestoreEtcd destroys the control plane's data and restores it from
// snapshot, as docs/disaster-recovery.md step 3 has Talos do it: the
// control plane stops (kube-apiserver, then etcd), etcd's data directory
// is removed, etcd's snapshot manager restores the snapshot into a new
// one as a one-member cluster (what `talosctl bootstrap --recover-from`
// makes machined do: etcd-recover restore), and etcd and kube-apiserver
// start again on the same addresses and certificates, then the controller
// manager and the scheduler (the control plane's other static pods). The
// other programs keep running and reconnect, as the workers' kubelets and
// Flux do on a real cluster.
func (c *Cluster) RestoreEtcd(ctx context.Context, snapshot string) error {
	api, etcd := c.env.ControlPlane.GetAPIServer(), c.env.ControlPlane.Etcd
	if err := api.Stop(); err != nil {
		return fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	if err := etcd.Stop(); err != nil {
		return fmt.Errorf("stopping etcd: %w", err)
	}
	if err := os.RemoveAll(etcd.DataDir); err != nil {
		return fmt.Errorf("destroying etcd's data: %w", err)
	}
	// envtest runs etcd with etcd's defaults: member "default",
	// advertised peer URL http://localhost:2380.
	if err := c.etcdRecover(ctx, "restore", "--snapshot", snapshot, "--data-dir", etcd.DataDir,
		"--name", "default", "--peer-url", "http://localhost:2380"); err != nil {
		return err
	}
	if err := etcd.Start(); err != nil {
		return fmt.Errorf("starting etcd on the restored data: %w", err)
	}
	if err := api.Start(); err != nil {
		return fmt.Errorf("starting kube-apiserver: %w", err)
	}
	// The rest of the control plane's node starts again with it: the
	// controller manager and the scheduler list the restored state
	// afresh (their caches hold objects newer than the snapshot).
	c.mu.Lock()
	for _, p := range c.procs {
		if p.name == "kube-controller-manager" || p.name == "kube-scheduler" {
			p.restart()
		}
	}
	c.mu.Unlock()
	return nil
}

func (c *Cluster) etcdRecover(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, "etcd-recover"), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("etcd-recover %s: %w: %s", args[0], err, lastLines(string(out), 5))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
