package proxmox

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	model "github.com/funoffshore/homelab/constructs/proxmox"
)

// ErrUntrusted is a host whose certificate nothing vouches for and the
// operator did not accept.
var ErrUntrusted = errors.New("the host's certificate is not trusted")

// Trust decides which certificate each Proxmox host may present before
// the deployer sends it the API token: the model's TLSFingerprint, a
// certificate the system (or Roots) trusts for the host's name, a
// fingerprint recorded in the known-hosts file, or, on first use, the one
// the operator accepts after comparing it with the host's own (trust on
// first use, as ssh does). Reading a certificate takes a TLS handshake
// only: no request, so no token, is sent to a host not yet trusted.
type Trust struct {
	// KnownHosts is the file of accepted fingerprints, one "ENDPOINT
	// FINGERPRINT" per line.
	KnownHosts string
	// Roots verifies host certificates; nil uses the system's.
	Roots *x509.CertPool
	// Confirm asks the operator whether to trust fingerprint for h; nil
	// trusts no new certificate.
	Confirm func(h model.InventoryHost, fingerprint string) bool
	// Endpoint overrides a host's endpoint (tests).
	Endpoint func(h model.InventoryHost) string
}

// Pins returns, by host name, the fingerprint to pin for each host that
// the model does not pin and Roots does not vouch for. A certificate that
// differs from the recorded one fails: a man in the middle, or a new
// certificate the operator must accept by removing the old line.
func (t Trust) Pins(ctx context.Context, hosts []model.InventoryHost) (map[string]string, error) {
	known, err := readKnownHosts(t.KnownHosts)
	if err != nil {
		return nil, err
	}
	pins := map[string]string{}
	for _, h := range hosts {
		if h.TLSFingerprint != "" {
			continue
		}
		endpoint := h.Endpoint
		if t.Endpoint != nil {
			endpoint = t.Endpoint(h)
		}
		fp, verified, err := peek(ctx, endpoint, t.Roots)
		if err != nil {
			return nil, fmt.Errorf("proxmox %s: reading its certificate: %w", h.Name, err)
		}
		if verified {
			continue
		}
		switch have, ok := known[h.Endpoint]; {
		case ok && have == fp:
			pins[h.Name] = fp
		case ok:
			return nil, fmt.Errorf("proxmox %s: %w: %s presents certificate %s, but %s records %s: someone may be intercepting the connection; if the host's certificate was replaced, check the new one on the host (pvenode cert info) and remove the old line",
				h.Name, ErrUntrusted, h.Endpoint, fp, t.KnownHosts, have)
		case t.Confirm != nil && t.Confirm(h, fp):
			if err := appendKnownHost(t.KnownHosts, h.Endpoint, fp); err != nil {
				return nil, err
			}
			pins[h.Name] = fp
		default:
			return nil, fmt.Errorf("proxmox %s: %w: %s presents a certificate no CA you trust signed, SHA-256 fingerprint %s; compare it with the host's (pvenode cert info, or the web UI: System > Certificates) and pin it: ProxmoxHostProps.TLSFingerprint in the homelab, or answer yes when deploy asks, or --proxmox-ca with the cluster's /etc/pve/pve-root-ca.pem",
				h.Name, ErrUntrusted, h.Endpoint, fp)
		}
	}
	return pins, nil
}

// peek does a TLS handshake with endpoint and returns the SHA-256
// fingerprint of the leaf certificate (colon-separated hex, as Proxmox
// shows it) and whether roots verify it for the endpoint's host name.
func peek(ctx context.Context, endpoint string, roots *x509.CertPool) (string, bool, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", false, fmt.Errorf("endpoint %q is not a URL", endpoint)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "8006")
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // only reads the certificate; nothing is sent over this connection
		MinVersion:         tls.VersionTLS12,
	}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", false, err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", false, errors.New("no certificate")
	}
	sum := sha256.Sum256(certs[0].Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, verr := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: u.Hostname()})
	return strings.Join(parts, ":"), verr == nil, nil
}

func readKnownHosts(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && !strings.HasPrefix(fields[0], "#") {
			out[fields[0]] = fields[1]
		}
	}
	return out, sc.Err()
}

func appendKnownHost(path, endpoint, fp string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%s %s\n", endpoint, fp); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
