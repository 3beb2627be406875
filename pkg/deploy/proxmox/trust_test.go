package proxmox_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	model "github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/deploy/proxmox"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/testenv/pvesim"
)

// tokenThief is a man in the middle: a TLS server with its own
// self-signed certificate that records every Authorization header.
type tokenThief struct {
	*httptest.Server
	mu     sync.Mutex
	stolen []string
}

func newTokenThief(t *testing.T) *tokenThief {
	th := &tokenThief{}
	th.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		th.mu.Lock()
		if a := r.Header.Get("Authorization"); a != "" {
			th.stolen = append(th.stolen, a)
		}
		th.mu.Unlock()
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	// A certificate of its own: httptest's built-in one is the
	// simulator's too.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pve-1"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	th.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	th.StartTLS()
	t.Cleanup(th.Close)
	return th
}

func (th *tokenThief) got() []string {
	th.mu.Lock()
	defer th.mu.Unlock()
	return append([]string(nil), th.stolen...)
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var parts []string
	for _, b := range sum {
		parts = append(parts, fmt.Sprintf("%02X", b))
	}
	return strings.Join(parts, ":")
}

// TestManInTheMiddleGetsNoToken is an attacker between the operator and a
// Proxmox host whose certificate is self-signed (the default). Steps: the
// attacker answers on the host's address with a certificate of their own.
// Assertion: whatever the operator does short of accepting the
// attacker's fingerprint, the attacker never sees the API token: before
// the host is trusted only a TLS handshake is made, and once it is
// pinned, a certificate other than the pinned one is refused before any
// request.
//
// Before the fix, the documented --proxmox-insecure skipped verification
// and the first request carried "PVEAPIToken=root@pam!homelab=...".
func TestManInTheMiddleGetsNoToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	real, err := pvesim.New(testenv.Fixture(t, fixtures.ProxmoxSchema), "pve-1", "pve-2")
	require.NoError(t, err)
	t.Cleanup(real.Close)
	thief := newTokenThief(t)
	_, h := homelab.NewApp(nil)
	knownHosts := filepath.Join(t.TempDir(), "proxmox_known_hosts")
	at := func(url string) func(model.InventoryHost) string {
		return func(model.InventoryHost) string { return url }
	}
	opts := func(endpoint string, pins map[string]string) proxmox.Options {
		return proxmox.Options{Token: proxmox.Token{ID: "root@pam!homelab", Secret: tokenSecret}, Backoff: time.Millisecond,
			HTTPClient: &http.Client{}, Endpoint: at(endpoint), Fingerprints: pins}
	}

	// First use, attacker in the middle, the operator compares the
	// fingerprint with the host's and refuses it.
	asked := ""
	trust := proxmox.Trust{KnownHosts: knownHosts, Endpoint: at(thief.URL), Confirm: func(_ model.InventoryHost, fp string) bool { asked = fp; return false }}
	_, err = trust.Pins(ctx, h.Datacenter.Inventory().Hosts)
	require.ErrorIs(t, err, proxmox.ErrUntrusted)
	require.Equal(t, fingerprint(thief.Certificate().Raw), asked, "the operator was not shown the certificate's fingerprint")
	require.Empty(t, thief.got(), "the token went out before the host was trusted")

	// First use without the attacker: the operator accepts the real
	// host's certificate; it is recorded and the deployer works.
	trust.Endpoint, trust.Confirm = at(real.TS.URL), func(model.InventoryHost, string) bool { return true }
	pins, err := trust.Pins(ctx, h.Datacenter.Inventory().Hosts)
	require.NoError(t, err)
	require.Equal(t, fingerprint(real.TS.Certificate().Raw), pins["pve-1"])
	_, err = proxmox.NewPlan(ctx, h.Datacenter.Inventory(), opts(real.TS.URL, pins))
	require.NoError(t, err)
	data, err := os.ReadFile(knownHosts)
	require.NoError(t, err)
	require.Contains(t, string(data), fingerprint(real.TS.Certificate().Raw))

	// Later, the attacker steps in: the recorded fingerprint does not
	// match, and no question is asked.
	trust.Endpoint, trust.Confirm = at(thief.URL), func(model.InventoryHost, string) bool { t.Error("asked again for a host already known"); return true }
	_, err = trust.Pins(ctx, h.Datacenter.Inventory().Hosts)
	require.ErrorIs(t, err, proxmox.ErrUntrusted)
	require.ErrorContains(t, err, "someone may be intercepting the connection")

	// And a deployer that holds the pin talks to no other certificate.
	_, err = proxmox.NewPlan(ctx, h.Datacenter.Inventory(), opts(thief.URL, pins))
	require.True(t, errors.Is(err, proxmox.ErrFingerprint), "got %v", err)
	require.Empty(t, thief.got(), "the token reached the man in the middle")
}
