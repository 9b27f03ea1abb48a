// Command 02-cgroups runs a command in new namespaces, as chapter 01 does,
// inside a cgroup that limits its memory, CPU and number of processes.
//
//	sudo go run ./02-cgroups run [--memory SIZE] [--cpus N] [--pids-limit N] \
//	     [chapter 01 flags] -- CMD [ARG...]
//
// What is new is all on the host side, in run: the container side is
// chapter 01's, unchanged. The concept lives in the cgroup package.
package main

import (
	"fmt"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

var program = namespace.Program{
	Name: "02-cgroups",
	Usage: "usage: 02-cgroups run [--memory SIZE] [--cpus N] [--pids-limit N]\n" +
		"                     [--hostname NAME] [--userns] [--init] -- CMD [ARG...]",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){"run": run},
	Init:     namespace.Init,
}

func main() { program.Main() }

func run(args []string, stdio namespace.Stdio) (int, error) {
	var cfg namespace.Config
	var limits cgroup.Resources
	fs := namespace.FlagSet("run")
	cfg.AddFlags(fs)
	limits.AddFlags(fs) // new: --memory, --cpus, --pids-limit
	command, err := namespace.ParseCommand(fs, args)
	if err != nil {
		return 0, err
	}
	id := namespace.NewID()

	// One cgroup per container, named by its ID.
	cg, err := cgroup.New(id, limits)
	if err != nil {
		return 0, err
	}
	c := namespace.Container{Config: cfg, Stdio: stdio, Spec: cfg.NewSpec(id, command)}
	// Join init to the cgroup while it waits for its spec: the command
	// starts inside the limits, and every process it forks is counted.
	c.OnStart(cg.Add)
	status, err := c.Run()

	if oom, _ := cg.OOMKilled(); oom {
		fmt.Fprintf(stdio.Err, "02-cgroups: the container was killed: out of memory (limit %s)\n", cgroup.FormatBytes(limits.Memory))
	}
	if derr := cg.Destroy(); derr != nil && err == nil {
		err = derr
	}
	return status, err
}
