package secrets_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/pkg/secrets"
	"github.com/funoffshore/homelab/pkg/secrets/store"
)

// newRepo makes a repository's encrypted files for the operator id: the
// SOPS rules, the Talos bundle, a cluster key and one Secret.
func newRepo(t *testing.T, id *secrets.Identity) secrets.Repo {
	t.Helper()
	dir := t.TempDir()
	r := secrets.Repo{
		Store: secrets.Store{Dir: filepath.Join(dir, "secrets")}, TalosSecrets: filepath.Join(dir, "talos", "talsecret.sops.yaml"),
		SopsConfig: filepath.Join(dir, ".sops.yaml"), ClusterKey: filepath.Join(dir, "cluster-age.sops.yaml"),
	}
	require.NoError(t, secrets.WriteSopsConfig(secrets.NewSopsConfig([]string{id.Recipient}, ""), r.SopsConfig))
	bundle, err := secrets.NewTalosSecrets("v1.13.9", []string{id.Recipient})
	require.NoError(t, err)
	require.NoError(t, secrets.WriteFileAtomic(r.TalosSecrets, bundle, 0o644))
	_, err = r.RotateClusterKey(id)
	require.NoError(t, err)
	_, err = r.Store.Set("apps", "db", "password", []byte("pw"), id, secretRecipients(t, r))
	require.NoError(t, err)
	return r
}

func secretRecipients(t *testing.T, r secrets.Repo) []string {
	t.Helper()
	cfg, err := secrets.LoadSopsConfig(r.SopsConfig)
	require.NoError(t, err)
	return cfg.SecretRecipients()
}

// TestPlantedFileIsNotEncryptedForTheCluster is an attacker with write
// access to the repository. Steps: they copy the Talos secrets bundle
// (encrypted for the operators only) into the store as
// secrets/monitoring/x.sops.yaml and wait for an operator to rotate the
// cluster key or change the recipients. Assertion: the rekey refuses,
// naming the file, and leaves every file as it was; synth and validate
// (store.Load) refuse the file too; so the bundle never becomes
// decryptable by the cluster's key (which Flux holds in the cluster).
//
// Before the fix, rotate re-encrypted every SOPS file under secrets/ for
// the cluster key: the bundle's CA keys became readable by anyone who
// could read the sops-age Secret.
func TestPlantedFileIsNotEncryptedForTheCluster(t *testing.T) {
	id := newIdentity(t)
	r := newRepo(t, id)
	bundle, err := os.ReadFile(r.TalosSecrets)
	require.NoError(t, err)
	planted := r.Store.Path("monitoring", "x")
	require.NoError(t, os.MkdirAll(filepath.Dir(planted), 0o755))
	require.NoError(t, os.WriteFile(planted, bundle, 0o644))
	before := snapshot(t, filepath.Dir(r.SopsConfig))

	_, err = r.RotateClusterKey(id)
	require.Error(t, err)
	require.Contains(t, err.Error(), planted)
	_, err = r.AddRecipient(newIdentity(t).Recipient, id)
	require.Error(t, err)
	require.Equal(t, before, snapshot(t, filepath.Dir(r.SopsConfig)), "a refused rekey changed files")
	cfg, err := secrets.LoadSopsConfig(r.SopsConfig)
	require.NoError(t, err)
	got, err := secrets.Recipients(mustRead(t, planted))
	require.NoError(t, err)
	require.False(t, slices.Contains(got, cfg.Cluster()), "the planted bundle is encrypted for the cluster key")

	_, err = r.Store.Load()
	require.True(t, errors.Is(err, store.ErrNotASecret), "Load: %v", err)
	require.Contains(t, err.Error(), planted)

	// A Secret renamed to another path (its own metadata says apps/db) is
	// refused the same way: a file is the Secret its path names.
	require.NoError(t, os.Remove(planted))
	moved := r.Store.Path("monitoring", "db")
	require.NoError(t, os.WriteFile(moved, mustRead(t, r.Store.Path("apps", "db")), 0o644))
	_, err = r.Store.Load()
	require.ErrorIs(t, err, store.ErrNotASecret)
	_, err = r.Store.Get("monitoring", "db", "password", id)
	require.ErrorIs(t, err, store.ErrNotASecret)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

// snapshot reads every file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	}))
	return out
}

// TestRotateSurvivesACrashAtEveryWrite kills `secrets rotate` at each of
// its writes in turn (the crash hook stops the commit there, leaving the
// disk as it is), then runs what every secrets and deploy command runs
// first. Assertion: after it, the cluster key file, .sops.yaml and every
// Secret agree (all old or all new), and nothing is left over; so a new
// Secret is never encrypted for a key that was rotated out.
//
// Before the fix, a kill at the .sops.yaml write left the new key in the
// key file and the old one in .sops.yaml; a kill mid-store left a mix.
func TestRotateSurvivesACrashAtEveryWrite(t *testing.T) {
	id := newIdentity(t)
	var steps []string
	secrets.SetCrashHook(func(s string) error { steps = append(steps, s); return nil })
	r := newRepo(t, id)
	steps = nil
	_, err := r.RotateClusterKey(id)
	require.NoError(t, err)
	secrets.SetCrashHook(nil)
	all := slices.Clone(steps)
	require.Greater(t, len(all), 6, "steps: %v", all)
	for i, at := range all {
		t.Run(at, func(t *testing.T) {
			r := newRepo(t, id)
			n := 0
			secrets.SetCrashHook(func(string) error {
				if n++; n > i {
					return errors.New("killed")
				}
				return nil
			})
			_, err := r.RotateClusterKey(id)
			secrets.SetCrashHook(nil)
			require.ErrorContains(t, err, "killed")
			_, err = r.Recover()
			require.NoError(t, err)
			consistent(t, r, id)
		})
	}
}

// consistent fails unless the cluster key file, .sops.yaml and the
// Secrets name one cluster key, and no staged or journal file is left.
func consistent(t *testing.T, r secrets.Repo, id *secrets.Identity) {
	t.Helper()
	key, err := secrets.LoadClusterKey(r.ClusterKey, id)
	require.NoError(t, err)
	cfg, err := secrets.LoadSopsConfig(r.SopsConfig)
	require.NoError(t, err)
	require.Equal(t, key.Recipient, cfg.Cluster(), ".sops.yaml names another cluster key than the key file holds")
	entries, err := r.Store.Load()
	require.NoError(t, err)
	for _, e := range entries {
		got, err := secrets.Recipients(e.Encrypted)
		require.NoError(t, err)
		require.ElementsMatch(t, cfg.SecretRecipients(), got, "%s/%s", e.Namespace, e.Name)
	}
	for p := range snapshot(t, filepath.Dir(r.SopsConfig)) {
		base := filepath.Base(p)
		require.NotContains(t, base, ".rekey-new", "left over")
		require.NotContains(t, base, "journal", "left over")
		require.NotContains(t, base, ".tmp-", "left over")
	}
}

// TestConcurrentSetsLoseNothing runs eight `secrets set` of one Secret at
// once, each with its own key. Assertion: all eight keys are there.
// Before the lock, each set decrypted the old file and the last write
// won: updates were lost.
func TestConcurrentSetsLoseNothing(t *testing.T) {
	id := newIdentity(t)
	store := secrets.Store{Dir: t.TempDir()}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := store.Set("apps", "db", fmt.Sprintf("key-%d", i), []byte("v"), id, []string{id.Recipient})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	entries, err := store.Load()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Len(t, entries[0].Keys, 8, "updates were lost: %v", entries[0].Keys)
}

// TestSymlinkInTheStoreRedirectsNothing is an attacker with repository
// write access. Steps: they commit secrets/monitoring as a symbolic link
// to a directory outside the store. Assertion: `secrets set
// monitoring/x` writes nothing there and says why; Load refuses the link.
// Before the fix, the value was written through the link.
func TestSymlinkInTheStoreRedirectsNothing(t *testing.T) {
	id := newIdentity(t)
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	require.NoError(t, os.Mkdir(outside, 0o755))
	store := secrets.Store{Dir: filepath.Join(dir, "secrets")}
	require.NoError(t, os.MkdirAll(store.Dir, 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(store.Dir, "monitoring")))
	_, err := store.Set("monitoring", "x", "k", []byte("v"), id, []string{id.Recipient})
	require.Error(t, err)
	files, _ := os.ReadDir(outside)
	require.Empty(t, files, "the set wrote through the link")
	_, err = store.Load()
	require.ErrorContains(t, err, "is a symbolic link")

	// A link to a file inside the store is refused too.
	require.NoError(t, os.Remove(filepath.Join(store.Dir, "monitoring")))
	_, err = store.Set("apps", "db", "k", []byte("v"), id, []string{id.Recipient})
	require.NoError(t, err)
	require.NoError(t, os.Mkdir(filepath.Join(store.Dir, "monitoring"), 0o755))
	require.NoError(t, os.Symlink(store.Path("apps", "db"), store.Path("monitoring", "x")))
	_, err = store.Set("monitoring", "x", "k", []byte("v"), id, []string{id.Recipient})
	require.ErrorIs(t, err, secrets.ErrSymlink)
}
