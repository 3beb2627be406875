package homelab_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/secrets"
)

// TestSnapshotsOnTheNASAreEncrypted is someone who can read the NAS share
// the etcd snapshots go to. Steps: the snapshot job runs as rendered (its
// rotation script, with the SOPS CLI built from the module the project
// pins, the release of the job's image) over a snapshot; they read what
// lands on the share. Assertion: the file holds no byte run of the
// snapshot, and only an operator's age identity recovers it exactly, as
// deploy --recover-from does.
//
// Before the fix, the rotation step only renamed the snapshot: every
// object in etcd but the Secrets was readable on the share.
func TestSnapshotsOnTheNASAreEncrypted(t *testing.T) {
	dir := t.TempDir()
	idPath := filepath.Join(dir, "age.key")
	_, err := secrets.GenerateIdentity(idPath)
	require.NoError(t, err)
	id, err := secrets.LoadIdentity(idPath)
	require.NoError(t, err)

	props := homelab.Funoffshore()
	props.Operators = []string{id.Recipient}
	app, _ := homelab.NewApp(props)
	var job *batchv1.CronJob
	for _, o := range app.Tree().Objects() {
		m, err := o.Manifest()
		require.NoError(t, err)
		if m["kind"] == "CronJob" {
			job = &batchv1.CronJob{}
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(m, job))
		}
	}
	require.NotNil(t, job, "no snapshot CronJob")
	rotate := job.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	require.Equal(t, "ghcr.io/getsops/sops:v3.13.3-alpine", rotate.Image)

	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "sops"), "github.com/getsops/sops/v3/cmd/sops")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run(), "building the SOPS CLI")

	share := filepath.Join(dir, "share")
	require.NoError(t, os.Mkdir(share, 0o755))
	snapshot := make([]byte, 256<<10)
	rand.Read(snapshot)
	copy(snapshot, "etcd snapshot: ConfigMap kube-system/cluster-info")
	require.NoError(t, os.WriteFile(filepath.Join(share, "etcd.snapshot.part"), snapshot, 0o600))
	script := strings.ReplaceAll(rotate.Args[0], "/snapshots", share)
	cmd := exec.Command(rotate.Command[0], append(rotate.Command[1:], script)...)
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + dir}
	for _, e := range rotate.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the rotation step failed:\n%s", out)

	files, err := filepath.Glob(filepath.Join(share, "*"))
	require.NoError(t, err)
	require.Len(t, files, 1, "on the share: %v", files)
	require.True(t, strings.HasSuffix(files[0], ".db.sops"), files[0])
	stored, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.False(t, bytes.Contains(stored, snapshot[:32]), "the snapshot is readable on the share")
	require.True(t, secrets.IsSOPS(stored))
	got, err := secrets.DecryptBinary(stored, id)
	require.NoError(t, err)
	require.True(t, bytes.Equal(snapshot, got), "the operator does not get the snapshot back")
}
