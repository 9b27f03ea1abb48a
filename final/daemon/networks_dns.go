package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/dns"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/07-logs/shim"
)

// names keeps berthd's DNS server (chapter 05's dns.Server, one per
// daemon) in step with the user-defined networks and the containers on
// them:
//
//   - every user network is served on its gateway, port 53, from its
//     creation to its removal (and from the daemon's start for those
//     that exist): its bridge has the address from network create on,
//     and a container's first query, made as it starts, finds the
//     server there;
//   - a running container is in the records of each user network it is
//     on, under its name, its aliases and its short ID (each also as
//     NAME.NETWORK), from its start or connect to its disconnect, exit
//     or removal (the daemon's EndpointWatcher calls). Its --dns servers
//     are its own upstreams.
//
// Names the server does not know go to Options.DNSUpstreams, or the
// nameservers of the host's /etc/resolv.conf as the daemon found it at
// its start.
type names struct {
	root string
	srv  *dns.Server

	mu sync.Mutex
	// served are the networks the server serves (by ID), with the
	// gateway they are served on.
	served map[string]netip.Addr
	// in are the networks each container is in the records of.
	in map[string][]string
	// unknown answers the server's Unknown once the daemon can: see
	// Daemon.startingEndpoint.
	unknown atomic.Pointer[func(network string, client netip.Addr)]
}

func newNames(root string, upstreams []netip.AddrPort) (*names, error) {
	if upstreams == nil {
		rc, err := dns.ReadResolvConf(dns.DefaultHostPaths.ResolvConf)
		if err != nil {
			return nil, err
		}
		upstreams = rc.Upstreams()
	}
	n := &names{root: root, srv: dns.New(upstreams), served: map[string]netip.Addr{}, in: map[string][]string{}}
	n.srv.Unknown = func(network string, client netip.Addr) {
		if f := n.unknown.Load(); f != nil {
			(*f)(network, client)
		}
	}
	return n, nil
}

// sync serves every user network, and stops serving those that are
// gone (or whose gateway changed: a network of the same ID cannot, but a
// record may have been edited by hand).
func (n *names) sync() error {
	nets, err := network.Networks(n.root)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	want := map[string]*network.Network{}
	for _, nw := range nets {
		want[nw.ID] = nw
	}
	var errs []error
	for id, gw := range n.served {
		if nw, ok := want[id]; !ok || nw.Gateway != gw {
			errs = append(errs, n.srv.RemoveNetwork(id))
			delete(n.served, id)
		}
	}
	for id, nw := range want {
		if _, ok := n.served[id]; !ok {
			errs = append(errs, n.serve(id, nw.Gateway, nw.Internal))
		}
	}
	return errors.Join(errs...)
}

// serve starts serving network id on gateway:53. n.mu is held.
func (n *names) serve(id string, gateway netip.Addr, internal bool) error {
	if _, err := n.srv.AddNetwork(id, netip.AddrPortFrom(gateway, dns.Port), internal); err != nil {
		return err
	}
	n.served[id] = gateway
	return nil
}

// SetEndpoints is the daemon's EndpointWatcher: container id is now on
// the user networks eps (none once it stopped or went).
func (n *names) SetEndpoints(id string, eps []EndpointInfo) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := map[string]bool{}
	for _, ep := range eps {
		if _, ok := n.served[ep.NetworkID]; !ok {
			// Created by another berth process (chapter 05's
			// program), or its bridge was missing at sync.
			if n.serve(ep.NetworkID, ep.Gateway, ep.Internal) != nil {
				continue
			}
		}
		// Each name also as NAME.NETWORK, as Docker answers too.
		names := slices.Clone(ep.Names)
		for _, name := range ep.Names {
			names = append(names, name+"."+ep.Network)
		}
		e := dns.Endpoint{ID: id, Addr: ep.IP, Names: names, Upstreams: ep.Upstreams, Links: ep.Links}
		if n.srv.SetEndpoint(ep.NetworkID, e) == nil {
			now[ep.NetworkID] = true
		}
	}
	for _, net := range n.in[id] {
		if !now[net] {
			// The network may be gone already, with its records.
			_ = n.srv.RemoveEndpoint(net, id)
		}
	}
	delete(n.in, id)
	for net := range now {
		n.in[id] = append(n.in[id], net)
	}
}

// closeNames stops the DNS server, if the daemon runs one.
func (d *Daemon) closeNames() error {
	if d.names == nil {
		return nil
	}
	return d.names.srv.Close()
}

// networksChanged serves the user networks as they are now, after a
// network create or remove. A network that cannot be served now is
// tried again when a container joins it (SetEndpoints).
func (d *Daemon) networksChanged() {
	if d.names != nil {
		_ = d.names.sync()
	}
}

// dnsUpstreams are a container's own upstream resolvers, its --dns.
func dnsUpstreams(e *entry) []netip.AddrPort {
	if e.rec == nil {
		return nil
	}
	var out []netip.AddrPort
	for _, a := range e.rec.HostConfig.DNS {
		out = append(out, netip.AddrPortFrom(a, dns.Port))
	}
	return out
}

// shareNameFiles gives container id, which joins the network namespace
// of container other (--network container:ID), other's /etc/hosts and
// /etc/resolv.conf instead of its own, as Docker does: its addresses are
// other's, and so is its nameserver (the DNS server of other's network
// knows its queries by other's address). Only the mounts of its own
// files change, not a volume of the user's on the same path.
func shareNameFiles(spec *layer.InitSpec, root, id, other string) {
	_, ownHosts, ownResolv := dns.Paths(filepath.Join(layer.ContainersDir(root), id))
	_, hosts, resolv := dns.Paths(filepath.Join(layer.ContainersDir(root), other))
	for i, v := range spec.Rootfs.Volumes {
		switch v.Source {
		case ownHosts:
			spec.Rootfs.Volumes[i].Source = hosts
		case ownResolv:
			spec.Rootfs.Volumes[i].Source = resolv
		}
	}
}

// hostsMu serialises the rewrites of the containers' /etc/hosts.
var hostsMu sync.Mutex

// hostsChanged brings the /etc/hosts of container e up to date after a
// connect or disconnect while it runs: a line with its address on each
// of its networks, as Docker adds and removes them (a stopped container
// gets its file anew at its next start). The file is rewritten in place:
// it is mounted in the container, which would not see a new one.
func (d *Daemon) hostsChanged(e *entry) error {
	st, err := e.c.State()
	if err != nil || st.Status != shim.Running || e.rec == nil {
		return nil
	}
	ep, err := network.Load(d.opts.DataRoot, e.id)
	if err != nil {
		return nil // not on a bridge
	}
	var addrs []netip.Addr
	for _, i := range ep.Interfaces {
		addrs = append(addrs, i.IP)
	}
	_, hosts, _ := dns.Paths(e.c.Dir())
	hostsMu.Lock()
	defer hostsMu.Unlock()
	data, err := os.ReadFile(hosts)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // started by a berthd that wrote none
	}
	if err == nil {
		err = os.WriteFile(hosts, dns.UpdateHosts(data, e.rec.Config.Hostname, addrs), 0o644)
	}
	if err != nil {
		return fmt.Errorf("container %s: updating /etc/hosts: %w", e.id, err)
	}
	return nil
}
