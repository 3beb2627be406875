package kube_test

import (
	"os"
	"testing"

	"github.com/funoffshore/homelab/pkg/nodeenv"
)

func TestMain(m *testing.M) {
	nodeenv.Ensure()
	os.Exit(m.Run())
}
