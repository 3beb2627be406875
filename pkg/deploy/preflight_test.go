package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/pkg/deploy"
	"github.com/funoffshore/homelab/pkg/secrets"
)

// TestSecretsPreflight: before Flux is touched, every encrypted file it
// will apply must open with the cluster key the deployer uploads, under a
// Kustomization that decrypts with that key's Secret; each problem names
// the file, and all are listed at once.
func TestSecretsPreflight(t *testing.T) {
	identity := func(name string) *secrets.Identity {
		p := filepath.Join(t.TempDir(), name)
		_, err := secrets.GenerateIdentity(p)
		require.NoError(t, err)
		id, err := secrets.LoadIdentity(p)
		require.NoError(t, err)
		return id
	}
	cluster, other := identity("cluster.key"), identity("other.key")
	encrypted := func(id *secrets.Identity) []byte {
		store := secrets.Store{Dir: t.TempDir()}
		_, err := store.Set("apps", "db", "password", []byte("hunter2"), id, []string{id.Recipient})
		require.NoError(t, err)
		data, err := os.ReadFile(store.Path("apps", "db"))
		require.NoError(t, err)
		return data
	}
	kustomization := func(decryption string) []byte {
		return []byte(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec: {path: ./cluster/kubernetes/apps, prune: true, interval: 10m, sourceRef: {kind: GitRepository, name: flux-system}` + decryption + `}
`)
	}
	const sopsAge = ", decryption: {provider: sops, secretRef: {name: sops-age}}"
	tree := func(ks, file []byte) map[string][]byte {
		return map[string][]byte{"kubernetes/flux/apps.yaml": ks, "kubernetes/apps/db.sops.yaml": file,
			"kubernetes/apps/kustomization.yaml": []byte("resources: [db.sops.yaml]\n")}
	}

	require.NoError(t, deploy.SecretsPreflight(tree(kustomization(sopsAge), encrypted(cluster)), cluster.SecretKey(), "cluster"))
	require.NoError(t, deploy.SecretsPreflight(map[string][]byte{"kubernetes/flux/apps.yaml": kustomization("")}, "", "cluster"), "nothing encrypted, nothing to check")

	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"a file encrypted for another key", tree(kustomization(sopsAge), encrypted(other)),
			"kubernetes/apps/db.sops.yaml: the cluster key (" + cluster.Recipient + ") cannot decrypt it, so Flux could not apply it"},
		{"a Kustomization without decryption", tree(kustomization(""), encrypted(cluster)),
			`kubernetes/apps/db.sops.yaml: Flux Kustomization flux-system/apps applies it but decrypts with provider "" and Secret ""; it needs decryption {provider: sops, secretRef: {name: sops-age}}`},
		{"decryption with a Secret the deployer does not upload", tree(kustomization(", decryption: {provider: sops, secretRef: {name: sops-gpg}}"), encrypted(cluster)),
			`decrypts with provider "sops" and Secret "sops-gpg"`},
		{"an encrypted file no Kustomization applies", map[string][]byte{"kubernetes/media/db.sops.yaml": encrypted(cluster), "kubernetes/flux/apps.yaml": kustomization(sopsAge)},
			"kubernetes/media/db.sops.yaml: no Flux Kustomization applies this encrypted file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := deploy.SecretsPreflight(tc.files, cluster.SecretKey(), "cluster")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "hunter2")
			assert.NotContains(t, err.Error(), strings.TrimPrefix(cluster.SecretKey(), "AGE-SECRET-KEY-"), "the key stays out of errors")
		})
	}
	t.Run("not an age key", func(t *testing.T) {
		err := deploy.SecretsPreflight(tree(kustomization(sopsAge), encrypted(cluster)), "nonsense", "cluster")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the cluster key for Flux: not an age secret key")
	})
}
