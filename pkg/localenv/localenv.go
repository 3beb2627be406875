// Package localenv runs local stand-ins for a homelab's infrastructure (a
// real kube-apiserver, and simulators of Proxmox and Talos) in a helper
// process, homelab-testenv, and turns what the helper prints into clients
// and deploy inputs.
//
// The helper is a separate program so that the homelab command does not
// link the test servers and their dependencies: only `validate --local`,
// `plan --simulate` and `deploy --simulate` start it, and only they pay
// for it (and for the directories envtest creates).
package localenv

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	talossecrets "github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/kube"
	proxmodel "github.com/funoffshore/homelab/constructs/proxmox"
	talosmodel "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/deploy"
	pvedeploy "github.com/funoffshore/homelab/pkg/deploy/proxmox"
	talosdeploy "github.com/funoffshore/homelab/pkg/deploy/talos"
	"github.com/funoffshore/homelab/pkg/gobuild"
)

// HelperEnv names the helper program to run instead of looking it up.
const HelperEnv = "HOMELAB_TESTENV"

// HelperPackage is the helper's Go package, built on demand when the
// program is not installed.
const HelperPackage = "github.com/funoffshore/homelab/cmd/homelab-testenv"

// Handle is what the helper prints (one JSON line) once its services are
// up: how to reach them, with throwaway credentials made for the run.
type Handle struct {
	// Kubeconfig reaches the kube-apiserver as an admin.
	Kubeconfig []byte `json:"kubeconfig"`
	// Proxmox is the Proxmox API simulator (simulate mode only).
	Proxmox *Proxmox `json:"proxmox,omitempty"`
	// TalosNodes maps each node's hostname to its simulated Talos API
	// address (simulate mode only).
	TalosNodes map[string]string `json:"talosNodes,omitempty"`
	// TalosBundle is the Talos secrets bundle (YAML) the simulated nodes
	// trust.
	TalosBundle []byte `json:"talosBundle,omitempty"`
	// AgeKey and GitCredentials stand in for the Flux bootstrap secrets.
	AgeKey         string `json:"ageKey,omitempty"`
	GitCredentials []byte `json:"gitCredentials,omitempty"`
}

// Proxmox says how to reach the Proxmox API simulator.
type Proxmox struct {
	// URL is the base URL (https://127.0.0.1:port) for every host.
	URL string `json:"url"`
	// CA is the PEM certificate the simulator serves.
	CA                   []byte `json:"ca"`
	TokenID, TokenSecret string
}

// Simulation describes what the simulate mode stands in for.
type Simulation struct {
	TalosVersion string
	Hosts, Nodes []string
	// Identities are what each node's machine reports in maintenance
	// mode (by hostname): the identity of its VM, or an impostor's.
	Identities map[string]NodeIdentity
	// ProxmoxSchema is the Proxmox API schema the simulator validates
	// requests with ("" for none).
	ProxmoxSchema string
}

// SimulationFor describes simulators standing in for target's hosts and
// nodes, each node's machine reporting its VM's identity. schema is the
// Proxmox API schema ("" for none).
func SimulationFor(target deploy.Target, schema string) Simulation {
	spec := Simulation{TalosVersion: target.Cluster.TalosVersion, ProxmoxSchema: schema, Identities: map[string]NodeIdentity{}}
	for _, h := range target.Inventory.Hosts {
		spec.Hosts = append(spec.Hosts, h.Name)
	}
	for _, n := range target.Cluster.Nodes() {
		spec.Nodes = append(spec.Nodes, n.Hostname)
		if n.Machine != nil {
			uuid, mac := n.Machine.Identity()
			spec.Identities[n.Hostname] = NodeIdentity{UUID: uuid, MAC: mac}
		}
	}
	return spec
}

// NodeIdentity is what a machine reports about itself: its SMBIOS system
// UUID and its NIC's MAC address.
type NodeIdentity struct {
	UUID, MAC string
}

// Args returns the helper's command line for s.
func (s Simulation) Args() []string {
	args := []string{"simulate", "--talos-version", s.TalosVersion}
	for _, h := range s.Hosts {
		args = append(args, "--host", h)
	}
	for _, n := range s.Nodes {
		args = append(args, "--node", n)
		if id, ok := s.Identities[n]; ok {
			args = append(args, "--identity", n+"="+id.UUID+","+id.MAC)
		}
	}
	if s.ProxmoxSchema != "" {
		args = append(args, "--proxmox-schema", s.ProxmoxSchema)
	}
	return args
}

// Env is a running helper. Close stops it; the helper also stops when
// this process exits (its standard input closes).
type Env struct {
	Handle
	cmd   *exec.Cmd
	stdin io.WriteCloser
	once  sync.Once
	err   error
}

// StartAPIServer starts a local kube-apiserver and etcd.
func StartAPIServer(ctx context.Context, log io.Writer) (*Env, error) {
	return start(ctx, []string{"apiserver"}, log)
}

// StartSimulation starts the simulators and a kube-apiserver for s.
func StartSimulation(ctx context.Context, s Simulation, log io.Writer) (*Env, error) {
	return start(ctx, s.Args(), log)
}

func start(ctx context.Context, args []string, log io.Writer) (*Env, error) {
	if log == nil {
		log = io.Discard
	}
	helper, err := Helper(ctx, log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(helper, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr tail
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", helper, err)
	}
	e := &Env{cmd: cmd, stdin: stdin}
	line := make(chan []byte, 1)
	go func() {
		r := bufio.NewReaderSize(stdout, 1<<20)
		b, _ := r.ReadBytes('\n')
		line <- b
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case b := <-line:
		if len(b) == 0 {
			e.Close()
			return nil, fmt.Errorf("%s %s failed: %s", filepath.Base(helper), args[0], stderr.String())
		}
		if err := json.Unmarshal(b, &e.Handle); err != nil {
			e.Close()
			return nil, fmt.Errorf("%s printed %q: %w", filepath.Base(helper), b, err)
		}
		return e, nil
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("waiting for %s: %w", filepath.Base(helper), ctx.Err())
	}
}

// Close stops the helper and waits for it (at most 30 s, then kills it).
// It is safe to call more than once.
func (e *Env) Close() error {
	e.once.Do(func() {
		e.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- e.cmd.Wait() }()
		select {
		case e.err = <-done:
		case <-time.After(30 * time.Second):
			_ = e.cmd.Process.Kill()
			e.err = <-done
		}
	})
	return e.err
}

// Client returns a client for the kube-apiserver with kube.Scheme.
func (h *Handle) Client() (client.Client, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(h.Kubeconfig)
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: kube.Scheme})
}

// Inputs returns deploy inputs that reach the simulators.
func (h *Handle) Inputs() (deploy.Inputs, error) {
	var in deploy.Inputs
	if h.Proxmox == nil {
		return in, errors.New("the helper runs no simulation")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(h.Proxmox.CA) {
		return in, errors.New("the Proxmox simulator's CA is not PEM")
	}
	bundle := &talossecrets.Bundle{}
	if err := yaml.Unmarshal(h.TalosBundle, bundle); err != nil {
		return in, fmt.Errorf("the simulated Talos bundle: %w", err)
	}
	bundle.Clock = talossecrets.NewFixedClock(time.Now())
	kc, err := h.Client()
	if err != nil {
		return in, err
	}
	in = deploy.Inputs{
		Proxmox: pvedeploy.Options{
			Token:      pvedeploy.Token{ID: h.Proxmox.TokenID, Secret: h.Proxmox.TokenSecret},
			HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
			Backoff:    10 * time.Millisecond,
			Endpoint:   func(proxmodel.InventoryHost) string { return h.Proxmox.URL },
		},
		Talos: talosdeploy.Options{
			Address: func(n *talosmodel.Node) string { return h.TalosNodes[n.Hostname] },
			Timeout: 30 * time.Second,
		},
		Bundle: bundle, AgeKey: h.AgeKey, GitCredentials: h.GitCredentials,
		Kube:             func([]byte) (client.Client, error) { return kc, nil },
		FluxReadyTimeout: time.Minute,
	}
	return in, nil
}

// Helper returns the helper program: $HOMELAB_TESTENV, else
// homelab-testenv beside the running program or on PATH, else one built
// with `go build` from the module in the working directory (the homelab
// repository, or a module that requires it) into the user cache.
func Helper(ctx context.Context, log io.Writer) (string, error) {
	if p := os.Getenv(HelperEnv); p != "" {
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "homelab-testenv")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("homelab-testenv"); err == nil {
		return p, nil
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", fmt.Errorf("the homelab-testenv helper is not installed: go install %s", HelperPackage)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(cache, "homelab", "bin", "homelab-testenv")
	b := gobuild.Build{Name: "the homelab-testenv helper", Pkg: HelperPackage, Out: out, Log: log}
	if err := b.Run(ctx); err != nil {
		return "", fmt.Errorf("%w; install it with: go install %s", err, HelperPackage)
	}
	return out, nil
}

// tail keeps the last 4 KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
