package flux

// Chart is a pinned Helm chart: the chart repository that serves it, its
// name and its exact version. A platform part declares its chart once, as
// a package variable of its own package; its HelmRepository and
// HelmRelease, the test fixtures (package fixtures), the e2e chart
// repository and Renovate (renovate.json matches the declaration's
// Repository, Name and Version fields, in that order, on one line) all
// read that one value.
type Chart struct {
	// Repository is the chart repository's URL (https:// for an index,
	// oci:// for a registry).
	Repository string
	// Name of the chart in the repository.
	Name string
	// Version of the chart, pinned exactly.
	Version string
	// RepositoryName names the HelmRepository object. Default: Name.
	RepositoryName string
	// Dependencies are the versions of the subcharts packaged inside the
	// chart that the part's values are written for; the fixtures check
	// the package holds them.
	Dependencies map[string]string
}

// Repo is the HelmRepository object's name: RepositoryName, else Name.
func (c Chart) Repo() string {
	if c.RepositoryName != "" {
		return c.RepositoryName
	}
	return c.Name
}

// File is the package's file name, as `helm package` and chart
// repositories name it ("longhorn-1.12.1.tgz").
func (c Chart) File() string { return c.Name + "-" + c.Version + ".tgz" }
