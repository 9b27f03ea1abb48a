package main

import specs "github.com/opencontainers/runtime-spec/specs-go"

// specVersion is the version of the runtime spec berth-runtime
// implements, printed by --version and used in the state's ociVersion.
var specVersion = specs.Version

// containerInit is the container's side, when the binary runs as a
// container's init: written with the create path (cmd_create.go and
// final/ociruntime). Until then, it refuses to run.
func containerInit() int {
	return 1
}
