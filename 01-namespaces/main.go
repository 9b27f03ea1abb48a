// Command 01-namespaces runs a command in new Linux namespaces.
//
//	sudo go run ./01-namespaces run [--hostname NAME] [--userns] [--init] -- CMD [ARG...]
//
// The same binary plays two parts. Started by you, it runs `run` below:
// the host side. Re-executed by namespace.Start as "berth-init" inside the
// new namespaces, it runs namespace.Init: the container side (read it in
// namespace/program.go, then setup.go and init.go).
package main

import (
	"github.com/berth-project/berth/01-namespaces/namespace"
)

var program = namespace.Program{
	Name:     "01-namespaces",
	Usage:    "usage: 01-namespaces run [--hostname NAME] [--userns] [--init] -- CMD [ARG...]",
	Commands: map[string]func([]string, namespace.Stdio) (int, error){"run": run},
	Init:     namespace.Init,
}

func main() { program.Main() }

// run is the host side: parse the flags, start init in new namespaces,
// send it the spec, wait for the command's exit status.
func run(args []string, stdio namespace.Stdio) (int, error) {
	var cfg namespace.Config
	fs := namespace.FlagSet("run")
	cfg.AddFlags(fs)
	command, err := namespace.ParseCommand(fs, args)
	if err != nil {
		return 0, err
	}
	c := namespace.Container{
		Config: cfg,
		Stdio:  stdio,
		Spec:   cfg.NewSpec(namespace.NewID(), command),
	}
	return c.Run()
}
