package flux_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
	"github.com/funoffshore/homelab/pkg/deploy/flux"
	"github.com/funoffshore/homelab/pkg/secrets"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// markReady plays kustomize-controller: once the flux-system Kustomization
// exists, it reports it Ready.
func markReady(ctx context.Context, t *testing.T, api *testenv.APIServer) {
	go func() {
		for ctx.Err() == nil {
			k := &unstructured.Unstructured{}
			k.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
			k.SetKind("Kustomization")
			if err := api.Client.Get(ctx, types.NamespacedName{Namespace: "flux-system", Name: "flux-system"}, k); err == nil {
				unstructured.SetNestedSlice(k.Object, []any{map[string]any{
					"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "Applied revision: main@sha1:0",
					"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
				}}, "status", "conditions")
				if err := api.Client.Status().Update(ctx, k); err == nil {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
}

func TestBootstrap(t *testing.T) {
	api := testenv.StartAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	keyFile := filepath.Join(t.TempDir(), "age.key")
	if _, err := secrets.GenerateIdentity(keyFile); err != nil {
		t.Fatal(err)
	}
	id, _ := secrets.LoadIdentity(keyFile)
	store := secrets.Store{Dir: t.TempDir()}
	for k, v := range map[string]string{"identity": "-----BEGIN OPENSSH " + "PRIVATE KEY-----\ntest\n", "identity.pub": "ssh-ed25519 AAAA test", "known_hosts": "github.com ssh-ed25519 AAAA"} {
		if _, err := store.Set("flux-system", "flux-system", k, []byte(v), id, []string{id.Recipient}); err != nil {
			t.Fatal(err)
		}
	}
	enc, _ := os.ReadFile(store.Path("flux-system", "flux-system"))
	git, err := secrets.Decrypt(enc, id)
	require.NoError(t, err)
	app, _ := homelab.NewApp(nil)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	in := flux.Inputs{
		Components: files["kubernetes/flux/gotk-components.yaml"], Sync: files["kubernetes/flux/gotk-sync.yaml"],
		AgeKey: id.SecretKey(), GitCredentials: git,
	}
	log := &actionlog.Log{Path: filepath.Join(t.TempDir(), "actions.jsonl")}
	opts := flux.Options{Log: log, ReadyTimeout: time.Minute}

	t.Run("a dry run lists every object and writes nothing", func(t *testing.T) {
		changes, err := flux.Bootstrap(ctx, api.Client, in, flux.Options{DryRun: true})
		require.NoError(t, err)
		if len(changes) != 36 {
			t.Errorf("%d changes planned, want 36 (32 install objects, 2 Secrets, GitRepository, Kustomization)", len(changes))
		}
		ns := &corev1.Namespace{}
		if err := api.Client.Get(ctx, types.NamespacedName{Name: "flux-system"}, ns); err == nil {
			t.Error("a dry run created the flux-system namespace")
		}
	})
	t.Run("no revision before Flux is installed", func(t *testing.T) {
		rev, err := flux.AppliedRevision(ctx, api.Client)
		require.NoError(t, err)
		require.Empty(t, rev)
	})
	t.Run("bootstrap applies Flux and waits for it", func(t *testing.T) {
		markReady(ctx, t, api)
		changes, err := flux.Bootstrap(ctx, api.Client, in, opts)
		require.NoError(t, err)
		if len(changes) != 36 {
			t.Errorf("%d changes, want 36", len(changes))
		}
		s := &corev1.Secret{}
		if err := api.Client.Get(ctx, types.NamespacedName{Namespace: "flux-system", Name: "sops-age"}, s); err != nil || strings.TrimSpace(string(s.Data["age.agekey"])) != id.SecretKey() {
			t.Errorf("sops-age Secret: %v", err)
		}
		if err := api.Client.Get(ctx, types.NamespacedName{Namespace: "flux-system", Name: "flux-system"}, s); err != nil || string(s.Data["known_hosts"]) != "github.com ssh-ed25519 AAAA" {
			t.Errorf("Git credentials Secret: %v", err)
		}
	})
	t.Run("a second bootstrap changes nothing", func(t *testing.T) {
		before, _ := os.ReadFile(log.Path)
		changes, err := flux.Bootstrap(ctx, api.Client, in, opts)
		require.NoError(t, err)
		if len(changes) != 0 {
			t.Errorf("second bootstrap changed %v", changes)
		}
		after, _ := os.ReadFile(log.Path)
		if got := strings.Count(string(after), "\n") - strings.Count(string(before), "\n"); got != 2 {
			t.Errorf("second bootstrap logged %d entries, want only the readiness wait's start and end", got)
		}
	})
	t.Run("the revision Flux applied, for plan's review", func(t *testing.T) {
		k := &unstructured.Unstructured{}
		k.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
		k.SetKind("Kustomization")
		require.NoError(t, api.Client.Get(ctx, types.NamespacedName{Namespace: "flux-system", Name: "flux-system"}, k))
		rev, err := flux.AppliedRevision(ctx, api.Client)
		require.NoError(t, err)
		require.Empty(t, rev, "nothing applied yet")
		const applied = "main@sha1:0123456789abcdef0123456789abcdef01234567"
		require.NoError(t, unstructured.SetNestedField(k.Object, applied, "status", "lastAppliedRevision"))
		require.NoError(t, api.Client.Status().Update(ctx, k))
		rev, err = flux.AppliedRevision(ctx, api.Client)
		require.NoError(t, err)
		require.Equal(t, applied, rev)
		require.Equal(t, "0123456789abcdef0123456789abcdef01234567", flux.RevisionCommit(rev))
		require.Equal(t, "0123456789abcdef0123456789abcdef01234567", flux.RevisionCommit("main/0123456789abcdef0123456789abcdef01234567"))
		require.Empty(t, flux.RevisionCommit("v1.2.3@sha256:abc"))
	})
	t.Run("a Kustomization that stays failed is named with its reason", func(t *testing.T) {
		k := &unstructured.Unstructured{}
		k.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
		k.SetKind("Kustomization")
		require.NoError(t, api.Client.Get(ctx, types.NamespacedName{Namespace: "flux-system", Name: "flux-system"}, k))
		unstructured.SetNestedSlice(k.Object, []any{map[string]any{
			"type": "Ready", "status": "False", "reason": "ArtifactFailed", "message": "failed to checkout: auth required",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}}, "status", "conditions")
		require.NoError(t, api.Client.Status().Update(ctx, k))
		_, err := flux.Bootstrap(ctx, api.Client, in, flux.Options{Log: opts.Log, ReadyTimeout: time.Second})
		if err == nil || !strings.Contains(err.Error(), "ArtifactFailed: failed to checkout: auth required") {
			t.Fatalf("want the Kustomization's reason in the error, got %v", err)
		}
	})
	t.Run("the action log holds no secret", func(t *testing.T) {
		data, _ := os.ReadFile(log.Path)
		if strings.Contains(string(data), id.SecretKey()) || strings.Contains(string(data), "PRIVATE KEY") {
			t.Error("the action log holds a secret")
		}
		if !strings.Contains(string(data), `"target":"Secret/flux-system/sops-age","action":"create","result":"ok"`) {
			t.Errorf("the log lacks the sops-age creation:\n%s", data)
		}
	})
}
