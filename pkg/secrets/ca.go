package secrets

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// RootCA is a certificate authority's root: its PEM certificate (public,
// what devices install) and PEM private key (a secret).
type RootCA struct {
	CertPEM, KeyPEM []byte
	Cert            *x509.Certificate
}

// NewRootCA makes a self-signed root for the homelab's internal CA
// (cert-manager's CA issuer signs with it): an ECDSA P-256 key, valid for
// validity from now, that may sign leaf certificates only (no
// intermediate), and only for names under domains: an X.509 name
// constraint (RFC 5280, 4.2.1.10), which browsers and Go's verifier
// enforce, so a device that trusts the root trusts it for the homelab's
// names and for no other site, even if the key leaks.
func NewRootCA(commonName string, domains []string, validity time.Duration, now time.Time) (*RootCA, error) {
	if len(domains) == 0 {
		return nil, errors.New("a root CA needs the domains it may sign for (the CA issuer's domains)")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	ski := sha256.Sum256(pub)
	tmpl := &x509.Certificate{
		SerialNumber:                serial,
		Subject:                     pkix.Name{CommonName: commonName},
		NotBefore:                   now.Add(-time.Hour),
		NotAfter:                    now.Add(validity),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLenZero:              true,
		SubjectKeyId:                ski[:20],
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         domains,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("signing the root: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &RootCA{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		Cert:    cert,
	}, nil
}
