//go:build unix

package nodeenv

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
)

//go:embed launcher/node.sh launcher/preload.js
var launcher embed.FS

// useLauncher points JSII_NODE at the launcher, unless the user set it (or
// JSII_RUNTIME), node is not on PATH or the launcher cannot be installed,
// and reports whether it changed the environment.
func useLauncher() bool {
	_, inherited := os.LookupEnv(nodeVar)
	if (os.Getenv(jsiiNode) != "" && !inherited) || os.Getenv("JSII_RUNTIME") != "" {
		return false
	}
	node := os.Getenv(nodeVar)
	if !inherited {
		var err error
		if node, err = exec.LookPath("node"); err != nil {
			return false
		}
	}
	script, err := installLauncher()
	if err != nil {
		return false
	}
	if inherited && os.Getenv(jsiiNode) == script {
		return false
	}
	os.Setenv(nodeVar, node)
	os.Setenv(jsiiNode, script)
	return true
}

// installLauncher makes sure the launcher's files are in the user's cache
// directory, in a directory named by their content (so versions of this
// program never share one), and returns the script's path. A file with
// other content (a write cut short) is replaced atomically.
func installLauncher() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	names := []string{"node.sh", "preload.js"}
	modes := []os.FileMode{0o755, 0o644}
	contents := make([][]byte, len(names))
	sum := sha256.New()
	for i, name := range names {
		if contents[i], err = launcher.ReadFile("launcher/" + name); err != nil {
			return "", err
		}
		sum.Write(contents[i])
	}
	dir := filepath.Join(cache, "homelab", "jsii-launcher-"+hex.EncodeToString(sum.Sum(nil))[:16])
	wrote := false
	for i, name := range names {
		w, err := install(dir, name, contents[i], modes[i])
		if err != nil {
			return "", err
		}
		wrote = wrote || w
	}
	script := filepath.Join(dir, "node.sh")
	if wrote {
		// A cache on a noexec mount, or without /bin/sh: jsii could not
		// start its node; leave jsii's own wrapper in place.
		if err := exec.Command(script, "--homelab-probe").Run(); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return script, nil
}

// install writes data to dir/name with mode, unless it holds data, and
// reports whether it wrote.
func install(dir, name string, data []byte, mode os.FileMode) (bool, error) {
	path := filepath.Join(dir, name)
	if got, err := os.ReadFile(path); err == nil && bytes.Equal(got, data) {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	f, err := os.CreateTemp(dir, name+".*")
	if err != nil {
		return false, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mode)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return true, err
}
