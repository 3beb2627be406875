package secrets_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/kube"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/funoffshore/homelab/pkg/secrets"
)

// issue signs a leaf for names as cert-manager's CA issuer does at the
// pinned release: the Secret's tls.crt and tls.key read with its own
// parsers (pkg/util/kube, the CA issuer's Setup refuses a certificate
// that is not a CA), the template made from a Certificate resource and
// signed with pki.SignCertificate.
func issue(t *testing.T, root *secrets.RootCA, names ...string) *x509.Certificate {
	t.Helper()
	sec := &corev1.Secret{Data: map[string][]byte{corev1.TLSCertKey: root.CertPEM, corev1.TLSPrivateKeyKey: root.KeyPEM}}
	signer, _, err := kube.ParseTLSKeyFromSecret(sec, corev1.TLSPrivateKeyKey)
	require.NoError(t, err, "cert-manager reads the root's key")
	chain, err := pki.DecodeX509CertificateChainBytes(sec.Data[corev1.TLSCertKey])
	require.NoError(t, err, "cert-manager reads the root's certificate")
	require.True(t, chain[0].IsCA, "the CA issuer refuses a certificate that is not a CA")
	tmpl, err := pki.CertificateTemplateFromCertificate(&cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "leaf", Namespace: "apps"},
		Spec: cmapi.CertificateSpec{DNSNames: names, SecretName: "leaf",
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256}},
	})
	require.NoError(t, err)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, leaf, err := pki.SignCertificate(tmpl, chain[0], &leafKey.PublicKey, signer)
	require.NoError(t, err)
	return leaf
}

// TestRootCA: cert-manager's CA issuer accepts the root and signs with
// it; a device that trusts the root accepts a certificate for a homelab
// name, and — the attack — refuses one for any other site signed with
// the same key (a stolen key, or a compromised cert-manager), because the
// root is name-constrained to the CA's domains.
func TestRootCA(t *testing.T) {
	root, err := secrets.NewRootCA("homelab CA", []string{"home.arpa"}, 10*365*24*time.Hour, time.Now())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	verify := func(leaf *x509.Certificate, name string) error {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		return err
	}

	t.Run("a homelab name verifies", func(t *testing.T) {
		leaf := issue(t, root, "nas.home.arpa", "*.lab.home.arpa")
		assert.NoError(t, verify(leaf, "nas.home.arpa"))
		assert.NoError(t, verify(leaf, "grafana.lab.home.arpa"))
	})
	t.Run("attacker: a certificate for another site signed with the root is refused", func(t *testing.T) {
		for _, name := range []string{"bank.example.com", "home.arpa.example.com", "accounts.google.com"} {
			leaf := issue(t, root, name)
			err := verify(leaf, name)
			var invalid x509.CertificateInvalidError
			require.True(t, errors.As(err, &invalid), "%s: a device trusting the homelab root accepts it: %v", name, err)
			assert.Equal(t, x509.CANotAuthorizedForThisName, invalid.Reason, name)
		}
	})
	t.Run("the root signs leaves, not further CAs", func(t *testing.T) {
		assert.True(t, root.Cert.MaxPathLenZero)
		assert.Equal(t, []string{"home.arpa"}, root.Cert.PermittedDNSDomains)
		assert.True(t, root.Cert.PermittedDNSDomainsCritical)
	})
	t.Run("a root for no domain is refused", func(t *testing.T) {
		_, err := secrets.NewRootCA("x", nil, time.Hour, time.Now())
		require.Error(t, err)
	})
}
