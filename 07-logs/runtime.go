package main

import (
	"errors"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/07-logs/shim"
)

// engine tells the shim how this program starts a container and cleans up
// after it: with chapter 05's runner, as `run` without -d would. The shim is this very
// program re-executed (shim.Name), so main calls engine.Main first.
var engine = shim.Runtime{
	Start:   startContainer,
	Cleanup: cleanupContainer,
	Remove:  removeContainer,
}

// startContainer runs in the shim, at each start of the container:
// chapter 05's container, started and left running. Two options differ
// from a foreground run: the container is Detached (it must outlive the
// shim's Go half, which becomes the C monitor, and whoever ran `run -d`),
// and its layer Persists (run made it; it lives until rm, so that a
// container started again finds its files as it left them). Nothing waits
// here for the end: the shim does.
func startContainer(c *shim.Container, stdio namespace.Stdio) (*namespace.Process, error) {
	var o network.RunOptions
	if err := c.DecodeSpec(&o); err != nil {
		return nil, err
	}
	o.Config.Detached = true
	o.Layer.Persist = true
	o.Config.Trace = c.Explain() // --explain: to the container's explain.log
	ctr, err := o.Container(c.ID(), c.Config.Command, stdio)
	if err != nil {
		return nil, err
	}
	return ctr.Start()
}

// cleanupContainer runs in the shim once the container has exited (or in
// whichever command finds that the shim died): chapter 05's Cleanup
// removes what startContainer made for this run (cgroup, network), found
// by the container's ID, as a fresh process that shares no memory with
// the one that made them.
func cleanupContainer(c *shim.Container, st *shim.State) error {
	var o network.RunOptions
	if err := c.DecodeSpec(&o); err != nil {
		return err
	}
	oom, err := o.Cleanup(c.ID())
	if oom {
		st.OOMKilled = true
	}
	return err
}

// removeContainer runs at rm: the writable layer goes with the container.
func removeContainer(c *shim.Container) error {
	var o network.RunOptions
	if err := c.DecodeSpec(&o); err != nil {
		return err
	}
	rw, err := layer.Open(o.Layer.Root, c.ID())
	if errors.Is(err, layer.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return rw.Remove()
}
