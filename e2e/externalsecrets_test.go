//go:build e2e

package e2e_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/externalsecrets"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/e2e"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/manifest"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
)

// vaultStandIn answers the two calls of Vault's HTTP API the operator
// makes for a Kubernetes-auth KV v2 store, as Vault documents them: the
// login (PUT or POST, which Vault treats alike, /v1/auth/<mount>/login
// with the role and the service account's token, which it checks with the
// cluster's TokenReview, as Vault's Kubernetes auth method does), the
// token's lookup (GET /v1/auth/token/lookup-self, the store's validation)
// and the read (GET /v1/<mount>/data/<path> with the token it issued). It is a stand-in:
// Vault is BUSL-licensed and OpenBao is not served by the module proxy.
type vaultStandIn struct {
	t      *testing.T
	kube   client.Client
	role   string
	secret map[string]map[string]any // path -> data

	mu       sync.Mutex
	logins   []string // the service accounts that logged in
	unknown  []string
	readsFor []string
}

func (v *vaultStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case (r.Method == http.MethodPost || r.Method == http.MethodPut) && r.URL.Path == "/v1/auth/kubernetes/login":
		var body struct{ Role, JWT string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Role != v.role {
			http.Error(w, `{"errors":["invalid role"]}`, http.StatusBadRequest)
			return
		}
		review := &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: body.JWT}}
		if err := v.kube.Create(r.Context(), review); err != nil || !review.Status.Authenticated {
			http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
			return
		}
		v.logins = append(v.logins, review.Status.User.Username)
		writeJSON(w, map[string]any{"auth": map[string]any{"client_token": "s.standin", "lease_duration": 3600, "renewable": true, "policies": []string{"homelab"}}})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/auth/token/lookup-self":
		// The store's validation checks the token it logged in with.
		if r.Header.Get("X-Vault-Token") != "s.standin" {
			http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
			return
		}
		writeJSON(w, map[string]any{"data": map[string]any{"id": "s.standin", "ttl": 3600, "renewable": true, "policies": []string{"homelab"}, "type": "service",
			"expire_time": time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)}})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/secret/data/"):
		if r.Header.Get("X-Vault-Token") != "s.standin" {
			http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/v1/secret/data/")
		data, ok := v.secret[path]
		if !ok {
			http.Error(w, `{"errors":[]}`, http.StatusNotFound)
			return
		}
		v.readsFor = append(v.readsFor, path)
		writeJSON(w, map[string]any{"data": map[string]any{"data": data, "metadata": map[string]any{"version": 1}}})
	default:
		v.unknown = append(v.unknown, r.Method+" "+r.URL.Path)
		http.Error(w, `{"errors":["unsupported path"]}`, http.StatusNotFound)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// TestExternalSecretFromVault: the External Secrets Operator's own
// controller (v0.16.2, built from the module proxy by hack/e2e.sh), a
// real kube-apiserver with the chart's CRDs (external-secrets 2.9.0),
// the ClusterSecretStore and ExternalSecret as the constructs render them
// (the store's CA from the homelab CA's Secret, Kubernetes auth with the
// operator's service account), and a Vault-API stand-in: the operator
// logs in as its service account and makes the Secret the apps read,
// under its name, with the value from the store.
func TestExternalSecretFromVault(t *testing.T) {
	binDir := os.Getenv(e2e.BinDirEnv)
	if binDir == "" {
		t.Fatalf("%s is not set: run `make e2e` (it builds the programs with hack/e2e.sh)", e2e.BinDirEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	api := testenv.StartAPIServer(t)
	c := api.Client

	// The chart's CRDs, as helm-controller installs them.
	var crds []client.Object
	for _, o := range testenv.DecodeYAML(t, testenv.ReadFixture(t, fixtures.ExternalSecretsCRDs)) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, crd))
		require.NoError(t, c.Create(ctx, crd))
		crds = append(crds, crd)
	}
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, crd := range crds {
			var got apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKeyFromObject(crd), &got); err != nil {
				return false, nil
			}
			established := false
			for _, cond := range got.Status.Conditions {
				established = established || (cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue)
			}
			if !established {
				return false, nil
			}
		}
		return true, nil
	}))

	standIn := &vaultStandIn{t: t, kube: c, role: "ha-homelab", secret: map[string]map[string]any{"ha/wiki-db": {"password": "from vault"}}}
	srv := httptest.NewTLSServer(standIn)
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	// The tree: the store and the Secret from Vault, rendered by synth.
	app := core.NewApp(nil)
	config := kube.NewChart(app, "platform-config", &kube.ChartProps{Dir: "kubernetes/platform-config"})
	appsChart := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"})
	for _, ns := range []string{"apps", "external-secrets", "cert-manager"} {
		kube.NewNamespace(config, "ns-"+ns, &kube.NamespaceProps{Name: ns})
	}
	secret.New(config, "homelab-ca", &secret.Props{Namespace: "cert-manager", Keys: []string{"tls.crt", "tls.key"}})
	store := externalsecrets.NewVaultStore(config, "vault", "external-secrets", "external-secrets", &externalsecrets.VaultProps{
		Server: srv.URL, CASecret: &externalsecrets.SecretKey{Namespace: "cert-manager", Name: "homelab-ca", Key: "tls.crt"},
		Kubernetes: &externalsecrets.KubernetesAuth{Role: "ha-homelab"},
	})
	secret.New(appsChart, "wiki-db", &secret.Props{Namespace: "apps", Keys: []string{"password"},
		External: &secret.External{Store: store.Name, Path: "ha/wiki-db", Refresh: time.Minute}})
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	var objs []*unstructured.Unstructured
	for _, p := range files.Paths() {
		if strings.HasPrefix(p, "kubernetes/") && !strings.HasSuffix(p, "kustomization.yaml") {
			decoded, err := manifest.Decode(files[p])
			require.NoError(t, err, p)
			objs = append(objs, decoded...)
		}
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			require.NoError(t, c.Create(ctx, o.DeepCopy()))
		}
	}
	// What the chart and the SOPS store would have made: the operator's
	// service account, the CA's Secret.
	require.NoError(t, c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "external-secrets", Name: "external-secrets"}}))
	require.NoError(t, c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "cert-manager", Name: "homelab-ca"},
		Data: map[string][]byte{"tls.crt": caPEM, "tls.key": []byte("not used")}}))
	for _, o := range objs {
		if o.GetKind() == "ClusterSecretStore" || o.GetKind() == "ExternalSecret" {
			require.NoError(t, c.Create(ctx, o.DeepCopy()), "%s %s", o.GetKind(), o.GetName())
		}
	}

	// The operator's controller, as the chart runs it (its own metrics
	// port off; the reconcilers of kinds the tree does not use off).
	kubeconfig := api.Kubeconfig(t)
	logPath := filepath.Join(t.TempDir(), "external-secrets.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "external-secrets"), "--metrics-addr=0", "--concurrent=1", "--loglevel=debug",
		"--enable-cluster-external-secret-reconciler=false", "--enable-push-secret-reconciler=false", "--enable-cluster-push-secret-reconciler=false")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) > 6 {
				lines = lines[len(lines)-6:]
			}
			t.Logf("operator log (tail):\n%s", strings.Join(lines, "\n"))
			standIn.mu.Lock()
			t.Logf("stand-in: logins %v, reads %v, unknown %v", standIn.logins, standIn.readsFor, standIn.unknown)
			standIn.mu.Unlock()
		}
	}()

	var made corev1.Secret
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "wiki-db"}, &made)
		return err == nil && string(made.Data["password"]) == "from vault", nil
	})
	require.NoError(t, err, "the operator did not make apps/wiki-db with the value from Vault")
	require.Len(t, made.OwnerReferences, 1)
	require.Equal(t, "ExternalSecret", made.OwnerReferences[0].Kind, "creationPolicy Owner")
	standIn.mu.Lock()
	defer standIn.mu.Unlock()
	require.Contains(t, standIn.logins, "system:serviceaccount:external-secrets:external-secrets", "the operator logs in as the service account the store names")
	require.Contains(t, standIn.readsFor, "ha/wiki-db")
}
