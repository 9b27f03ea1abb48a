package main

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/final/ociruntime"
)

// specVersion is the version of the runtime spec berth-runtime
// implements, printed by --version and used in the state's ociVersion.
var specVersion = specs.Version

// containerInit is the container's side, when the binary runs as a
// container's init (create re-executed it): final/ociruntime's
// ContainerInit, which returns only if the container cannot be set up
// or its process cannot be executed.
func containerInit() int {
	return ociruntime.ContainerInit()
}
