// Package upgradepath plans how a Talos cluster gets from the Talos and
// Kubernetes versions it runs to the ones the model asks for: the whole
// sequence of hops, each to a release that exists, or why there is none.
//
// The rules are upstream's:
//   - Talos: upgrade to the latest patch release of the running minor,
//     then to the latest patch of every intermediate minor, then to the
//     target (Talos' "Supported upgrade paths": configuration migration
//     is tested only between adjacent minors); each hop must pass the
//     installer's pre-flight check, the target line's
//     compatibility.TalosVersion.UpgradeableFrom (cmd/installer/pkg/install/preflight.go:109
//     at v1.13.9), never a downgrade.
//   - Kubernetes: one minor at a time, never down (the version-skew
//     policy; talosctl upgrade-k8s moves one minor), and always within
//     what the Talos the nodes run supports
//     (compatibility.KubernetesVersion.SupportedWith, which machined
//     checks when it validates a config): where the next Talos does not
//     run the current Kubernetes, Kubernetes moves first, else Talos
//     moves first and Kubernetes follows on the target Talos.
//
// The releases and each Talos line's compatibility data are a table kept
// with the sources (Talos, Kubernetes), checked against machinery.
package upgradepath

import (
	"fmt"
	"slices"
	"strings"

	"github.com/blang/semver/v4"
)

// Layer is what a hop upgrades.
type Layer string

// The layers a hop moves.
const (
	LayerTalos      Layer = "Talos"
	LayerKubernetes Layer = "Kubernetes"
)

// Versions are what a cluster runs or the model asks for: a Talos tag
// ("v1.13.9") and a Kubernetes version ("1.36.3", a leading v allowed).
type Versions struct {
	Talos, Kubernetes string
}

// Hop is one step of a path: the whole cluster moves one layer to one
// release.
type Hop struct {
	Layer    Layer
	From, To string
	// Why says why this hop is there.
	Why string
}

func (h Hop) String() string {
	return fmt.Sprintf("%s %s -> %s (%s)", h.Layer, h.From, h.To, h.Why)
}

// Refused is the error Plan returns when no path leads to the target.
type Refused struct {
	// Layer is the layer that cannot move.
	Layer  Layer
	Reason string
}

func (r *Refused) Error() string { return string(r.Layer) + ": " + r.Reason }

// Path is a planned sequence of hops.
type Path []Hop

// Talos returns the Talos hops, in order.
func (p Path) Talos() []Hop { return p.of(LayerTalos) }

// Kubernetes returns the Kubernetes hops, in order.
func (p Path) Kubernetes() []Hop { return p.of(LayerKubernetes) }

func (p Path) of(l Layer) []Hop {
	var out []Hop
	for _, h := range p {
		if h.Layer == l {
			out = append(out, h)
		}
	}
	return out
}

// String renders the path on one line: "Talos v1.12.3 -> v1.12.11 ->
// v1.13.9, then Kubernetes 1.35.4 -> 1.36.3".
func (p Path) String() string {
	var parts []string
	for i := 0; i < len(p); {
		j := i
		for j < len(p) && p[j].Layer == p[i].Layer {
			j++
		}
		s := string(p[i].Layer) + " " + p[i].From
		for _, h := range p[i:j] {
			s += " -> " + h.To
		}
		parts = append(parts, s)
		i = j
	}
	return strings.Join(parts, ", then ")
}

// Plan returns the hops from running to want, Talos and Kubernetes
// interleaved in the order they must happen, or a *Refused saying why
// there is no path. Equal versions give an empty path.
func Plan(running, want Versions) (Path, error) {
	t, err := talosVersion(running.Talos)
	if err != nil {
		return nil, &Refused{LayerTalos, fmt.Sprintf("the cluster runs %q: %v", running.Talos, err)}
	}
	tt, err := talosVersion(want.Talos)
	if err != nil {
		return nil, &Refused{LayerTalos, fmt.Sprintf("the model asks for %q: %v", want.Talos, err)}
	}
	k, err := semver.ParseTolerant(running.Kubernetes)
	if err != nil {
		return nil, &Refused{LayerKubernetes, fmt.Sprintf("the cluster runs %q, which is no version", running.Kubernetes)}
	}
	kt, err := semver.ParseTolerant(want.Kubernetes)
	if err != nil {
		return nil, &Refused{LayerKubernetes, fmt.Sprintf("the model asks for %q, which is no version", want.Kubernetes)}
	}
	k.Pre, kt.Pre, k.Build, kt.Build = nil, nil, nil, nil
	if err := talosExists(tt); err != nil {
		return nil, &Refused{LayerTalos, "the model asks for " + err.Error()}
	}
	if latest, ok := kubernetesLatest(kt.Minor); !ok || kt.Major != 1 || kt.GT(latest) {
		return nil, &Refused{LayerKubernetes, fmt.Sprintf("the model asks for %s, not a release the planner knows (newest known: %s); add it to upgradepath.Kubernetes if it exists", kt, newestKubernetes(kt.Minor))}
	}
	if tt.LT(t) {
		return nil, &Refused{LayerTalos, fmt.Sprintf("the cluster runs %s, newer than the model's %s: deploy does not downgrade Talos (`talosctl rollback` returns a node to the release it ran before); set the model to %s", tag(t), tag(tt), tag(t))}
	}
	if kt.LT(k) {
		return nil, &Refused{LayerKubernetes, fmt.Sprintf("the cluster runs %s, newer than the model's %s: Kubernetes does not downgrade; set the model to %s", k, kt, k)}
	}
	if line(t.Minor) == nil {
		return nil, &Refused{LayerTalos, fmt.Sprintf("the cluster runs %s, a line the planner has no data for (it knows %s): upgrade by hand to %s first", tag(t), knownLines(), Talos[0].Latest)}
	}
	if err := supported(kt, tt); err != nil {
		return nil, &Refused{LayerKubernetes, fmt.Sprintf("the model asks for Kubernetes %s on Talos %s: %v", kt, tag(tt), err)}
	}

	var path Path
	// kubeUntil moves Kubernetes to minor m (to kt within its minor),
	// one minor at a time, each supported by the Talos running then.
	kubeUntil := func(ok func(semver.Version) bool, on semver.Version, why string) error {
		for !ok(k) {
			next, have := kubernetesLatest(k.Minor + 1)
			if k.Minor == kt.Minor || k.Minor+1 == kt.Minor {
				next, have = kt, true
			}
			if !have {
				return &Refused{LayerKubernetes, fmt.Sprintf("the path goes through Kubernetes 1.%d, of which the planner knows no release; add it to upgradepath.Kubernetes", k.Minor+1)}
			}
			if err := supported(next, on); err != nil {
				return &Refused{LayerKubernetes, fmt.Sprintf("Kubernetes must reach %s (%s), but Talos %s does not run it: %v", next, why, tag(on), err)}
			}
			path = append(path, Hop{LayerKubernetes, k.String(), next.String(), why})
			k = next
		}
		return nil
	}
	for _, w := range talosWaypoints(t, tt) {
		if l := line(w.v.Minor); core(k).GE(semver.MustParse(l.MaximumKubernetes)) {
			return nil, &Refused{LayerKubernetes, fmt.Sprintf("the cluster runs Kubernetes %s, which Talos %s does not run: %v", k, tag(w.v), supported(k, w.v))}
		}
		if err := kubeUntil(func(v semver.Version) bool { return supported(v, w.v) == nil }, t,
			fmt.Sprintf("Talos %s runs Kubernetes %s to %s only", tag(w.v), short(line(w.v.Minor).MinimumKubernetes), short(line(w.v.Minor).MaximumKubernetes))); err != nil {
			return nil, err
		}
		if err := upgradeable(t, w.v); err != nil {
			return nil, &Refused{LayerTalos, err.Error()}
		}
		path = append(path, Hop{LayerTalos, tag(t), tag(w.v), w.why})
		t = w.v
	}
	if err := kubeUntil(func(v semver.Version) bool { return !v.LT(kt) }, t, "the model's version, one minor at a time"); err != nil {
		return nil, err
	}
	for i, h := range path {
		if h.Layer == LayerKubernetes && h.To == kt.String() {
			path[i].Why = "the model's version"
		}
	}
	return path, nil
}

type waypoint struct {
	v   semver.Version
	why string
}

// talosWaypoints lists the Talos releases between t and tt: the latest
// patch of t's line, of each intermediate line, then tt.
func talosWaypoints(t, tt semver.Version) []waypoint {
	var out []waypoint
	if t.Minor < tt.Minor {
		if l := latestOf(t.Minor); t.LT(l) {
			out = append(out, waypoint{l, fmt.Sprintf("the latest patch of 1.%d first: Talos tests upgrades between adjacent minors' latest patches", t.Minor)})
		}
		for m := t.Minor + 1; m < tt.Minor; m++ {
			out = append(out, waypoint{latestOf(m), fmt.Sprintf("through 1.%d's latest patch: Talos upgrades one minor at a time", m)})
		}
	}
	if t.LT(tt) {
		out = append(out, waypoint{tt, "the model's release"})
	}
	return out
}

func latestOf(m uint64) semver.Version {
	if l := line(m); l != nil {
		return semver.MustParse(l.Latest[1:])
	}
	return semver.Version{Major: 1, Minor: m} // talosExists refused before
}

// upgradeable is the installer's pre-flight check of a host running
// host for an installer of release to.
func upgradeable(host, to semver.Version) error {
	l := line(to.Minor)
	if l == nil {
		return fmt.Errorf("upgrades to %s are not supported: the planner has no data for Talos 1.%d (it knows %s)", tag(to), to.Minor, knownLines())
	}
	if min := semver.MustParse(l.MinimumHostUpgrade); core(host).LT(min) {
		return fmt.Errorf("host version %s is too old to upgrade to Talos %s (its installer upgrades from %s on)", tag(host), tag(to), min)
	}
	if slices.ContainsFunc(l.DeniedHostUpgrade, func(s string) bool { return semver.MustParse(s).EQ(core(host)) }) {
		return fmt.Errorf("host version %s is denied for upgrade to Talos %s", tag(host), tag(to))
	}
	return nil
}

// Upgradeable reports whether a node running Talos host accepts the
// installer of Talos to (the installer's pre-flight check), or why not.
func Upgradeable(host, to string) error {
	h, err := talosVersion(host)
	if err != nil {
		return err
	}
	t, err := talosVersion(to)
	if err != nil {
		return err
	}
	if line(t.Minor) == nil {
		return fmt.Errorf("upgrades to version %s are not supported", t)
	}
	return upgradeable(h, t)
}

// supported is machinery's KubernetesVersion.SupportedWith for the
// table's line of talos.
func supported(k, talos semver.Version) error {
	l := line(talos.Minor)
	if l == nil {
		return fmt.Errorf("the planner has no data for Talos 1.%d", talos.Minor)
	}
	kc := core(k)
	if kc.LT(semver.MustParse(l.MinimumKubernetes)) {
		return fmt.Errorf("Kubernetes %s is too old for Talos %s (it runs %s to %s)", k, tag(talos), short(l.MinimumKubernetes), short(l.MaximumKubernetes))
	}
	if kc.GE(semver.MustParse(l.MaximumKubernetes)) {
		return fmt.Errorf("Kubernetes %s is too new for Talos %s (it runs %s to %s)", k, tag(talos), short(l.MinimumKubernetes), short(l.MaximumKubernetes))
	}
	return nil
}

// KubernetesSupported reports whether Talos talos runs Kubernetes k, by
// the table.
func KubernetesSupported(k, talos string) error {
	kv, err := semver.ParseTolerant(k)
	if err != nil {
		return err
	}
	tv, err := talosVersion(talos)
	if err != nil {
		return err
	}
	return supported(kv, tv)
}

func talosVersion(s string) (semver.Version, error) {
	if !strings.HasPrefix(s, "v") {
		return semver.Version{}, fmt.Errorf("a Talos release is a tag such as v1.13.9")
	}
	v, err := semver.Parse(s[1:])
	if err != nil {
		return semver.Version{}, fmt.Errorf("a Talos release is a tag such as v1.13.9: %v", err)
	}
	return v, nil
}

// talosExists says whether v is a Talos release the table knows.
func talosExists(v semver.Version) error {
	if len(v.Pre) > 0 {
		return fmt.Errorf("%s, a pre-release: the planner plans through releases only", tag(v))
	}
	l := line(v.Minor)
	if l == nil || v.Major != 1 {
		return fmt.Errorf("%s, a line the planner has no data for (it knows %s); add it to upgradepath.Talos", tag(v), knownLines())
	}
	if latest := semver.MustParse(l.Latest[1:]); v.GT(latest) {
		return fmt.Errorf("%s, not a release the planner knows (newest of 1.%d: %s); add it to upgradepath.Talos if it exists", tag(v), v.Minor, l.Latest)
	}
	return nil
}

func knownLines() string {
	first, last := semver.MustParse(Talos[0].Latest[1:]), semver.MustParse(Talos[len(Talos)-1].Latest[1:])
	return fmt.Sprintf("1.%d to 1.%d", first.Minor, last.Minor)
}

func newestKubernetes(m uint64) string {
	if v, ok := kubernetesLatest(m); ok {
		return v.String()
	}
	return Kubernetes[len(Kubernetes)-1]
}

func core(v semver.Version) semver.Version {
	return semver.Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch}
}

func tag(v semver.Version) string { return "v" + v.String() }

// short renders a bound as its minor: "1.36.99" -> "1.36".
func short(s string) string {
	v := semver.MustParse(s)
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}
