package daemon

import (
	"os"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// The test binary plays every part berthd's binary plays: a shim (the
// daemon re-executes itself as berth-shim to supervise each container)
// and a container's init. Both must be caught before the tests run, and
// before TestMain, which is another file's: a package init function runs
// first.
func init() {
	Runtime.Main() // a shim: supervise a container, then exit
	if namespace.IsInit() {
		os.Exit(Init()) // a container's init
	}
	if os.Getenv(labDaemonEnv) != "" {
		os.Exit(labDaemonMain()) // a daemon of its own, for the kill -9 test
	}
}
