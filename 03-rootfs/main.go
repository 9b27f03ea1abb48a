// Command 03-rootfs runs a command in its own root filesystem: chapters 01
// and 02, plus --rootfs, volumes, environment and working directory.
//
//	sudo go run ./03-rootfs run --rootfs DIR [-v HOST:CONTAINER[:ro]] [-e K=V] [-w DIR] \
//	     [chapter 01-02 flags] -- CMD [ARG...]
//
// New on the host side: the rootfs options join the spec. New on the
// container side: rootfs.Init, which is chapter 01's init with the root
// switch (rootfs.Enter) and the capability drop before the command runs.
package main

import (
	"fmt"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

var program = namespace.Program{
	Name: "03-rootfs",
	Usage: "usage: 03-rootfs run --rootfs DIR [-v HOST:CONTAINER[:ro]]... [-e KEY=VALUE]... [-w DIR] [--read-only]\n" +
		"                    [--memory SIZE] [--cpus N] [--pids-limit N]\n" +
		"                    [--hostname NAME] [--userns] [--init] -- CMD [ARG...]",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){"run": run},
	Init:     rootfs.Init,
}

func main() { program.Main() }

func run(args []string, stdio namespace.Stdio) (int, error) {
	var cfg namespace.Config
	var limits cgroup.Resources
	var fsopts rootfs.Options
	fs := namespace.FlagSet("run")
	cfg.AddFlags(fs)
	limits.AddFlags(fs)
	fsopts.AddFlags(fs) // new: --rootfs, -v, -e, -w, --read-only
	command, err := namespace.ParseCommand(fs, args)
	if err != nil {
		return 0, err
	}
	id := namespace.NewID()
	spec, err := fsopts.InitSpec(cfg.NewSpec(id, command))
	if err != nil {
		return 0, err
	}

	cg, err := cgroup.New(id, limits)
	if err != nil {
		return 0, err
	}
	c := namespace.Container{Config: cfg, Stdio: stdio, Spec: spec}
	c.OnStart(cg.Add)
	status, err := c.Run()

	if oom, _ := cg.OOMKilled(); oom {
		fmt.Fprintf(stdio.Err, "03-rootfs: the container was killed: out of memory (limit %s)\n", cgroup.FormatBytes(limits.Memory))
	}
	if derr := cg.Destroy(); derr != nil && err == nil {
		err = derr
	}
	return status, err
}
