// Command berth-probe prints what confines the container it runs in:
// identity, capabilities, seccomp, limits, system calls, devices, mounts,
// masked paths and kernel parameters, one fact a line (package
// final/probe). Build it static and run it under two engines to compare:
//
//	CGO_ENABLED=0 go build -o /tmp/probe/berth-probe ./final/cmd/berth-probe
//	docker run --rm -v /tmp/probe:/probe:ro busybox /probe/berth-probe
package main

import (
	"fmt"
	"os"

	"github.com/berth-project/berth/final/probe"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == probe.NestedArg {
		os.Exit(probe.NestedMount())
	}
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	if err := probe.Report(os.Stdout, self); err != nil {
		fmt.Fprintln(os.Stderr, "berth-probe:", err)
		os.Exit(1)
	}
}
