package proxmox

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	gp "github.com/luthermonson/go-proxmox"

	model "github.com/funoffshore/homelab/constructs/proxmox"
)

// client is the API client of host h: its endpoint, the token, and its
// pinned certificate when the model has one.
func (o Options) client(h model.InventoryHost) *gp.Client {
	endpoint := h.Endpoint
	if o.Endpoint != nil {
		endpoint = o.Endpoint(h)
	}
	httpClient := o.HTTPClient
	if fp := cmp.Or(h.TLSFingerprint, o.Fingerprints[h.Name]); fp != "" {
		httpClient = pinnedClient(o.HTTPClient, fp)
	}
	return gp.NewClient(strings.TrimSuffix(endpoint, "/")+"/api2/json",
		gp.WithAPIToken(o.Token.ID, o.Token.Secret), gp.WithHTTPClient(httpClient))
}

// errTransient is a gateway error worth retrying.
type errTransient struct{ status string }

func (e errTransient) Error() string { return "transient: " + e.status }

type transientTransport struct{ base http.RoundTripper }

func (t transientTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	switch res.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		res.Body.Close()
		return nil, errTransient{status: res.Status}
	}
	return res, nil
}

// retry retries fn on transient failures with exponential backoff.
func (d *deployer) retry(ctx context.Context, fn func() error) error {
	backoff := d.opts.Backoff
	var err error
	for attempt := 0; attempt <= d.opts.Retries; attempt++ {
		if err = fn(); err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	return err
}

func transient(err error) bool {
	var te errTransient
	if errors.As(err, &te) {
		return true
	}
	// A certificate the client does not trust, or a server that speaks no
	// TLS, fails the same way on every try: say so at once.
	if errors.Is(err, ErrFingerprint) {
		return false
	}
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		header    tls.RecordHeaderError
	)
	if errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &header) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	s := err.Error()
	for _, code := range []string{"502 ", "503 ", "504 "} {
		if strings.Contains(s, code) {
			return true
		}
	}
	return false
}

// ErrFingerprint is a host certificate that is not the pinned one.
var ErrFingerprint = errors.New("the host's certificate does not match its pinned fingerprint")

// pinnedClient is base trusting exactly the certificate whose SHA-256
// fingerprint is fingerprint (the leaf the host presents), whoever signed
// it, and no other.
func pinnedClient(base *http.Client, fingerprint string) *http.Client {
	want := strings.ToUpper(strings.ReplaceAll(fingerprint, ":", ""))
	tlsConfig := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // verified below against the pinned fingerprint
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return ErrFingerprint
			}
			sum := sha256.Sum256(raw[0])
			if got := strings.ToUpper(hex.EncodeToString(sum[:])); got != want {
				return fmt.Errorf("%w (pinned %s)", ErrFingerprint, fingerprint)
			}
			return nil
		},
	}
	c := *base
	c.Transport = transientTransport{base: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment}}
	return &c
}
