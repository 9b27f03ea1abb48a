// Command 02-cgroups runs a command in new namespaces, as chapter 01 does,
// inside a cgroup that limits its memory, CPU and number of processes.
//
//	sudo go run ./02-cgroups run [--memory SIZE] [--cpus N] [--pids-limit N] [--ulimit NAME=SOFT[:HARD]]... [--oom-score-adj N] \
//	     [--device-cgroup-rule RULE]... [chapter 01 flags] -- CMD [ARG...]
//
// What is new is all on the host side: cgroup.RunOptions adds the limits
// to chapter 01's flags, and its Container puts the container in a cgroup
// (read cgroup.Apply in cgroup/run.go). The container side is chapter
// 01's, unchanged.
package main

import (
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

var program = namespace.Program{
	Name: "02-cgroups",
	Usage: "usage: 02-cgroups run [--memory SIZE] [--cpus N] [--pids-limit N] [--ulimit NAME=SOFT[:HARD]]... [--oom-score-adj N]\n" +
		"                     [--device-cgroup-rule RULE]... [--hostname NAME] [--userns] [--init] [--sysctl KEY=VALUE]... [--explain] -- CMD [ARG...]",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){
		"run": namespace.RunCommand(func() namespace.Runner { return new(cgroup.RunOptions) }),
	},
	Init: namespace.Init,
}

func main() { program.Main() }
