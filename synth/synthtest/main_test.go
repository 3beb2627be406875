package synthtest_test

import (
	"testing"

	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
