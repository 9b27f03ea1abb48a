package ociruntime

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// RunOptions are run's flags beyond create's.
type RunOptions struct {
	CreateOptions
	Detach bool // --detach, -d: return once the process runs
	Keep   bool // --keep: do not delete the container when it exits
}

// Run is create, start and, in the foreground, wait: it returns the
// process's exit status (128+N when signal N killed it), forwarding the
// signals this process gets to init meanwhile, and deletes the
// container at the end unless Keep. Detached, it returns 0 once the
// process runs, init left to this process's parent or subreaper.
func Run(root string, o RunOptions) (status int, err error) {
	o.Foreground = !o.Detach
	o.openGate = true
	o.keepTerminal = o.Foreground && o.ConsoleSocket == ""
	// The signal handlers a foreground run forwards with are installed
	// while create runs (tuning_signals.go in chapter 01 tells why).
	var (
		early  *namespace.EarlySignals
		caught chan struct{}
	)
	if !o.Detach {
		caught = make(chan struct{})
		go func() { early = namespace.CatchSignals(); close(caught) }()
	}
	c, err := Create(root, o.CreateOptions)
	if caught != nil {
		<-caught
		if err != nil {
			early.Stop()
		}
	}
	if err != nil {
		return -1, err
	}
	// The record and the config as create had them: neither is read
	// back from disk nor decoded again.
	r, rc := c.Record, c.config
	var untty func()
	if c.console != nil { // run_tty.go
		master, err := recvConsole(c.console)
		c.console.Close()
		if err != nil {
			if early != nil {
				early.Stop()
			}
			return -1, errors.Join(err, r.delete(root, true, rc))
		}
		in, out := os.Stdin, os.Stdout
		if o.Stdio != nil {
			in, _ = o.Stdio.In.(*os.File) // files only: a terminal is one
			out, _ = o.Stdio.Out.(*os.File)
		}
		untty = proxyTerminal(master, in, out)
	}
	if o.Detach {
		if err := r.start(root, rc, c.gate); err != nil {
			return -1, errors.Join(err, r.delete(root, true, rc))
		}
		return 0, nil
	}
	stopSignals := early.Handover(c.Init)
	stop := func() {
		stopSignals()
		if untty != nil {
			untty() // the output copied to its end, our terminal restored
		}
	}
	if err := r.start(root, rc, c.gate); err != nil {
		stop()
		return -1, errors.Join(err, r.delete(root, true, rc))
	}
	status, err = c.Init.Wait()
	stop()
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", o.ID, err)
	}
	if !o.Keep {
		if err := r.delete(root, true, rc); err != nil {
			return status, err
		}
	}
	return status, nil
}

// List returns the state of every container under root, by ID.
func List(root string) ([]OCIState, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--root %s: %w", root, err)
	}
	var out []OCIState
	for _, e := range entries {
		if !e.IsDir() || CheckID(e.Name()) != nil {
			continue
		}
		r, err := Load(root, e.Name())
		if errors.Is(err, ErrNotExist) {
			continue // a create under way, or one killed half way
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r.State(root))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
