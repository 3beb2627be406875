package storage

import (
	"fmt"
	"path"

	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/constructs/core"
)

// NFSExport is a directory a NAS already exports, with data in it (a
// media library, photos): a Volume on it mounts it as it is. Nothing is
// provisioned and nothing is deleted: the claim binds to a
// PersistentVolume of its own (reclaim Retain) that names the export.
type NFSExport struct {
	// Server is the NAS's IP address or DNS name. Required.
	Server string
	// Path is the exported directory. Required, absolute.
	Path string
	// ReadOnly mounts the export read-only.
	ReadOnly bool
}

// Existing returns the export at path of the provisioner's NAS: a
// directory it already holds, for a Volume's Export.
func (n *NFS) Existing(path string) *NFSExport { return &NFSExport{Server: n.server, Path: path} }

// checkServer returns the problem of an NFS server address (nil for
// none): an IP address or a DNS name, in core.ParseHost's grammar.
func checkServer(server string) *core.AddrProblem {
	if server == "" {
		return &core.AddrProblem{Problem: "NFS server is empty", Fix: "set it to the NAS's IP address or DNS name"}
	}
	_, problem := core.ParseHost(server, "NFS server")
	return problem
}

// checkExportPath returns the problem of an exported path ("" for none).
func checkExportPath(p string) string {
	if len(p) == 0 || p[0] != '/' {
		return fmt.Sprintf("NFS path %q is not absolute", p)
	}
	if path.Clean(p) != p {
		return fmt.Sprintf("NFS path %q is not in its clean form (%s)", p, path.Clean(p))
	}
	return ""
}

// validate returns the export's problems, reported at the construct at.
func (e *NFSExport) validate(at string) []error {
	var errs []error
	if problem := checkServer(e.Server); problem != nil {
		errs = append(errs, core.Errorf(at, "set NFSExport.Server: "+problem.Fix, "%s", problem.Problem))
	}
	if msg := checkExportPath(e.Path); msg != "" {
		errs = append(errs, core.Errorf(at, fmt.Sprintf("set NFSExport.Path to the exported directory, such as %q", "/volume1/media"), "%s", msg))
	}
	return errs
}

// source returns the volume source of the export.
func (e *NFSExport) source() corev1.PersistentVolumeSource {
	return corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: e.Server, Path: e.Path, ReadOnly: e.ReadOnly}}
}
