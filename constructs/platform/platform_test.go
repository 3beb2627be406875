package platform_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// part is a test part that logs its phases.
type part struct {
	name    string
	charts  []flux.Chart
	ns      []platform.Namespace
	log     *[]string
	scraper bool
	built   *kube.Object
}

func (p *part) Charts() []flux.Chart             { return p.charts }
func (p *part) Namespaces() []platform.Namespace { return p.ns }
func (p *part) Build(pl *platform.Platform) {
	*p.log = append(*p.log, "build "+p.name)
	p.built = kube.NewObject(pl.Chart("things"), p.name, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: "default"}})
	pl.Add(p)
}
func (p *part) Isolate(pl *platform.Platform, scope constructs.Construct) {
	*p.log = append(*p.log, "isolate "+p.name)
}
func (p *part) Configure(pl *platform.Platform, scope constructs.Construct) {
	*p.log = append(*p.log, "configure "+p.name)
}

// scraper is a part that scrapes.
type scraper struct{ part }

func (s *scraper) ScraperPods() security.Peer {
	return security.Pods("monitoring", map[string]string{"app": "prometheus"})
}

var (
	longhorn = flux.Chart{Repository: "https://charts.longhorn.io", Name: "longhorn", Version: "1.12.1"}
	promA    = flux.Chart{Repository: "https://prometheus-community.github.io/helm-charts", Name: "a", Version: "1.0.0", RepositoryName: "prometheus-community"}
	promB    = flux.Chart{Repository: "https://prometheus-community.github.io/helm-charts", Name: "b", Version: "2.0.0", RepositoryName: "prometheus-community"}
)

func newPlatform(t *testing.T, props *platform.Props) (*core.App, *platform.Platform) {
	t.Helper()
	app := core.NewApp(nil)
	root := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	return app, platform.New(root, props)
}

func TestPlatform(t *testing.T) {
	cluster := platform.Cluster{
		Nodes: netip.MustParsePrefix("192.168.1.0/24"), Pods: netip.MustParsePrefix("10.244.0.0/16"), NodeCount: 3,
		Namespaces: []string{"kube-system"},
	}

	t.Run("phases run in order over every part, and each chart gets one repository", func(t *testing.T) {
		var log []string
		a := &part{name: "a", charts: []flux.Chart{longhorn, promA}, log: &log}
		b := &part{name: "b", charts: []flux.Chart{promB}, log: &log}
		app, p := newPlatform(t, &platform.Props{Cluster: cluster, Parts: []platform.Part{a, b}})
		p.Build()
		p.Isolate(nil)
		p.Configure(nil)
		assert.Equal(t, []string{"build a", "build b", "isolate a", "isolate b", "configure a", "configure b"}, log)
		var repos []string
		for _, o := range app.Tree().Objects() {
			if o.Identity().Kind == "HelmRepository" {
				repos = append(repos, o.Identity().Name)
			}
		}
		assert.Equal(t, []string{"longhorn", "prometheus-community"}, repos, "one HelmRepository per repository, in the parts' order")
		assert.Same(t, p.Repository(promA), p.Repository(promB))
		assert.Equal(t, "kubernetes/platform/things", a.built.Info().Chart().Dir(), "parts of one directory share its chart")
		assert.Same(t, a.built.Info().Chart(), b.built.Info().Chart())
		got, ok := platform.Find[*part](p)
		require.True(t, ok)
		assert.Same(t, a, got, "Find returns the first built")
	})

	t.Run("a repository name with two URLs is a programming error", func(t *testing.T) {
		var log []string
		other := promB
		other.Repository = "https://example.com/charts"
		assert.PanicsWithValue(t, `platform: HelmRepository "prometheus-community" is both https://prometheus-community.github.io/helm-charts and https://example.com/charts`, func() {
			newPlatform(t, &platform.Props{Parts: []platform.Part{&part{name: "a", charts: []flux.Chart{promA}, log: &log}, &part{name: "b", charts: []flux.Chart{other}, log: &log}}})
		})
	})

	t.Run("a chart no part declares panics where it is asked for", func(t *testing.T) {
		_, p := newPlatform(t, &platform.Props{})
		assert.Panics(t, func() { p.Repository(longhorn) })
	})

	t.Run("namespaces, scrapes and callers", func(t *testing.T) {
		var log []string
		storage := &part{name: "s", ns: []platform.Namespace{{Name: "longhorn-system", Internal: true}}, log: &log}
		edge := &part{name: "e", ns: []platform.Namespace{{Name: "ingress-nginx"}}, log: &log}
		_, p := newPlatform(t, &platform.Props{Cluster: cluster, Parts: []platform.Part{storage, edge}})
		assert.Equal(t, []string{"kube-system", "longhorn-system"}, p.InternalNamespaces())
		assert.Nil(t, p.ScrapedOn(security.TCP(9500)), "no part scrapes: no port admits scrapes")

		mon := &scraper{part{name: "m", ns: []platform.Namespace{{Name: "monitoring"}}, log: &log}}
		_, p = newPlatform(t, &platform.Props{Cluster: cluster, Parts: []platform.Part{storage, mon}})
		assert.Equal(t, []security.Peer{mon.ScraperPods().On(security.TCP(9500))}, p.ScrapedOn(security.TCP(9500)))

		// Three nodes: host callers arrive from the other nodes through
		// the pod network, and from the pod's own node by its address.
		assert.Equal(t, []security.Peer{
			security.Prefix(cluster.Pods).On(security.TCP(2049)), security.Prefix(cluster.Nodes).On(security.TCP(2049)),
		}, p.HostCallers(2049))
		assert.Equal(t, []security.Peer{security.Prefix(cluster.Pods).On(security.TCP(8443))}, p.WebhookCallers(8443),
			"tainted control planes never run the webhook's pod")
		one := cluster
		one.NodeCount, one.ControlPlanesRunPods = 1, true
		_, p = newPlatform(t, &platform.Props{Cluster: one})
		assert.Equal(t, []security.Peer{security.Prefix(cluster.Nodes).On(security.TCP(8443))}, p.WebhookCallers(8443),
			"one node: the API server calls from the node's own address only")
	})
}

// greeter is the smallest part: one chart, one namespace, one construct.
type greeter struct{ release *flux.HelmRelease }

var greeterChart = flux.Chart{Repository: "https://charts.example.com", Name: "greeter", Version: "1.0.0"}

func (g *greeter) Charts() []flux.Chart { return []flux.Chart{greeterChart} }
func (g *greeter) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: "greeter", PodSecurity: "restricted"}}
}
func (g *greeter) Build(p *platform.Platform) {
	g.release = flux.NewHelmRelease(p.Chart("greeter"), "greeter", &flux.HelmReleaseProps{
		Namespace: "greeter", Repository: p.Repository(greeterChart), Chart: greeterChart.Name, Version: greeterChart.Version,
	})
	p.Add(g)
}

// A part declares its chart and namespace and builds into the platform
// chart of its directory.
func Example() {
	app := core.NewApp(nil)
	root := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	p := platform.New(root, &platform.Props{Parts: []platform.Part{&greeter{}}})
	p.Build()
	g, _ := platform.Find[*greeter](p)
	fmt.Println(g.release.Info().Path(), g.release.Info().Chart().Dir())
	fmt.Println(p.Namespaces()[0].Name, p.Repository(greeterChart).Spec.Spec.URL)
	// Output:
	// platform/greeter/greeter kubernetes/platform/greeter
	// greeter https://charts.example.com
}
