package core

import (
	"cmp"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
)

// AppProps configures an App.
type AppProps struct {
	// RepoDir is the output root's directory inside the Git repository;
	// Flux Kustomization paths start with it. Default: "cluster".
	RepoDir string
}

// App is the root of a homelab construct tree: a cdk8s App with the
// Go-side registry synth reads.
type App struct {
	cdk8s.App
	info *Info
}

// NewApp returns an empty App. It starts the jsii node process on first
// use; call jsii.Close before the program exits.
func NewApp(props *AppProps) *App {
	props = cmp.Or(props, &AppProps{})
	repo := cmp.Or(props.RepoDir, "cluster")
	t := &Tree{paths: map[string]*Info{}, dirs: map[string]*Info{}, checks: map[string]bool{}, repoDir: repo}
	a := &App{info: &Info{tree: t}}
	t.root = a.info
	startPreparations()
	cdk8s.NewApp_Override(a, &cdk8s.AppProps{})
	// One hook runs every Go-side validation, so a plain cdk8s synth (or
	// Chart.ToJson) of this App refuses an invalid tree too.
	a.Node().AddValidation(&rootValidation{tree: t})
	return a
}

// Info returns the App's place in the tree: the root.
func (a *App) Info() *Info { return a.info }

// Tree returns the App's registry.
func (a *App) Tree() *Tree { return a.info.tree }

// ToString overrides the jsii method (jsii needs one override to accept a
// Go struct); it returns "App".
func (a *App) ToString() *string { return jsii.String("App") }

type rootValidation struct{ tree *Tree }

// Validate implements constructs.IValidation.
func (r *rootValidation) Validate() *[]*string {
	out := []*string{}
	if err := r.tree.Validate(); err != nil {
		for _, e := range err.(*ValidationError).Errors {
			out = append(out, jsii.String(e.Error()))
		}
	}
	return &out
}
