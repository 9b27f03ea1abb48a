package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/07-logs/shim"
)

// engine tells the shim how this program starts a container and cleans up
// after it: chapters 01 to 05, piece by piece. The shim is this very
// program re-executed (shim.Name), so main calls engine.Main first.
var engine = shim.Runtime{
	Start:   startContainer,
	Cleanup: cleanupContainer,
	Remove:  removeContainer,
}

// startContainer runs in the shim, at each start of the container: the
// same steps as chapter 05's run, except that the writable layer already
// exists (run made it; it lives until rm, so that a container started
// again finds its files as it left them) and nothing waits here for the
// end: the shim does.
func startContainer(c *shim.Container, stdio namespace.Stdio) (p *namespace.Process, err error) {
	var o network.RunOptions
	if err := c.DecodeSpec(&o); err != nil {
		return nil, err
	}
	id, root := c.ID(), o.Layer.Root

	// Chapter 05: an address and the host ports, reserved first.
	ep, err := network.Allocate(root, id, o.Net)
	if err != nil {
		return nil, err
	}
	o.Config.HostNetwork = o.Net.Mode == network.ModeHost

	// Chapter 04: the container's own layer on the image's.
	rw, err := layer.Open(root, id)
	if err != nil {
		return nil, err
	}
	mount := rw.MountSpec()
	if o.UserNS {
		// Root in the container is an unprivileged host uid, and it
		// mounts the overlay: it must own the directories it writes.
		hostRoot := o.IDBase
		if hostRoot == 0 {
			hostRoot = namespace.DefaultIDBase
		}
		if err := rw.Chown(hostRoot, hostRoot); err != nil {
			return nil, err
		}
		mount.UserXattr = true
	}

	// Chapter 03: the root filesystem is the layer's merged directory.
	o.FS.Root = rw.Merged()
	base, err := o.FS.InitSpec(o.Config.NewSpec(id, c.Config.Command))
	if err != nil {
		return nil, err
	}
	spec := layer.InitSpec{InitSpec: base, Layer: mount}

	// Chapter 02: the cgroup, named by the ID.
	cg, err := cgroup.New(id, o.Limits)
	if err != nil {
		return nil, err
	}

	// Chapter 01: init in new namespaces, waiting for its spec while
	// the host side joins it to the cgroup and wires its network.
	p, err = namespace.Start(o.Config, stdio)
	if err != nil {
		return nil, err
	}
	for _, hook := range []func(int) error{cg.Add, ep.Attach} {
		if err := hook(p.Pid()); err != nil {
			_ = p.Kill()
			return nil, fmt.Errorf("preparing container (init pid %d): %w", p.Pid(), err)
		}
	}
	if err := p.Release(spec); err != nil {
		_ = p.Kill()
		return nil, err
	}
	return p, nil
}

// cleanupContainer runs in the shim once the container has exited (or in
// whichever command finds that the shim died): it removes what
// startContainer made for this run, found by the container's ID, as a
// fresh process that shares no memory with the one that made them.
func cleanupContainer(c *shim.Container, st *shim.State) error {
	var o network.RunOptions
	if err := c.DecodeSpec(&o); err != nil {
		return err
	}
	var errs []error
	cg, err := cgroup.Load(c.ID())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		errs = append(errs, err)
	default:
		if oom, _ := cg.OOMKilled(); oom {
			st.OOMKilled = true
		}
		errs = append(errs, cg.Destroy())
	}
	errs = append(errs, network.Release(o.Layer.Root, c.ID()))
	return errors.Join(errs...)
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
