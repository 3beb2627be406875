// Package apps models the user applications of a homelab: each App is a
// Deployment with its ServiceAccount and Service, with pinned images,
// explicit resources and a Pod Security "restricted" security context.
package apps
