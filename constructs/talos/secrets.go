package talos

import (
	"encoding/base64"
	"time"

	"github.com/siderolabs/crypto/x509"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
)

// Placeholder marks every secret and certificate in committed machine
// configs. The deployer renders the real configs from the encrypted bundle.
const Placeholder = "PLACEHOLDER-not-a-secret"

// placeholderToken has the shape of a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}).
const placeholderToken = "placeh.oldernotsecretxx"

// PlaceholderBundle returns the fixed secrets bundle committed machine
// configs are rendered from: every key, token, certificate and ID is a
// placeholder, so the configs are the same whoever runs synth and hold no
// secret. It is not usable to run a cluster.
func PlaceholderBundle() *secrets.Bundle {
	pem := func(kind string) []byte {
		return []byte("-----BEGIN " + kind + "-----\n" + base64.StdEncoding.EncodeToString([]byte(Placeholder)) + "\n-----END " + kind + "-----\n")
	}
	pair := func() *x509.PEMEncodedCertificateAndKey {
		return &x509.PEMEncodedCertificateAndKey{Crt: pem("CERTIFICATE"), Key: pem("PRIVATE KEY")}
	}
	b64 := base64.StdEncoding.EncodeToString([]byte("PLACEHOLDER-not-a-secret-32byte!"))
	return &secrets.Bundle{
		Clock:      secrets.NewFixedClock(time.Unix(0, 0).UTC()),
		Cluster:    &secrets.Cluster{ID: b64, Secret: b64},
		Secrets:    &secrets.Secrets{BootstrapToken: placeholderToken, SecretboxEncryptionSecret: b64},
		TrustdInfo: &secrets.TrustdInfo{Token: placeholderToken},
		Certs: &secrets.Certs{
			Etcd: pair(), K8s: pair(), K8sAggregator: pair(), OS: pair(),
			K8sServiceAccount: &x509.PEMEncodedKey{Key: pem("PRIVATE KEY")},
		},
	}
}
