package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/pkg/manifest"
)

// BinDirEnv names the directory hack/e2e.sh builds the programs into.
const BinDirEnv = "HOMELAB_E2E_BIN"

// Cluster is the simulated cluster: a real control plane and kwok.
type Cluster struct {
	// Config and Client reach the API server as an admin; Kubeconfig is
	// the path of a kubeconfig file for the same user.
	Config     *rest.Config
	Client     client.Client
	Kubeconfig string

	dir, binDir string
	env         *envtest.Environment
	apiServer   string

	mu      sync.Mutex
	procs   []*process
	stopped bool
}

// StartCluster starts kube-apiserver and etcd (from assetsDir, see
// testenv.AssetsDir), kube-controller-manager, kube-scheduler and kwok
// (from binDir) with their state and logs in dir. Admission webhooks are
// off: the webhook servers the charts install run as fake pods. Call Stop
// when done.
func StartCluster(dir, assetsDir, binDir string) (*Cluster, error) {
	env := &envtest.Environment{BinaryAssetsDirectory: assetsDir}
	// Their state in dir, not in directories envtest removes when it
	// stops them: the restore rehearsal (RestoreEtcd) restarts both with
	// the same certificates and etcd's data directory restored.
	certs := filepath.Join(dir, "kube-apiserver")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return nil, err
	}
	// kube-apiserver's graceful shutdown, with every controller's
	// watches open, outlasts envtest's default wait (20 s).
	env.ControlPlaneStopTimeout = 2 * time.Minute
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(dir, "etcd")}
	env.ControlPlane.GetAPIServer().CertDir = certs
	env.ControlPlane.GetAPIServer().Configure().
		Set("disable-admission-plugins", "ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver from %s: %w", assetsDir, err)
	}
	c := &Cluster{Config: cfg, dir: dir, binDir: binDir, env: env}
	if err := c.start(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start() error {
	var err error
	// A request the API server does not answer in a minute fails (the
	// restore rehearsal stops and starts it under open connections).
	cfg := rest.CopyConfig(c.Config)
	cfg.Timeout = time.Minute
	if c.Client, err = client.New(cfg, client.Options{Scheme: kube.Scheme}); err != nil {
		return err
	}
	user, err := c.env.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	// The same credentials as files, for programs that take no kubeconfig.
	admin := user.Config()
	c.apiServer = admin.Host
	for p, data := range map[string][]byte{"admin-ca.crt": admin.CAData, "admin.crt": admin.CertData, "admin.key": admin.KeyData} {
		if err := os.WriteFile(filepath.Join(c.dir, p), data, 0o600); err != nil {
			return err
		}
	}
	kcfg := "--kubeconfig=" + c.Kubeconfig
	// The controllers that need a signing key or a cloud are left out:
	// service account tokens are not mounted (kwok runs no containers).
	if err := c.run("kube-controller-manager", []string{kcfg, "--leader-elect=false", "--secure-port=0",
		"--controllers=*,-serviceaccount-token,-csrsigning,-csrapproving,-csrcleaner,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
		"--use-service-account-credentials=false", "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10"}, nil); err != nil {
		return err
	}
	if err := c.run("kube-scheduler", []string{kcfg, "--leader-elect=false", "--secure-port=0"}, nil); err != nil {
		return err
	}
	return c.run("kwok", []string{kcfg, "--config=" + filepath.Join(c.binDir, "kwok.yaml"), "--node-lease-duration-seconds=40",
		"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
		"--cidr=10.244.0.1/16", "--node-ip=127.0.0.1", "--server-address=127.0.0.1:" + freePort()}, nil)
}

func (c *Cluster) run(name string, args, env []string) error {
	p, err := startProcess(c.binDir, c.dir, name, args, env)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.procs = append(c.procs, p)
	return nil
}

// Stop ends every program of the cluster.
func (c *Cluster) Stop() {
	c.mu.Lock()
	c.stopped = true
	procs := slices.Clone(c.procs)
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
	if c.env != nil {
		_ = c.env.Stop()
	}
}

// AddNodes registers nodes for kwok to play.
func (c *Cluster) AddNodes(ctx context.Context, nodes []*corev1.Node) error {
	for _, n := range nodes {
		status := n.Status
		if err := c.Client.Create(ctx, n); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		// A merge patch of what the kubelet reports, not an update: kwok
		// writes the node's conditions at the same time.
		patch, err := json.Marshal(map[string]any{"status": map[string]any{
			"capacity": status.Capacity, "allocatable": status.Allocatable,
			"addresses": status.Addresses, "nodeInfo": status.NodeInfo,
		}})
		if err != nil {
			return err
		}
		if err := c.Client.Status().Patch(ctx, n, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("node %s status: %w", n.Name, err)
		}
	}
	return nil
}

// Logs returns the last lines of each program's log.
func (c *Cluster) Logs(lines int) string {
	c.mu.Lock()
	procs := slices.Clone(c.procs)
	c.mu.Unlock()
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "--- %s (restarts: %d), last %d lines of %s:\n%s", p.name, p.Restarts(), lines, p.logPath, p.tail(lines))
	}
	return b.String()
}

// FluxControllers are the Flux controllers the simulation runs, by the
// name of their Deployment in gotk-components.yaml.
var fluxControllers = []string{"source-controller", "kustomize-controller", "helm-controller"}

// StartFlux runs the Flux controllers of components (gotk-components.yaml)
// as processes, each with its Deployment's arguments and environment
// adapted to run beside the API server: no leader election, no events
// (there is no notification-controller to receive them), listeners on
// loopback ports, source-controller's artifact storage in dir, advertised
// on loopback, and dependencies retried after 5s instead of 30s. A controller that exits (its CRDs are not there
// yet) is started again.
func (c *Cluster) StartFlux(components []byte) error {
	objs, err := manifest.Decode(components)
	if err != nil {
		return err
	}
	deployments := map[string]*appsv1.Deployment{}
	for _, u := range objs {
		if u.GetKind() != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		if err := kube.Scheme.Convert(u, d, nil); err != nil {
			return err
		}
		deployments[d.Name] = d
	}
	for _, name := range fluxControllers {
		d, ok := deployments[name]
		if !ok {
			return fmt.Errorf("gotk-components.yaml has no Deployment %s", name)
		}
		args, env, err := c.fluxArgs(d)
		if err != nil {
			return err
		}
		if err := c.run(name, args, env); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) fluxArgs(d *appsv1.Deployment) (args, env []string, err error) {
	if len(d.Spec.Template.Spec.Containers) == 0 {
		return nil, nil, fmt.Errorf("Deployment %s has no container", d.Name)
	}
	ctr := d.Spec.Template.Spec.Containers[0]
	vars := map[string]string{}
	for _, e := range ctr.Env {
		switch {
		case e.Value != "":
			vars[e.Name] = e.Value
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			vars[e.Name] = d.Namespace
		default:
			continue // resource limits (GOMEMLIMIT) do not apply to a process
		}
		env = append(env, e.Name+"="+vars[e.Name])
	}
	env = append(env, "KUBECONFIG="+c.Kubeconfig)
	for _, a := range ctr.Args {
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--events-addr", "--enable-leader-election", "--storage-path", "--storage-adv-addr":
			continue
		}
		for k, v := range vars {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		args = append(args, a)
	}
	if d.Name != "source-controller" {
		// A Kustomization or HelmRelease whose dependency just became
		// Ready is retried after this (default 30s): shorter, so a commit
		// goes through the dependency chain in seconds.
		args = append(args, "--requeue-dependency=5s")
	}
	args = append(args, "--enable-leader-election=false",
		"--metrics-addr=127.0.0.1:"+freePort(), "--health-addr=127.0.0.1:"+freePort())
	if d.Name == "source-controller" {
		storage := filepath.Join(c.dir, "source-controller-storage")
		if err := os.MkdirAll(storage, 0o755); err != nil {
			return nil, nil, err
		}
		addr := "127.0.0.1:" + freePort()
		args = append(args, "--storage-path="+storage, "--storage-addr="+addr, "--storage-adv-addr="+addr)
	}
	return args, env, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "0"
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// errTimeout marks a bounded wait that ran out.
var errTimeout = errors.New("timed out")

// poll calls cond every interval until it returns true, an error, or
// timeout passes (errTimeout).
func poll(ctx context.Context, interval, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := cond(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return errTimeout
		case <-time.After(interval):
		}
	}
}

// PlayDeployment runs program (from the bin directory) as the first
// container of the Deployment namespace/name once a chart has created it,
// with the arguments the chart rendered, adapted by adapt to run beside
// the API server, and KUBECONFIG set. Its pods on the fake nodes stay
// what the scheduler and kwok make of them; the process does the work.
func (c *Cluster) PlayDeployment(ctx context.Context, namespace, name, program string, adapt func(args []string) []string) {
	go func() {
		d := &appsv1.Deployment{}
		err := poll(ctx, time.Second, time.Hour, func(ctx context.Context) (bool, error) {
			return c.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d) == nil, nil
		})
		if err != nil || len(d.Spec.Template.Spec.Containers) == 0 {
			return
		}
		args := adapt(d.Spec.Template.Spec.Containers[0].Args)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.stopped {
			return
		}
		p, err := startProcess(c.binDir, c.dir, program, args, []string{"KUBECONFIG=" + c.Kubeconfig})
		if err != nil {
			return
		}
		c.procs = append(c.procs, p)
	}()
}

// PrometheusOperator plays the kube-prometheus-stack chart's operator
// Deployment (monitoring/<release>-operator): it then makes the
// Prometheus and Alertmanager StatefulSets, the kubelet Service and the
// generated configurations from the tree's objects, as on a real cluster.
// Its web server listens on loopback without TLS (it serves only the
// admission webhook, which is off here).
func (c *Cluster) PrometheusOperator(ctx context.Context, namespace, deployment string) {
	c.PlayDeployment(ctx, namespace, deployment, "prometheus-operator", func(args []string) []string {
		var out []string
		for _, a := range args {
			if strings.HasPrefix(a, "--web.") {
				continue
			}
			out = append(out, a)
		}
		return append(out, "--web.enable-tls=false", "--web.listen-address=127.0.0.1:"+freePort(),
			"--apiserver="+c.apiServer, "--ca-file="+filepath.Join(c.dir, "admin-ca.crt"),
			"--cert-file="+filepath.Join(c.dir, "admin.crt"), "--key-file="+filepath.Join(c.dir, "admin.key"))
	})
}
