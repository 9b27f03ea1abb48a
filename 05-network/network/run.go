package network

import (
	"errors"
	"flag"
	"fmt"
	"slices"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/dns"
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

// RunOptions are the flags of chapter 05's run: chapter 04's, the
// network's, and the name resolution's (--dns, --add-host...). Later
// chapters embed them in their own.
type RunOptions struct {
	layer.RunOptions
	Net Config
	DNS dns.Config
}

// AddFlags registers the flags of chapters 01 to 05 on fs.
func (o *RunOptions) AddFlags(fs *flag.FlagSet) {
	o.RunOptions.AddFlags(fs)
	o.Net.AddFlags(fs)
	o.DNS.AddFlags(fs)
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
	// The mount points of the name files, on top of the image (with
	// --rootfs, chapter 03's flag, they are made in the container's
	// layer instead).
	if len(o.Layer.Image) > 0 {
		mp, err := dns.MountPointLayer(o.Layer.Root)
		if err != nil {
			return nil, errors.Join(err, ep.Release())
		}
		o.Layer.Image = append(slices.Clone(o.Layer.Image), mp)
	}
	c, err := o.RunOptions.Container(id, command, stdio)
	if err != nil {
		return nil, errors.Join(err, ep.Release())
	}
	ep.Explain = c.Config.Trace // --explain
	if err := o.nameFiles(id, ep, c); err != nil {
		return nil, errors.Join(err, c.Close(), ep.Release())
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

// nameFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into its directory (chapter 04's), and adds the bind
// mounts that put them in place to its spec, first, so that a volume of
// the user's on one of them (-v ./hosts:/etc/hosts) covers berth's. The
// address is the one Allocate reserved; --add-host NAME:host-gateway is
// the bridge's own.
func (o *RunOptions) nameFiles(id string, ep *Endpoint, c *namespace.Container) error {
	spec, ok := c.Spec.(layer.InitSpec)
	if !ok {
		return fmt.Errorf("container %s: unexpected spec %T from chapter 04", namespace.ShortID(id), c.Spec)
	}
	rw, err := layer.Open(o.Layer.Root, id)
	if err != nil {
		return err
	}
	ct := dns.Container{
		Hostname:    spec.Hostname,
		HostNetwork: ep.Mode == ModeHost,
		HostGateway: Gateway(o.Net.Subnet),
	}
	for _, i := range ep.Interfaces {
		ct.Addrs = append(ct.Addrs, i.IP)
		// The embedded server, if one serves the user networks,
		// listens on their gateways: the first one's is the
		// container's nameserver (the server answers there from all
		// the container's networks).
		if o.DNS.Embedded && !ct.Nameserver.IsValid() && i.Network != DefaultNetwork {
			ct.Nameserver = i.Gateway
		}
	}
	files, err := o.DNS.Files(ct, dns.DefaultHostPaths)
	if err != nil {
		return fmt.Errorf("container %s: %w", namespace.ShortID(id), err)
	}
	vols, err := files.Write(rw.Dir)
	if err != nil {
		return fmt.Errorf("container %s: %w", namespace.ShortID(id), err)
	}
	// With --read-only, the files are read-only too, as under Docker:
	// a read-only container changes none of its files, these included.
	for i := range vols {
		vols[i].ReadOnly = spec.Rootfs.ReadonlyRootfs
	}
	spec.Rootfs.Volumes = append(vols, spec.Rootfs.Volumes...)
	c.Spec = spec
	return nil
}
