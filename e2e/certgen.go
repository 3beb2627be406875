package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// certgenStandIn does what the charts' kube-webhook-certgen `create` Jobs
// (ingress-nginx, the Prometheus operator) do when they run: it makes the
// webhook's TLS Secret (keys ca, cert, key) for the hosts the Job names.
// Their pods only complete on fake nodes, and a ServiceMonitor whose TLS
// configuration reads that Secret would otherwise be rejected.
func (c *Cluster) certgenStandIn(ctx context.Context) {
	done := map[string]bool{}
	for {
		var jobs batchv1.JobList
		if err := c.Client.List(ctx, &jobs); err == nil {
			for _, j := range jobs.Items {
				if done[string(j.UID)] {
					continue
				}
				ns, name, hosts, ok := certgenCreate(&j)
				if !ok {
					continue
				}
				if err := c.createCertSecret(ctx, ns, name, hosts); err == nil {
					done[string(j.UID)] = true
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// certgenCreate reads a kube-webhook-certgen `create` Job: the Secret's
// namespace and name, and the hosts of the certificate.
func certgenCreate(j *batchv1.Job) (ns, name string, hosts []string, ok bool) {
	for _, ctr := range j.Spec.Template.Spec.Containers {
		if !strings.Contains(ctr.Image, "kube-webhook-certgen") || len(ctr.Args) == 0 || ctr.Args[0] != "create" {
			continue
		}
		vars := map[string]string{}
		for _, e := range ctr.Env {
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace" {
				vars[e.Name] = j.Namespace
			} else {
				vars[e.Name] = e.Value
			}
		}
		ns = j.Namespace
		for _, a := range ctr.Args[1:] {
			for k, v := range vars {
				a = strings.ReplaceAll(a, "$("+k+")", v)
			}
			key, value, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			switch key {
			case "namespace":
				ns = value
			case "secret-name":
				name = value
			case "host":
				hosts = strings.Split(value, ",")
			}
		}
		return ns, name, hosts, name != ""
	}
	return "", "", nil, false
}

func (c *Cluster) createCertSecret(ctx context.Context, ns, name string, hosts []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data: map[string][]byte{"ca": cert, "cert": cert,
			"key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})},
	}
	if err := c.Client.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
