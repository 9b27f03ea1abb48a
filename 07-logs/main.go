// Command 07-logs runs containers in the background, each under a small
// supervisor (a shim) that holds its stdio, writes its log and records
// its exit status: chapters 01-05, plus the commands that manage a
// container over its life.
//
//	sudo go run ./07-logs run [-d] [-i] [--name NAME] [--log-opt max-size=10m] [--log-opt max-file=3] \
//	     --image DIR[:DIR...] [chapter 01-05 flags] -- CMD [ARG...]
//	sudo go run ./07-logs logs [-f] [-t] [--tail N|all] [--since TIME] [--stdin] NAME
//	sudo go run ./07-logs ps [-a]
//	sudo go run ./07-logs stop [-t SECONDS] NAME...
//	sudo go run ./07-logs kill [-s SIGNAL] NAME...
//	sudo go run ./07-logs start [-a] [-i] NAME
//	sudo go run ./07-logs rm [-f] NAME...
//	sudo go run ./07-logs top NAME
//
// Every command takes --root DIR (default /var/lib/berth-course). A NAME is a
// container's name, its ID, or a prefix of its ID.
//
// New on the host side: run creates the container's record and its
// writable layer, then hands it to a shim (package shim), which starts it
// with chapter 05's steps (runtime.go) and outlives this command. The
// log format and its reader are in package logs. The container side is
// chapter 04's init, unchanged.
package main

import (
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/07-logs/shim"
)

var program = namespace.Program{
	Name: "07-logs",
	Usage: "usage: 07-logs run [-d] [-i] [--name NAME] [--log-opt KEY=VALUE]... --image DIR[:DIR...]\n" +
		"                  [--net bridge|host|none] [-p [HOSTIP:][HOSTPORT:]CONTAINERPORT]... [--bridge NAME] [--subnet CIDR]\n" +
		"                  [-v HOST:CONTAINER[:ro]]... [-e KEY=VALUE]... [-w DIR] [--read-only] [--privileged]\n" +
		"                  [--memory SIZE] [--cpus N] [--pids-limit N] [--ulimit NAME=SOFT[:HARD]]... [--oom-score-adj N] [--hostname NAME] [--userns] [--init] [--sysctl KEY=VALUE]... [--explain] -- CMD [ARG...]\n" +
		"       07-logs logs [-f] [-t] [--tail N|all] [--since TIME] [--stdin] NAME\n" +
		"       07-logs ps [-a]\n" +
		"       07-logs stop [-t SECONDS] NAME...\n" +
		"       07-logs kill [-s SIGNAL] NAME...\n" +
		"       07-logs start [-a] [-i] NAME\n" +
		"       07-logs rm [-f] NAME...\n" +
		"       07-logs top NAME\n" +
		"Every command takes --root DIR. A container keeps its writable layer until rm (--keep is implied).",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){
		"run": run, "logs": logsCmd, "ps": ps, "stop": stop, "kill": kill,
		"start": start, "rm": rm, "top": top,
	},
	Init: shim.ContainerInit(layer.Init),
}

func main() {
	engine.Main() // a shim: supervise a container, then exit
	program.Main()
}
