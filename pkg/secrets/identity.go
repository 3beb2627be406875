package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"filippo.io/age"
)

// DefaultIdentityPath returns where `homelab secrets init` keeps the age
// identity: $HOMELAB_AGE_KEY_FILE, else <user config dir>/homelab/age.key.
func DefaultIdentityPath() (string, error) {
	if p := os.Getenv("HOMELAB_AGE_KEY_FILE"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the user config dir for the age identity: %w", err)
	}
	return filepath.Join(dir, "homelab", "age.key"), nil
}

// GenerateIdentity creates a new age identity at path (mode 0600, parent
// 0700) and returns its public recipient. It refuses to overwrite a file.
func GenerateIdentity(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return "", fmt.Errorf("age identity %s already exists: keep it (it decrypts every secret) or move it away first", path)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	content := "# homelab age identity: decrypts the homelab's secrets; never commit it\n# public key: " +
		id.Recipient().String() + "\n" + id.String() + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	return id.Recipient().String(), f.Close()
}

// Identity is a loaded age identity.
type Identity struct {
	// Path it was read from.
	Path string
	// Recipient is the public key.
	Recipient string
	// raw is the AGE-SECRET-KEY line; never printed.
	raw string
	id  *age.X25519Identity
}

// String hides the secret key.
func (i *Identity) String() string { return "age identity " + i.Path + " (" + i.Recipient + ")" }

// LoadIdentity reads the age identity at path.
func LoadIdentity(path string) (*Identity, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no age identity at %s: run `go run . secrets init` or point HOMELAB_AGE_KEY_FILE at yours", path)
	}
	if err != nil {
		return nil, err
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 && runtime.GOOS != "windows" {
		// As ssh does with private keys: a key others can read is no
		// longer only yours.
		return nil, fmt.Errorf("age identity %s is readable by others (mode %04o): run `chmod 600 %s`", path, mode, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "AGE-SECRET-KEY-") {
			id, err := age.ParseX25519Identity(line)
			if err != nil {
				return nil, fmt.Errorf("age identity %s is malformed (the key line does not parse)", path)
			}
			return &Identity{Path: path, Recipient: id.Recipient().String(), raw: line, id: id}, nil
		}
	}
	return nil, fmt.Errorf("age identity %s holds no AGE-SECRET-KEY line", path)
}

// SecretKey returns the identity's private key line, for the one place
// that must hand it over: the deployer's sops-age Secret for Flux.
func (i *Identity) SecretKey() string { return i.raw }

// IdentityFromKey is the identity of an AGE-SECRET-KEY line held in
// memory (the cluster key's), for decrypting; it has no Path.
func IdentityFromKey(key string) (*Identity, error) {
	id, err := age.ParseX25519Identity(strings.TrimSpace(key))
	if err != nil {
		return nil, errors.New("not an age secret key (AGE-SECRET-KEY-...)")
	}
	return &Identity{Recipient: id.Recipient().String(), raw: strings.TrimSpace(key), id: id}, nil
}
