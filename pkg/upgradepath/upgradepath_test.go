package upgradepath_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/funoffshore/homelab/pkg/upgradepath"
)

func TestPlan(t *testing.T) {
	for _, c := range []struct {
		name          string
		running, want upgradepath.Versions
		path          string
	}{
		{"nothing to do", v("v1.13.9", "1.36.3"), v("v1.13.9", "1.36.3"), ""},
		{"one Talos patch", v("v1.13.8", "1.36.3"), v("v1.13.9", "1.36.3"), "Talos v1.13.8 -> v1.13.9"},
		{"one Kubernetes patch", v("v1.13.9", "1.36.1"), v("v1.13.9", "1.36.3"), "Kubernetes 1.36.1 -> 1.36.3"},
		// The Funoffshore move: Talos first (1.14 runs 1.36), then
		// Kubernetes on it.
		{"the next minor of both", v("v1.13.9", "1.36.3"), v("v1.14.1", "1.37.0"),
			"Talos v1.13.9 -> v1.14.1, then Kubernetes 1.36.3 -> 1.37.0"},
		// Two hops: the running line's latest patch first.
		{"latest patch first", v("v1.12.3", "1.35.4"), v("v1.13.9", "1.36.3"),
			"Talos v1.12.3 -> v1.12.11 -> v1.13.9, then Kubernetes 1.35.4 -> 1.36.3"},
		// Three lines; Talos 1.14 does not run Kubernetes 1.31, so
		// Kubernetes moves on 1.13 before the last hop, then one minor
		// at a time to the model's.
		{"Kubernetes first where the next Talos needs it", v("v1.11.2", "1.31.5"), v("v1.14.1", "1.37.0"),
			"Talos v1.11.2 -> v1.11.6 -> v1.12.11 -> v1.13.9, then Kubernetes 1.31.5 -> 1.32.13, then Talos v1.13.9 -> v1.14.1, then Kubernetes 1.32.13 -> 1.33.13 -> 1.34.4 -> 1.35.4 -> 1.36.5 -> 1.37.0"},
		{"a v on the Kubernetes version", v("v1.13.9", "v1.36.1"), v("v1.13.9", "v1.36.3"), "Kubernetes 1.36.1 -> 1.36.3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := upgradepath.Plan(c.running, c.want)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.path, p.String()); d != "" {
				t.Errorf("path (-want +got):\n%s", d)
			}
		})
	}
}

func TestPlanSaysWhy(t *testing.T) {
	p, err := upgradepath.Plan(v("v1.12.3", "1.34.2"), v("v1.14.1", "1.37.0"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Talos v1.12.3 -> v1.12.11 (the latest patch of 1.12 first: Talos tests upgrades between adjacent minors' latest patches)",
		"Talos v1.12.11 -> v1.13.9 (through 1.13's latest patch: Talos upgrades one minor at a time)",
		"Talos v1.13.9 -> v1.14.1 (the model's release)",
		"Kubernetes 1.34.2 -> 1.35.4 (the model's version, one minor at a time)",
		"Kubernetes 1.35.4 -> 1.36.5 (the model's version, one minor at a time)",
		"Kubernetes 1.36.5 -> 1.37.0 (the model's version)",
	}
	var got []string
	for _, h := range p {
		got = append(got, h.String())
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("hops (-want +got):\n%s", d)
	}
	if len(p.Talos()) != 3 || len(p.Kubernetes()) != 3 {
		t.Errorf("Talos() %v, Kubernetes() %v", p.Talos(), p.Kubernetes())
	}
}

func TestPlanRefuses(t *testing.T) {
	for _, c := range []struct {
		name          string
		running, want upgradepath.Versions
		layer         upgradepath.Layer
		reason        string
	}{
		{"a Talos release that does not exist", v("v1.13.9", "1.36.3"), v("v1.14.7", "1.37.0"), upgradepath.LayerTalos,
			"the model asks for v1.14.7, not a release the planner knows (newest of 1.14: v1.14.1)"},
		{"a Talos line the table lacks", v("v1.13.9", "1.36.3"), v("v1.15.0", "1.37.0"), upgradepath.LayerTalos,
			"the model asks for v1.15.0, a line the planner has no data for (it knows 1.10 to 1.14)"},
		{"a Kubernetes release that does not exist", v("v1.14.1", "1.37.0"), v("v1.14.1", "1.37.9"), upgradepath.LayerKubernetes,
			"the model asks for 1.37.9, not a release the planner knows (newest known: 1.37.2)"},
		{"Kubernetes the target Talos does not run", v("v1.13.9", "1.36.3"), v("v1.13.9", "1.37.0"), upgradepath.LayerKubernetes,
			"the model asks for Kubernetes 1.37.0 on Talos v1.13.9: Kubernetes 1.37.0 is too new for Talos v1.13.9 (it runs 1.31 to 1.36)"},
		{"Kubernetes too old for the target Talos", v("v1.13.9", "1.31.2"), v("v1.14.1", "1.31.2"), upgradepath.LayerKubernetes,
			"the model asks for Kubernetes 1.31.2 on Talos v1.14.1: Kubernetes 1.31.2 is too old for Talos v1.14.1 (it runs 1.32 to 1.37)"},
		{"a Talos downgrade", v("v1.13.9", "1.36.3"), v("v1.13.8", "1.36.3"), upgradepath.LayerTalos,
			"the cluster runs v1.13.9, newer than the model's v1.13.8: deploy does not downgrade Talos"},
		{"a Kubernetes downgrade", v("v1.13.9", "1.36.3"), v("v1.13.9", "1.35.4"), upgradepath.LayerKubernetes,
			"the cluster runs 1.36.3, newer than the model's 1.35.4: Kubernetes does not downgrade; set the model to 1.36.3"},
		{"a running line the table lacks", v("v1.9.6", "1.32.3"), v("v1.13.9", "1.36.3"), upgradepath.LayerTalos,
			"the cluster runs v1.9.6, a line the planner has no data for (it knows 1.10 to 1.14): upgrade by hand to v1.10.9 first"},
		{"no tag", v("1.13.9", "1.36.3"), v("v1.13.9", "1.36.3"), upgradepath.LayerTalos, "a Talos release is a tag such as v1.13.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := upgradepath.Plan(c.running, c.want)
			var r *upgradepath.Refused
			if !errors.As(err, &r) {
				t.Fatalf("want a refusal, got path %v, error %v", p, err)
			}
			if r.Layer != c.layer || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("refusal %q (%s), want %s containing %q", r.Reason, r.Layer, c.layer, c.reason)
			}
		})
	}
}

// A line whose Kubernetes range does not overlap the next one's leaves
// no path: Kubernetes would have to move past what the running Talos
// runs before the next Talos accepts it.
func TestPlanRefusesWhenKubernetesCannotBridge(t *testing.T) {
	saved := upgradepath.Talos
	t.Cleanup(func() { upgradepath.Talos = saved })
	upgradepath.Talos = []upgradepath.TalosLine{
		{Latest: "v1.13.9", MinimumHostUpgrade: "1.11.0", MinimumKubernetes: "1.31.0", MaximumKubernetes: "1.32.99"},
		{Latest: "v1.14.1", MinimumHostUpgrade: "1.12.0", MinimumKubernetes: "1.34.0", MaximumKubernetes: "1.37.99"},
	}
	_, err := upgradepath.Plan(v("v1.13.9", "1.32.1"), v("v1.14.1", "1.37.0"))
	var r *upgradepath.Refused
	if !errors.As(err, &r) || r.Layer != upgradepath.LayerKubernetes ||
		!strings.Contains(r.Reason, "Kubernetes must reach 1.33.13 (Talos v1.14.1 runs Kubernetes 1.34 to 1.37 only), but Talos v1.13.9 does not run it") {
		t.Fatalf("got %v", err)
	}
}

func TestUpgradeable(t *testing.T) {
	for _, c := range []struct{ host, to, err string }{
		{"v1.13.9", "v1.14.1", ""},
		{"v1.12.0", "v1.14.1", ""},
		{"v1.11.6", "v1.14.1", "host version v1.11.6 is too old to upgrade to Talos v1.14.1 (its installer upgrades from 1.12.0 on)"},
		{"v1.13.9", "v1.15.0", "upgrades to version 1.15.0 are not supported"},
	} {
		err := upgradepath.Upgradeable(c.host, c.to)
		if (err == nil) != (c.err == "") || (err != nil && err.Error() != c.err) {
			t.Errorf("Upgradeable(%s, %s) = %v, want %q", c.host, c.to, err, c.err)
		}
	}
}

func v(talos, k8s string) upgradepath.Versions {
	return upgradepath.Versions{Talos: talos, Kubernetes: k8s}
}
