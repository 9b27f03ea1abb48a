// Command 01-namespaces runs a command in new Linux namespaces.
//
//	sudo go run ./01-namespaces run [--hostname NAME] [--userns] [--init] [--sysctl KEY=VALUE]... [--explain] -- CMD [ARG...]
//
// The same binary plays two parts. Started by you, it runs "run": the host
// side, namespace.RunCommand with chapter 01's flags (namespace.Config).
// Re-executed by namespace.Start as "berth-init" inside the new
// namespaces, it runs namespace.Init: the container side. Read them in
// namespace/program.go and container.go, then process.go, setup.go and
// init.go.
package main

import (
	"github.com/berth-project/berth/01-namespaces/namespace"
)

var program = namespace.Program{
	Name:  "01-namespaces",
	Usage: "usage: 01-namespaces run [--hostname NAME] [--userns] [--init] [--sysctl KEY=VALUE]... [--explain] -- CMD [ARG...]",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){
		"run": namespace.RunCommand(func() namespace.Runner { return new(namespace.Config) }),
	},
	Init: namespace.Init,
}

func main() { program.Main() }
