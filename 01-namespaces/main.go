// Command 01-namespaces runs a command in new Linux namespaces, under a
// tiny init that is PID 1 there.
//
//	sudo go run ./01-namespaces run [--hostname NAME] [--userns] [--init] -- CMD [ARG...]
//
// Read it top to bottom: main decides which side of the container this
// process is on; run is the host side; containerInit is the container side.
// The concept lives in the namespace package beside this file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

const usage = "usage: 01-namespaces run [--hostname NAME] [--userns] [--init] -- CMD [ARG...]"

func main() {
	// The same binary plays both parts. namespace.Start re-executes it
	// as "berth-init" inside the new namespaces.
	if namespace.IsInit() {
		os.Exit(containerInit())
	}
	os.Exit(cli(os.Args[1:], namespace.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}

// cli runs a subcommand and returns the exit status. Errors of berth's own
// are one line on stderr and status 125, as with `docker run`.
func cli(args []string, stdio namespace.Stdio) int {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(stdio.Err, usage)
		return 125
	}
	status, err := run(args[1:], stdio)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdio.Err, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stdio.Err, "01-namespaces: %v\n", err)
		return 125
	}
	return status
}

// run is the host side: parse the flags, start init in new namespaces,
// send it the spec, wait for its exit status.
func run(args []string, stdio namespace.Stdio) (int, error) {
	var cfg namespace.Config
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // one-line errors, printed by cli
	cfg.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() == 0 {
		return 0, errors.New("no command given; " + usage)
	}
	id := namespace.NewID()
	if cfg.Hostname == "" {
		cfg.Hostname = namespace.ShortID(id)
	}

	p, err := namespace.Start(cfg, stdio)
	if err != nil {
		return 0, err
	}
	defer p.ForwardSignals()()
	spec := namespace.Spec{
		Hostname: cfg.Hostname,
		Command:  namespace.Command{Args: fs.Args(), Env: namespace.DefaultEnv(cfg.Hostname)},
		Init:     cfg.Init,
	}
	if err := p.Release(spec); err != nil {
		_ = p.Kill()
		return 0, err
	}
	return p.Wait()
}

// containerInit is the container side: PID 1 in the new namespaces.
func containerInit() int {
	var spec namespace.Spec
	if err := namespace.ReadSpec(&spec); err != nil {
		return initFailed(err)
	}
	if err := namespace.Setup(spec); err != nil {
		return initFailed(err)
	}
	// This mount namespace still has the host's files, /proc included;
	// a new proc instance shows only this PID namespace's processes.
	if err := namespace.MountProc("/proc"); err != nil {
		return initFailed(err)
	}
	return namespace.Run(spec)
}

func initFailed(err error) int {
	fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
	return 125
}
