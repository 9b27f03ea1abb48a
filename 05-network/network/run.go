package network

import (
	"errors"
	"flag"
	"fmt"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
)

// Connect puts the container c, with ID id, on the network that ep
// describes: ep.Attach wires the namespace of c's init while init sets
// the container up (OnRelease), before the command may start, so the
// command starts with eth0 up and its ports published; ep.Release
// removes everything once the container is gone.
func Connect(c *namespace.Container, ep *Endpoint) {
	// Beside init's set-up: the veth, the addresses, the routes take
	// as long as init's mounts, and only the command needs them.
	c.OnRelease(ep.Attach)
	c.OnExit(ep.Release)
}

// RunOptions are the flags of chapter 05's run: chapter 04's and the
// network's. Later chapters embed them in their own.
type RunOptions struct {
	layer.RunOptions
	Net Config
}

// AddFlags registers the flags of chapters 01 to 05 on fs.
func (o *RunOptions) AddFlags(fs *flag.FlagSet) {
	o.RunOptions.AddFlags(fs)
	o.Net.AddFlags(fs)
}

// Container is chapter 04's container with a network: its own eth0 on
// the bridge (--net bridge), the host's network (--net host), or only lo
// (--net none).
//
// The address and the host ports are reserved first, before the
// container's layer exists: a port that is already taken is one clear
// error, and nothing has been created.
func (o *RunOptions) Container(id string, command []string, stdio namespace.Stdio) (*namespace.Container, error) {
	ep, err := Allocate(o.Layer.Root, id, o.Net)
	if err != nil {
		return nil, err
	}
	// --net host: no network namespace at all (chapter 01's clone flags).
	o.Config.HostNetwork = o.Net.Mode == ModeHost
	c, err := o.RunOptions.Container(id, command, stdio)
	if err != nil {
		return nil, errors.Join(err, ep.Release())
	}
	Connect(c, ep)
	// A port that Allocate picked is news to the user: say which.
	for i, m := range ep.Ports {
		if o.Net.Publish[i].HostPort == 0 && stdio.Err != nil {
			fmt.Fprintf(stdio.Err, "berth: published %s\n", m)
		}
	}
	return c, nil
}

// Cleanup undoes, after the container with ID id has exited, what
// Container set up for one run: chapter 02's cgroup, and the network
// endpoint with its address and ports. Like chapter 02's, it needs no
// Container at hand and may run twice.
func (o *RunOptions) Cleanup(id string) (oomKilled bool, err error) {
	// The cgroup and the network have nothing to do with each other:
	// both go at once (this is on the path of every run --rm).
	released := make(chan error, 1)
	go func() { released <- Release(o.Layer.Root, id) }()
	oomKilled, err = o.RunOptions.Cleanup(id)
	return oomKilled, errors.Join(err, <-released)
}
