package daemon

import (
	"os"
	"testing"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
)

// TestMain makes the test binary play every part berthd's binary plays,
// before any test runs: a container's shim (the daemon re-executes
// itself as berth-shim to supervise each container), a container's init
// (a shim's, or a build's RUN), and two daemons of the tests' own: one
// for the kill -9 survival test (labDaemonMain), and a worker that the
// crash tests kill in the middle of a load, a commit or a build
// (crashWorker).
func TestMain(m *testing.M) {
	Runtime.Main() // a shim: supervise a container, then exit
	if namespace.IsInit() {
		os.Exit(Init()) // a container's init
	}
	if os.Getenv(labDaemonEnv) != "" {
		os.Exit(labDaemonMain())
	}
	if mode := os.Getenv(crashWorkerEnv); mode != "" {
		os.Exit(crashWorker(mode))
	}
	labtest.Main(m, Init)
}
