package proxmox_test

import (
	"bytes"
	"testing"

	"github.com/funoffshore/homelab/pkg/deploy/proxmox"
	"github.com/funoffshore/homelab/pkg/oracle/talosboot"
)

// TestConfigISOIsWhatTalosReads builds the config ISO and reads it back
// as Talos' metal platform would (label probed by go-blockdevice, file by
// name): a wrong label or file name fails.
func TestConfigISOIsWhatTalosReads(t *testing.T) {
	want := []byte("version: v1alpha1\nmachine:\n  type: worker\n")
	iso, err := proxmox.ConfigISO(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := talosboot.ReadConfigISO(iso)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Talos would read %q, want %q", got, want)
	}
	if bytes.Contains(iso, []byte("CONFIG.YAM")) && !bytes.Contains(iso, []byte("config.yaml")) {
		t.Error("the ISO has only the 8.3 name: Linux would not find config.yaml")
	}
}
