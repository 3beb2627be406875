package homelab

import (
	"cmp"
	"fmt"
	"slices"

	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/apps"
)

// Dashboard is a Homepage (gethomepage.dev) app that links the others: the
// homelab writes its services.yaml with a link to every app that has a
// public host, and its settings.yaml with the title.
type Dashboard struct {
	// App runs Homepage; its Files are the homelab's to write.
	App apps.AppProps
	// Title of the page.
	Title string
}

// Homepage returns a Homepage dashboard titled title on the short host
// "home", running as in the memo.
func Homepage(title string) *Dashboard {
	return &Dashboard{Title: title, App: apps.AppProps{
		Name: "homepage", Host: "home", Image: "ghcr.io/gethomepage/homepage:v1.13.2", Port: 3000, RunAsUser: 1000,
		FilesPath: "/app/config", ScratchPaths: []string{"/app/.next/cache", "/tmp"},
		Resources: apps.Resources{CPU: "20m", Memory: "96Mi", MemoryLimit: "192Mi"},
	}}
}

// homepageService is an entry of Homepage's services.yaml.
type homepageService struct {
	Href        string `json:"href"`
	Description string `json:"description"`
}

// files renders the dashboard's files linking the apps with a public host
// (Homepage's links open in the browser, which cannot reach in-cluster
// Services), sorted by name: the order of the app list has no meaning.
func (d *Dashboard) files(list []apps.AppProps, url func(host string) string) (map[string]string, error) {
	public := slices.DeleteFunc(slices.Clone(list), func(a apps.AppProps) bool { return a.Host == "" })
	slices.SortStableFunc(public, func(a, b apps.AppProps) int { return cmp.Compare(a.Name, b.Name) })
	links := make([]map[string]homepageService, len(public))
	for i, a := range public {
		links[i] = map[string]homepageService{a.Name: {Href: url(a.Host), Description: a.Image}}
	}
	services, err := yaml.Marshal([]map[string][]map[string]homepageService{{"Homelab": links}})
	if err != nil {
		return nil, fmt.Errorf("homepage services: %w", err)
	}
	settings, err := yaml.Marshal(map[string]string{"title": d.Title})
	if err != nil {
		return nil, fmt.Errorf("homepage settings: %w", err)
	}
	return map[string]string{"services.yaml": string(services), "settings.yaml": string(settings)}, nil
}
