// Command 03-rootfs runs a command in its own root filesystem: chapters 01
// and 02, plus --rootfs, volumes, environment and working directory.
//
//	sudo go run ./03-rootfs run --rootfs DIR [-v HOST:CONTAINER[:ro]] [-e K=V] [-w DIR] \
//	     [--seccomp PROFILE.json|unconfined] [chapter 01-02 flags] -- CMD [ARG...]
//
// New on the host side: rootfs.RunOptions adds the rootfs flags, and its
// Container adds them to the spec, with the seccomp filter compiled for
// the container's capabilities (package seccomp). New on the container
// side: rootfs.Init, which is chapter 01's init with the root switch
// (rootfs.Enter), the syscall filter and the capability drop before the
// command runs.
package main

import (
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

var program = namespace.Program{
	Name: "03-rootfs",
	Usage: "usage: 03-rootfs run --rootfs DIR [-v HOST:CONTAINER[:ro]]... [--tmpfs DIR[:OPTS]]... [--shm-size BYTES]\n" +
		"                    [-e KEY=VALUE]... [-w DIR] [--read-only] [--privileged] [--seccomp PROFILE.json|unconfined] [--device HOST[:CONTAINER][:rwm]]...\n" +
		"                    [--memory SIZE] [--cpus N] [--pids-limit N] [--device-cgroup-rule RULE]...\n" +
		"                    [--ulimit NAME=SOFT[:HARD]]... [--oom-score-adj N]\n" +
		"                    [--hostname NAME] [--userns] [--init] [--sysctl KEY=VALUE]... [--explain] -- CMD [ARG...]",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){
		"run": namespace.RunCommand(func() namespace.Runner { return new(rootfs.RunOptions) }),
	},
	Init: rootfs.Init,
}

func main() { program.Main() }
