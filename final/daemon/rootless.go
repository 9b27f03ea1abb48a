package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/final/rootless"
)

// A rootless daemon (Options.Rootless, final/rootless) is root only in a
// user namespace of an ordinary user's. On this kind of host (cgroup v1,
// or v2 without systemd delegating a subtree to the user) it cannot make
// a cgroup: the cgroup filesystems belong to the host's root. So its
// containers run without a cgroup of their own (chapter 02's NoCgroup),
// and every option that only a cgroup can apply is refused, by name,
// with a 400: a --memory that limits nothing would be a lie.

// rootlessNoCgroup ends each refusal: why, in the daemon's words.
const rootlessNoCgroup = " needs a cgroup, and a rootless berthd cannot make one (the host delegates no cgroup to its users)"

// checkRootless refuses the first option of the request that needs a
// cgroup, when the daemon is rootless. The options that berth refuses
// in every mode (unsupported.go) are not repeated here: when berth
// learns one that a cgroup applies (--device-cgroup-rule, --cpuset-cpus,
// --blkio-weight...), its line moves here.
func (d *Daemon) checkRootless(h *container.HostConfig) error {
	if !d.opts.Rootless {
		return nil
	}
	r := &h.Resources
	for _, u := range []unsupported{
		{r.Memory != 0, "--memory"},
		{r.NanoCPUs != 0, "--cpus"},
		{r.CPUQuota != 0, "--cpu-quota"},
		{r.CPUPeriod != 0, "--cpu-period"},
		{r.PidsLimit != nil && *r.PidsLimit > 0, "--pids-limit"},
		{r.CPUShares != 0, "--cpu-shares"},
		{r.CpusetCpus != "" || r.CpusetMems != "", "--cpuset-cpus and --cpuset-mems"},
		{r.MemoryReservation != 0, "--memory-reservation"},
		{r.OomKillDisable != nil && *r.OomKillDisable, "--oom-kill-disable"},
		// The device cgroup says what a --device may be used for
		// (rwm), and which devices a rule opens.
		{len(r.Devices) > 0, "--device"},
		{len(r.DeviceCgroupRules) > 0, "--device-cgroup-rule"},
	} {
		if u.asked {
			return invalid("%s%s", u.what, rootlessNoCgroup)
		}
	}
	return nil
}

// refuseRootlessFreeze refuses pause and unpause in a rootless daemon:
// the freezer is a cgroup's.
func (d *Daemon) refuseRootlessFreeze(what string) error {
	if !d.opts.Rootless {
		return nil
	}
	return invalid("%s%s", what, rootlessNoCgroup)
}

// A rootless daemon's published ports take two hops. Chapter 05
// publishes them in the daemon's network namespace, as ever, on every
// address of it: the host's address, there, is slirp4netns's tap. Then
// slirp4netns forwards the address and port the user asked for, on the
// host, to that port of the namespace (final/rootless's Ports).
//
//	host 127.0.0.1:8080 --slirp4netns--> ns 10.0.2.100:8080 --DNAT--> container:80

// hostPorts, in the shim's spec (runSpec.Forward), are a rootless
// container's published ports as the host sees them.
type hostPorts struct {
	// API is slirp4netns's API socket.
	API string `json:"api"`
	// Ports are the container's mappings as the user asked for them,
	// one for each of chapter 05's (network.Config.Publish), whose host
	// IPs rootlessPorts cleared.
	Ports []network.PortMapping `json:"ports"`
}

// forwardedPorts is the file, in the container's directory, that lists
// the forwards of its current run.
const forwardedPorts = "rootless-ports.json"

// forwarded is one forward that slirp4netns made: the host's side of
// the mapping, and the ID that removes the forward.
type forwarded struct {
	network.PortMapping
	ID int `json:"id"`
}

// rootlessPorts splits the published ports of a rootless daemon's
// container n in two: chapter 05 publishes them on every address of the
// daemon's namespace, and the host's side, with the addresses the user
// asked for, goes to the shim's spec s.
func (d *Daemon) rootlessPorts(n *network.Config, s *runSpec) error {
	if !d.opts.Rootless || len(n.Publish) == 0 {
		return nil
	}
	if d.opts.PortForwarder == "" {
		return invalid("publishing ports (-p, -P) needs a rootless network that forwards them: this berthd runs with --rootless-net none, and a port of its namespace is out of the host's reach")
	}
	s.Forward = &hostPorts{API: d.opts.PortForwarder, Ports: slices.Clone(n.Publish)}
	for i := range n.Publish {
		n.Publish[i].HostIP = netip.Addr{}
	}
	return nil
}

// forwardPorts has slirp4netns forward the host's ports to the container
// ctr (ID id) at each start, once chapter 05 has published them in the
// namespace, and end the forwards when the container is gone.
func forwardPorts(ctr *namespace.Container, f *hostPorts, root, id string) {
	ctr.OnRelease(func(int) error { return f.add(root, id) })
	ctr.OnExit(func() error { return f.remove(root, id) })
}

// add makes the forwards and lists them in the container's directory.
func (f *hostPorts) add(root, id string) (err error) {
	ep, err := network.Load(root, id)
	if err != nil {
		return err
	}
	if len(ep.Ports) != len(f.Ports) {
		return fmt.Errorf("container %s: %d published ports, %d to forward", id, len(ep.Ports), len(f.Ports))
	}
	var done []forwarded
	// What was made is listed even when a forward fails: remove
	// (the exit hooks) undoes it.
	defer func() {
		data, jerr := json.Marshal(done)
		if jerr == nil {
			jerr = os.WriteFile(filepath.Join(layer.ContainersDir(root), id, forwardedPorts), data, 0o644)
		}
		err = errors.Join(err, jerr)
	}()
	api := rootless.Ports{API: f.API}
	for i, m := range ep.Ports {
		host := f.Ports[i]
		host.HostPort = m.HostPort // the one chapter 05 picked, for -p 80
		fid, err := api.Add(m.Protocol, host.HostIP, m.HostPort)
		if err != nil {
			return err
		}
		done = append(done, forwarded{PortMapping: host, ID: fid})
	}
	return nil
}

// remove ends the forwards of the container's last run. The shim and
// the daemon may both clean up after a container: the list is claimed
// by renaming it, so that one of them removes the forwards.
func (f *hostPorts) remove(root, id string) error {
	file := filepath.Join(layer.ContainersDir(root), id, forwardedPorts)
	claimed := file + ".removing"
	if err := os.Rename(file, claimed); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	fwds, err := readForwards(claimed)
	api := rootless.Ports{API: f.API}
	for _, fw := range fwds {
		err = errors.Join(err, api.Remove(fw.ID))
	}
	return errors.Join(err, os.Remove(claimed))
}

// readForwards reads a container's list of forwards.
func readForwards(file string) ([]forwarded, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var fwds []forwarded
	if err := json.Unmarshal(data, &fwds); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return fwds, nil
}

// publishedPorts are the ports of container id as the host sees them:
// chapter 05's, or, in a rootless daemon, slirp4netns's forwards.
func (d *Daemon) publishedPorts(id string, ep *network.Endpoint) []network.PortMapping {
	if !d.opts.Rootless || len(ep.Ports) == 0 {
		return ep.Ports
	}
	fwds, err := readForwards(filepath.Join(layer.ContainersDir(d.opts.DataRoot), id, forwardedPorts))
	if err != nil {
		return ep.Ports
	}
	ports := make([]network.PortMapping, len(fwds))
	for i, fw := range fwds {
		ports[i] = fw.PortMapping
	}
	return ports
}
