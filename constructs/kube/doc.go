// Package kube turns typed Kubernetes objects (k8s.io/api, the fluxcd API
// modules, any type in Scheme) into cdk8s ApiObjects in charts, one chart
// per output directory, and holds the small constructs every layer needs
// (Namespace, Group).
package kube
