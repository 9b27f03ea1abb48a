package daemon

import (
	"os"
	"testing"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
)

// TestMain makes the test binary play the parts berthd's binary plays:
// a container's init (a build's RUN re-executes it, as chapter 06's
// runner does), and, for the crash tests, a worker daemon that is killed
// in the middle of its work.
func TestMain(m *testing.M) {
	if !namespace.IsInit() {
		if mode := os.Getenv(crashWorkerEnv); mode != "" {
			os.Exit(crashWorker(mode))
		}
	}
	labtest.Main(m, layer.Init)
}
