package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GitServer serves Git repositories over smart HTTP on loopback through
// git's own http-backend, as a Git host would. Stop with Close.
type GitServer struct {
	// Root holds the bare repositories served.
	Root string
	// URL is the server's base URL (http://127.0.0.1:PORT).
	URL string
	srv *http.Server
}

// StartGitServer serves the bare repositories under root.
func StartGitServer(root string) (*GitServer, error) {
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("git is required for the end-to-end test: %w", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	url, srv, err := serve(h)
	if err != nil {
		return nil, err
	}
	return &GitServer{Root: root, URL: url, srv: srv}, nil
}

// Close stops the server.
func (s *GitServer) Close() error { return s.srv.Close() }

// HelmRepository serves a directory of chart packages and its index.yaml
// (relative chart URLs) on loopback. Stop with Close.
type HelmRepository struct {
	URL string
	srv *http.Server
}

// StartHelmRepository serves dir, which must hold an index.yaml.
func StartHelmRepository(dir string) (*HelmRepository, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.yaml")); err != nil {
		return nil, fmt.Errorf("no Helm repository index in %s: %w", dir, err)
	}
	url, srv, err := serve(http.FileServer(http.Dir(dir)))
	if err != nil {
		return nil, err
	}
	return &HelmRepository{URL: url, srv: srv}, nil
}

// Close stops the server.
func (r *HelmRepository) Close() error { return r.srv.Close() }

func serve(h http.Handler) (string, *http.Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), srv, nil
}

// Repo is a Git working copy whose commits are pushed to a bare
// repository a GitServer serves.
type Repo struct {
	// Dir is the working copy; Name the served repository (Name.git).
	Dir, Name string
	server    *GitServer
}

// NewRepo makes an empty working copy at dir on branch, pushing to
// name.git under server's root.
func NewRepo(server *GitServer, dir, name, branch string) (*Repo, error) {
	r := &Repo{Dir: dir, Name: name, server: server}
	bare := filepath.Join(server.Root, name+".git")
	if _, err := git(server.Root, "init", "--quiet", "--bare", "--initial-branch="+branch, bare); err != nil {
		return nil, err
	}
	if _, err := git(dir, "init", "--quiet", "--initial-branch="+branch); err != nil {
		return nil, err
	}
	if _, err := git(dir, "remote", "add", "origin", bare); err != nil {
		return nil, err
	}
	return r, nil
}

// URL is the repository's HTTP clone URL.
func (r *Repo) URL() string { return r.server.URL + "/" + r.Name + ".git" }

// Commit commits every change in the working copy with message, pushes
// it, and returns the commit's hash.
func (r *Repo) Commit(message string) (string, error) {
	if _, err := git(r.Dir, "add", "--all"); err != nil {
		return "", err
	}
	if _, err := git(r.Dir, "commit", "--quiet", "--allow-empty", "-m", message); err != nil {
		return "", err
	}
	return r.push()
}

// Revert commits the revert of commit and pushes it.
func (r *Repo) Revert(commit string) (string, error) {
	if _, err := git(r.Dir, "revert", "--no-edit", commit); err != nil {
		return "", err
	}
	return r.push()
}

func (r *Repo) push() (string, error) {
	if _, err := git(r.Dir, "push", "--quiet", "origin", "HEAD"); err != nil {
		return "", err
	}
	head, err := git(r.Dir, "rev-parse", "HEAD")
	return strings.TrimSpace(head), err
}

// git runs git in dir with a fixed identity and no user configuration.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@localhost", "GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@localhost")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
