package upgradepath_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blang/semver/v4"
	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/compatibility"

	"github.com/funoffshore/homelab/pkg/fixtures/fetch"
	"github.com/funoffshore/homelab/pkg/upgradepath"
)

const machineryModule = "github.com/siderolabs/talos/pkg/machinery"

// pinnedMachinery is the machinery release the project builds with
// (its go.mod, as the go command resolves it).
func pinnedMachinery(t *testing.T) semver.Version {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", machineryModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", machineryModule, err)
	}
	return semver.MustParse(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"))
}

// The table's rules agree with machinery's own checks
// (compatibility.TalosVersion.UpgradeableFrom, the installer's pre-flight
// check, and KubernetesVersion.SupportedWith) on every line the pinned
// machinery knows, on a grid of versions around each bound.
func TestInStepWithMachinery(t *testing.T) {
	pinned := pinnedMachinery(t)
	known := 0
	for _, l := range upgradepath.Talos {
		lv := semver.MustParse(l.Latest[1:])
		if lv.Minor > pinned.Minor {
			continue
		}
		known++
		target, err := compatibility.ParseTalosVersion(&machine.VersionInfo{Tag: l.Latest})
		if err != nil {
			t.Fatal(err)
		}
		for minor := lv.Minor - 4; minor <= lv.Minor+1; minor++ {
			for _, patch := range []int{0, 1, 5, 99} {
				host := fmt.Sprintf("v1.%d.%d", minor, patch)
				h, err := compatibility.ParseTalosVersion(&machine.VersionInfo{Tag: host})
				if err != nil {
					t.Fatal(err)
				}
				theirs, ours := target.UpgradeableFrom(h), upgradepath.Upgradeable(host, l.Latest)
				if (theirs == nil) != (ours == nil) {
					t.Errorf("upgrade %s -> %s: machinery says %v, the table %v", host, l.Latest, theirs, ours)
				}
			}
		}
		for minor := 20; minor <= 40; minor++ {
			for _, patch := range []int{0, 3, 98, 99} {
				k := fmt.Sprintf("1.%d.%d", minor, patch)
				kv, err := compatibility.ParseKubernetesVersion(k)
				if err != nil {
					t.Fatal(err)
				}
				theirs, ours := kv.SupportedWith(target), upgradepath.KubernetesSupported(k, l.Latest)
				if (theirs == nil) != (ours == nil) {
					t.Errorf("Kubernetes %s on Talos %s: machinery says %v, the table %v", k, l.Latest, theirs, ours)
				}
			}
		}
	}
	if known < 3 {
		t.Fatalf("only %d of the table's lines are known to machinery v%s: the table has drifted from the pinned machinery", known, pinned)
	}
	// The pinned release itself is a release the table knows.
	if err := upgradepath.Upgradeable("v"+pinned.String(), "v"+pinned.String()); err != nil {
		t.Errorf("the pinned machinery's release v%s: %v", pinned, err)
	}
	if _, err := upgradepath.Plan(upgradepath.Versions{Talos: "v" + pinned.String(), Kubernetes: "1.32.0"},
		upgradepath.Versions{Talos: "v" + pinned.String(), Kubernetes: "1.32.0"}); err != nil {
		t.Errorf("the pinned machinery's release v%s is not in the table: %v", pinned, err)
	}
}

// Lines newer than the pinned machinery (which has no code for them)
// carry the constants of machinery's own source at their release,
// fetched from the Go module proxy: compatibility/talos1N/talos1N.go.
func TestNewerLinesMatchMachinerySource(t *testing.T) {
	pinned := pinnedMachinery(t)
	checked := 0
	for _, l := range upgradepath.Talos {
		lv := semver.MustParse(l.Latest[1:])
		if lv.Minor <= pinned.Minor {
			continue
		}
		checked++
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		pkg := fmt.Sprintf("talos%d%d", lv.Major, lv.Minor)
		src, err := fetch.ModuleFile(ctx, machineryModule, l.Latest, fmt.Sprintf("compatibility/%s/%s.go", pkg, pkg))
		cancel()
		if err != nil {
			t.Fatalf("machinery %s: %v", l.Latest, err)
		}
		got := constants(t, src)
		want := map[string]string{
			"MinimumHostUpgradeVersion": l.MinimumHostUpgrade,
			"MinimumKubernetesVersion":  l.MinimumKubernetes,
			"MaximumKubernetesVersion":  l.MaximumKubernetes,
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("Talos %s: machinery's %s.%s is %q, the table says %q", l.Latest, pkg, name, got[name], w)
			}
		}
		if d, ok := got["DeniedHostUpgradeVersions"]; !ok || (d != "" && len(l.DeniedHostUpgrade) == 0) {
			t.Errorf("Talos %s: machinery's DeniedHostUpgradeVersions is %q, the table %v", l.Latest, d, l.DeniedHostUpgrade)
		}
	}
	if checked == 0 {
		t.Log("every line of the table is known to the pinned machinery; TestInStepWithMachinery checks them")
	}
}

// constants returns the semver.MustParse arguments of src's package
// variables by name ("" for a variable with no value).
func constants(t *testing.T, src []byte) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				out[n.Name] = ""
				if i >= len(vs.Values) {
					continue
				}
				call, ok := vs.Values[i].(*ast.CallExpr)
				if !ok || len(call.Args) != 1 {
					out[n.Name] = "(not a MustParse call)"
					continue
				}
				if lit, ok := call.Args[0].(*ast.BasicLit); ok {
					out[n.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	return out
}
