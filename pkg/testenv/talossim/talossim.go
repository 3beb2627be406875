// Package talossim simulates Talos nodes for the deployer's tests: one gRPC
// MachineService per node on a loopback port. A node in maintenance mode
// serves a self-signed certificate, asks for no client certificate and
// accepts only ApplyConfiguration, with a config that Talos machinery loads
// and validates (metal mode) and whose machine CA is the cluster's. Once
// configured it serves a certificate signed by the cluster's Talos API CA
// and requires client certificates from it (mutual TLS), as a real node
// does; a control plane then accepts Bootstrap exactly once and serves the
// kubeconfig.
package talossim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	stdx509 "crypto/x509"
	"errors"

	"fmt"
	"io"
	"net"
	"sync"
	"time"

	cosiv1alpha1 "github.com/cosi-project/runtime/api/v1alpha1"
	"github.com/cosi-project/runtime/pkg/state"
	"github.com/cosi-project/runtime/pkg/state/protobuf/server"
	"github.com/siderolabs/crypto/x509"
	"github.com/siderolabs/talos/pkg/machinery/api/common"
	machineapi "github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/resources/network"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/funoffshore/homelab/pkg/validate"
)

// errUnavailable is what an injected failure returns.
var errUnavailable = status.Error(codes.Unavailable, "simulated: connection reset while the node reboots")

// Node is one simulated Talos node.
type Node struct {
	// Name and Addr ("127.0.0.1:port") of the node.
	Name, Addr string

	sim             *Sim
	srv             *grpc.Server
	lis             net.Listener
	configured      bool
	role            machine.Type
	config          []byte
	bootstrapped    bool
	snapshot        []byte
	recovered       bool
	state           state.State
	version         string
	reboots         int
	rollBack        bool           // the next upgrade fails to boot: Talos falls back to the running release
	image           string         // the installer image it last installed
	upgrades        []string       // installer images of the upgrades, in order
	refusedUpgrades []string       // installer images the pre-flight check refused, with why
	fail            map[string]int // rpc -> calls left to fail on this node
	etcdLeft        bool           // removed from etcd's membership
	resets          int
	down            bool   // stopped: answers nothing, its kubelet reports nothing
	staged          []byte // config staged for the next reboot
}

// Sim is a set of simulated nodes sharing a cluster CA.
type Sim struct {
	mu sync.Mutex // guards the nodes' state and writes
	// kubelets is held through each RunKubelets round; a reset or a stop
	// waits for it, as a real one stops the kubelet before it returns.
	kubelets sync.Mutex
	nodes    map[string]*Node
	ca       *x509.CertificateAuthority
	caPEM    []byte
	self     tls.Certificate
	served   tls.Certificate
	writes   int
	fail     map[string]int // rpc -> calls left to fail
	// latency delays every call, as a network and a busy node would.
	latency time.Duration
	// stray are etcd members no simulated node runs (AddEtcdMember).
	stray []*machineapi.EtcdMember
}

// AddEtcdMember makes every control plane's etcd list a member that no
// simulated node runs, as one left behind by a machine that is gone (or
// joined by one the model does not know) would be listed.
func (s *Sim) AddEtcdMember(hostname string, id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stray = append(s.stray, &machineapi.EtcdMember{Id: id, Hostname: hostname})
}

// SetLatency delays every later call to every node by d.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// FailNext makes the next times calls of rpc ("ApplyConfiguration",
// "Bootstrap") on any node fail with Unavailable, as a node rebooting does.
func (s *Sim) FailNext(rpc string, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil {
		s.fail = map[string]int{}
	}
	s.fail[rpc] += times
}

// FailNext makes the next times calls of rpc on this node fail with
// Unavailable.
func (n *Node) FailNext(rpc string, times int) {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	if n.fail == nil {
		n.fail = map[string]int{}
	}
	n.fail[rpc] += times
}

// RollBackNextUpgrade makes the node's next upgrade fail to boot the new
// release: it reboots and Talos falls back to the release it ran, which
// it then reports.
func (n *Node) RollBackNextUpgrade() {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	n.rollBack = true
}

// Reboots counts the reboots a configuration change caused on the node.
func (n *Node) Reboots() int {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return n.reboots
}

// Config returns the machine configuration the node runs (nil before one
// was applied).
func (n *Node) Config() []byte {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return n.config
}

func (s *Sim) injected(rpc string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail[rpc] > 0 {
		s.fail[rpc]--
		return errUnavailable
	}
	return nil
}

// New starts one node per name. ca is the cluster's Talos API CA (the
// bundle's Certs.OS): the simulator stands in for trustd, which hands
// configured nodes certificates from it.
func New(ca *x509.PEMEncodedCertificateAndKey, names ...string) (*Sim, error) {
	authority, err := x509.NewCertificateAuthorityFromCertificateAndKey(ca)
	if err != nil {
		return nil, fmt.Errorf("talossim: cluster CA: %w", err)
	}
	s := &Sim{nodes: map[string]*Node{}, ca: authority, caPEM: ca.Crt}
	loopback := x509.IPAddresses([]net.IP{net.ParseIP("127.0.0.1")})
	serverUse := x509.ExtKeyUsage([]stdx509.ExtKeyUsage{stdx509.ExtKeyUsageServerAuth})
	kp, err := x509.NewKeyPair(authority, loopback, serverUse, x509.NotAfter(time.Now().Add(24*time.Hour)))
	if err != nil {
		return nil, err
	}
	s.served = *kp.Certificate
	selfCA, err := x509.NewSelfSignedCertificateAuthority()
	if err != nil {
		return nil, err
	}
	selfKP, err := x509.NewKeyPair(selfCA, loopback, serverUse)
	if err != nil {
		return nil, err
	}
	s.self = *selfKP.Certificate
	for _, name := range names {
		n := &Node{Name: name, sim: s, state: newState(), version: "v1.13.9"}
		if err := n.start(); err != nil {
			s.Close()
			return nil, err
		}
		s.nodes[name] = n
	}
	return s, nil
}

// SetVersion sets the Talos version the node reports (default v1.13.9),
// as a node installed from an older release would.
func (n *Node) SetVersion(tag string) {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	n.version = tag
}

// Version returns the Talos version the node reports.
func (n *Node) Version() string {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return n.version
}

// Node returns the node called name.
func (s *Sim) Node(name string) *Node { return s.nodes[name] }

// Writes counts the changing calls (ApplyConfiguration, Bootstrap).
func (s *Sim) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Close stops every node; calling it twice is safe.
func (s *Sim) Close() {
	for _, n := range s.nodes {
		n.srv.Stop()
	}
}

// Stop takes the node down for good, as a failed machine: its API stops
// answering and its kubelet stops reporting (see RunKubelets).
func (n *Node) Stop() {
	n.sim.kubelets.Lock()
	defer n.sim.kubelets.Unlock()
	n.sim.mu.Lock()
	n.down = true
	n.sim.mu.Unlock()
	n.srv.Stop()
}

// Configured reports whether the node has a config, and its role.
func (n *Node) Configured() (bool, machine.Type) {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return n.configured, n.role
}

// Hostname is the name the node runs under once configured, as Talos
// picks it: the config's static hostname, else (automatic "stable"
// hostnames, no DHCP name in the simulation) a name derived from the
// machine identity, so a config without the node's hostname shows.
func (n *Node) Hostname() string {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	if !n.configured {
		return ""
	}
	return hostnameOf(n.config, n.Addr)
}

// hostnameOf is the hostname a node with config runs under; addr
// derives the automatic one.
func hostnameOf(config []byte, addr string) string {
	cfg, err := configloader.NewFromBytes(config)
	if err != nil {
		return ""
	}
	if h := cfg.NetworkHostnameConfig(); h != nil && h.Hostname() != "" {
		return h.Hostname()
	}
	return fmt.Sprintf("talos-%x", sha256.Sum256([]byte(addr)))[:14]
}

// Bootstrapped reports whether etcd was bootstrapped on the node.
func (n *Node) Bootstrapped() bool {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return n.bootstrapped
}

func (n *Node) start() error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	n.lis, n.Addr = lis, lis.Addr().String()
	pool := stdx509.NewCertPool()
	pool.AppendCertsFromPEM(n.sim.caPEM)
	tlsConfig := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			if configured, _ := n.Configured(); configured {
				return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{n.sim.served},
					ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}, nil
			}
			return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{n.sim.self}, ClientAuth: tls.NoClientCert}, nil
		},
	}
	delay := func(ctx context.Context) {
		n.sim.mu.Lock()
		d := n.sim.latency
		n.sim.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	n.srv = grpc.NewServer(grpc.Creds(credentials.NewTLS(tlsConfig)),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			delay(ctx)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			delay(ss.Context())
			return h(srv, ss)
		}))
	machineapi.RegisterMachineServiceServer(n.srv, &service{node: n})
	// The COSI state API, read-only, in every mode: Talos serves machine
	// facts (system information, links) in maintenance mode too.
	cosiv1alpha1.RegisterStateServer(n.srv, readOnlyState{server.NewState(n.state)})
	go n.srv.Serve(lis)
	return nil
}

type service struct {
	machineapi.UnimplementedMachineServiceServer
	node *Node
}

// authenticated reports whether the caller presented a verified client
// certificate (mutual TLS).
func authenticated(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return false
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	return ok && len(ti.State.VerifiedChains) > 0
}

func (s *service) secure(ctx context.Context) error {
	if configured, _ := s.node.Configured(); !configured {
		return status.Error(codes.Unimplemented, "API is not implemented in maintenance mode")
	}
	if !authenticated(ctx) {
		return status.Error(codes.PermissionDenied, "not authorized")
	}
	return nil
}

func (s *service) ApplyConfiguration(ctx context.Context, req *machineapi.ApplyConfigurationRequest) (*machineapi.ApplyConfigurationResponse, error) {
	n := s.node
	if err := n.sim.injected("ApplyConfiguration"); err != nil {
		return nil, err
	}
	if err := n.injected("ApplyConfiguration"); err != nil {
		return nil, err
	}
	if configured, _ := n.Configured(); configured && !authenticated(ctx) {
		return nil, status.Error(codes.PermissionDenied, "not authorized")
	}
	cfg, err := configloader.NewFromBytes(req.Data)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to parse config: %v", err)
	}
	if _, err := cfg.Validate(validate.MetalMode{}); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "configuration validation failed: %v", err)
	}
	ca := cfg.Machine().Security().IssuingCA()
	if ca == nil || !bytes.Equal(bytes.TrimSpace(ca.Crt), bytes.TrimSpace(n.sim.caPEM)) {
		return nil, status.Error(codes.InvalidArgument, "machine.ca is not the cluster's Talos API CA")
	}
	n.sim.mu.Lock()
	previous, wasConfigured := n.config, n.configured
	n.sim.mu.Unlock()
	// A first config installs and reboots; later ones reboot only when
	// what they change needs it.
	reboot := true
	if wasConfigured {
		if reboot, err = needsReboot(previous, cfg); err != nil {
			return nil, status.Errorf(codes.Internal, "comparing with the running config: %v", err)
		}
	}
	summary := "Applied configuration without a reboot"
	if reboot {
		summary = "Applied configuration with a reboot"
	}
	if req.DryRun {
		return &machineapi.ApplyConfigurationResponse{Messages: []*machineapi.ApplyConfiguration{{
			Metadata: &common.Metadata{Hostname: n.Name}, Mode: req.Mode, ModeDetails: "Dry run summary:\n" + summary + " (skipped in dry-run).",
		}}}, nil
	}
	if reboot && wasConfigured && req.Mode == machineapi.ApplyConfigurationRequest_NO_REBOOT {
		return nil, status.Error(codes.FailedPrecondition, "apply configuration in no-reboot mode failed: the change requires a reboot")
	}
	if wasConfigured && req.Mode == machineapi.ApplyConfigurationRequest_STAGED {
		n.sim.mu.Lock()
		n.staged = req.Data
		n.sim.writes++
		n.sim.mu.Unlock()
		return &machineapi.ApplyConfigurationResponse{Messages: []*machineapi.ApplyConfiguration{{
			Metadata: &common.Metadata{Hostname: n.Name}, Mode: req.Mode, ModeDetails: "Staged configuration to be applied after a reboot",
		}}}, nil
	}
	if err := n.activate(ctx, cfg, req.Data, reboot && wasConfigured); err != nil {
		return nil, err
	}
	return &machineapi.ApplyConfigurationResponse{Messages: []*machineapi.ApplyConfiguration{{
		Metadata: &common.Metadata{Hostname: n.Name}, Mode: req.Mode, ModeDetails: summary,
	}}}, nil
}

// Boot boots the node with data as the config its platform hands it (a
// metal-iso volume): a node that has a config keeps it, as Talos loads the
// STATE partition's config before asking the platform (v1.13.9
// controllers/config/acquire.go, stateDisk); one without validates data
// as a config and runs it, as a first ApplyConfiguration would. An empty
// data is a boot without a config source: the node waits in maintenance
// mode.
func (n *Node) Boot(data []byte) error {
	if configured, _ := n.Configured(); configured || len(data) == 0 {
		return nil
	}
	cfg, err := configloader.NewFromBytes(data)
	if err != nil {
		return fmt.Errorf("failed to parse config: %w", err)
	}
	if _, err := cfg.Validate(validate.MetalMode{}); err != nil {
		return fmt.Errorf("configuration validation failed: %w", err)
	}
	ca := cfg.Machine().Security().IssuingCA()
	if ca == nil || !bytes.Equal(bytes.TrimSpace(ca.Crt), bytes.TrimSpace(n.sim.caPEM)) {
		return errors.New("machine.ca is not the cluster's Talos API CA")
	}
	return n.activate(context.Background(), cfg, data, false)
}

// activate makes cfg (data encoded) the node's running config, counting
// a reboot when it took one.
func (n *Node) activate(ctx context.Context, cfg config.Provider, data []byte, rebooted bool) error {
	if err := storeMachineConfig(ctx, n.state, cfg); err != nil {
		return status.Errorf(codes.Internal, "storing the config: %v", err)
	}
	if err := publishManifests(ctx, n.state, cfg); err != nil {
		return status.Errorf(codes.Internal, "rendering the bootstrap manifests: %v", err)
	}
	// The hostname the machine runs under, served as a real node serves
	// it (network.HostnameStatus).
	hs := network.NewHostnameStatus(network.NamespaceName, network.HostnameID)
	hs.TypedSpec().Hostname = hostnameOf(data, n.Addr)
	if err := replace(ctx, n.state, hs); err != nil {
		return status.Errorf(codes.Internal, "publishing the hostname: %v", err)
	}
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	if !n.configured {
		n.etcdLeft = false // a control plane joins etcd again on its first config
	}
	n.configured, n.role, n.config, n.staged = true, cfg.Machine().Type(), data, nil
	if rebooted {
		n.reboots++
	}
	n.sim.writes++
	return nil
}

// Reboot reboots the node, which then runs the config staged for it, if
// any. Injected failures (FailNext "Reboot") change nothing.
func (s *service) Reboot(ctx context.Context, _ *machineapi.RebootRequest) (*machineapi.RebootResponse, error) {
	if err := s.secure(ctx); err != nil {
		return nil, err
	}
	n := s.node
	if err := n.injected("Reboot"); err != nil {
		return nil, err
	}
	n.sim.mu.Lock()
	staged := n.staged
	n.sim.mu.Unlock()
	if staged == nil {
		n.sim.mu.Lock()
		n.reboots++
		n.sim.writes++
		n.sim.mu.Unlock()
	} else {
		cfg, err := configloader.NewFromBytes(staged)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "the staged config: %v", err)
		}
		if err := n.activate(ctx, cfg, staged, true); err != nil {
			return nil, err
		}
	}
	return &machineapi.RebootResponse{Messages: []*machineapi.Reboot{{Metadata: &common.Metadata{Hostname: n.Name}}}}, nil
}

func (s *service) Version(ctx context.Context, _ *emptypb.Empty) (*machineapi.VersionResponse, error) {
	if err := s.secure(ctx); err != nil {
		return nil, err
	}
	return &machineapi.VersionResponse{Messages: []*machineapi.Version{{
		Metadata: &common.Metadata{Hostname: s.node.Name},
		Version:  &machineapi.VersionInfo{Tag: s.node.Version(), Arch: "amd64"},
	}}}, nil
}

// SystemStat answers the node's boot time: the Unix epoch plus one second
// per boot, so each reboot (a config's, an upgrade's, a rollback's)
// changes it as a real node's does.
func (s *service) SystemStat(ctx context.Context, _ *emptypb.Empty) (*machineapi.SystemStatResponse, error) {
	if err := s.secure(ctx); err != nil {
		return nil, err
	}
	n := s.node
	n.sim.mu.Lock()
	boot := uint64(1 + n.reboots)
	n.sim.mu.Unlock()
	return &machineapi.SystemStatResponse{Messages: []*machineapi.SystemStat{{
		Metadata: &common.Metadata{Hostname: n.Name}, BootTime: boot,
	}}}, nil
}

func (s *service) Bootstrap(ctx context.Context, req *machineapi.BootstrapRequest) (*machineapi.BootstrapResponse, error) {
	if err := s.secure(ctx); err != nil {
		return nil, err
	}
	if err := s.node.sim.injected("Bootstrap"); err != nil {
		return nil, err
	}
	n := s.node
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	if n.role != machine.TypeControlPlane {
		return nil, status.Error(codes.FailedPrecondition, "bootstrap is not available on a worker")
	}
	for _, other := range n.sim.nodes {
		if other.bootstrapped {
			return nil, status.Error(codes.AlreadyExists, "etcd data directory is not empty")
		}
	}
	if req.RecoverEtcd {
		if len(n.snapshot) == 0 {
			return nil, status.Error(codes.FailedPrecondition, "recover requested, but no etcd snapshot was uploaded")
		}
		n.recovered = true
	}
	n.bootstrapped = true
	n.sim.writes++
	return &machineapi.BootstrapResponse{Messages: []*machineapi.Bootstrap{{Metadata: &common.Metadata{Hostname: n.Name}}}}, nil
}

// EtcdRecover receives an etcd snapshot to bootstrap from.
func (s *service) EtcdRecover(stream grpc.ClientStreamingServer[common.Data, machineapi.EtcdRecoverResponse]) error {
	if err := s.secure(stream.Context()); err != nil {
		return err
	}
	var buf bytes.Buffer
	for {
		d, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		buf.Write(d.Bytes)
	}
	s.node.sim.mu.Lock()
	s.node.snapshot = buf.Bytes()
	s.node.sim.mu.Unlock()
	return stream.SendAndClose(&machineapi.EtcdRecoverResponse{Messages: []*machineapi.EtcdRecover{{Metadata: &common.Metadata{Hostname: s.node.Name}}}})
}

// Recovered reports whether etcd was bootstrapped from an uploaded
// snapshot, and the snapshot's bytes.
func (n *Node) Recovered() (bool, []byte) {
	n.sim.mu.Lock()
	defer n.sim.mu.Unlock()
	return n.recovered, append([]byte(nil), n.snapshot...)
}

func (s *service) ServiceList(ctx context.Context, _ *emptypb.Empty) (*machineapi.ServiceListResponse, error) {
	if err := s.secure(ctx); err != nil {
		return nil, err
	}
	n := s.node
	n.sim.mu.Lock()
	etcd := "Waiting"
	if n.etcdMember() {
		etcd = "Running"
	}
	n.sim.mu.Unlock()
	return &machineapi.ServiceListResponse{Messages: []*machineapi.ServiceList{{
		Metadata: &common.Metadata{Hostname: n.Name},
		Services: []*machineapi.ServiceInfo{{Id: "apid", State: "Running"}, {Id: "etcd", State: etcd}},
	}}}, nil
}

func anyBootstrapped(s *Sim) bool {
	for _, n := range s.nodes {
		if n.bootstrapped {
			return true
		}
	}
	return false
}

func (s *service) Kubeconfig(_ *emptypb.Empty, stream grpc.ServerStreamingServer[common.Data]) error {
	if err := s.secure(stream.Context()); err != nil {
		return err
	}
	if !s.node.Bootstrapped() {
		return status.Error(codes.Unavailable, "kubernetes is not ready: etcd is not bootstrapped")
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["talos"] = &clientcmdapi.Cluster{Server: "https://" + s.node.Addr}
	cfg.AuthInfos["admin@talos"] = &clientcmdapi.AuthInfo{Token: "simulated"}
	cfg.Contexts["admin@talos"] = &clientcmdapi.Context{Cluster: "talos", AuthInfo: "admin@talos"}
	cfg.CurrentContext = "admin@talos"
	kc, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "kubeconfig", Mode: 0o600, Size: int64(len(kc))}); err != nil {
		return err
	}
	tw.Write(kc)
	tw.Close()
	gz.Close()
	return stream.Send(&common.Data{Bytes: buf.Bytes()})
}

// readOnlyState refuses every write through the API.
type readOnlyState struct{ *server.State }

func (readOnlyState) Create(context.Context, *cosiv1alpha1.CreateRequest) (*cosiv1alpha1.CreateResponse, error) {
	return nil, status.Error(codes.PermissionDenied, "read-only")
}

func (readOnlyState) Update(context.Context, *cosiv1alpha1.UpdateRequest) (*cosiv1alpha1.UpdateResponse, error) {
	return nil, status.Error(codes.PermissionDenied, "read-only")
}

func (readOnlyState) Destroy(context.Context, *cosiv1alpha1.DestroyRequest) (*cosiv1alpha1.DestroyResponse, error) {
	return nil, status.Error(codes.PermissionDenied, "read-only")
}
