package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
)

// Endpoint is one container's place on the network: its address, its veth
// pair and its published ports. It is saved as JSON under the root
// directory from Allocate to Release, so that whoever cleans up (the same
// program, or a daemon after a restart) knows what to remove.
type Endpoint struct {
	ID      string       `json:"id"`
	Mode    Mode         `json:"mode"`
	Bridge  string       `json:"bridge,omitempty"`
	Subnet  netip.Prefix `json:"subnet,omitzero"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
	// IP is the container's address on the bridge.
	IP  netip.Addr `json:"ip,omitzero"`
	MAC string     `json:"mac,omitempty"`
	// HostVeth is the host's end of the veth pair; the container's end
	// is ContainerInterface (eth0).
	HostVeth string `json:"hostVeth,omitempty"`
	// Ports are the published ports, with the host ports that were
	// picked for the mappings that asked for any free one.
	Ports []PortMapping `json:"ports,omitempty"`
	// Pid is the process whose network namespace is attached, and
	// Netns that namespace ("net:[4026532183]"), zero when detached. A
	// Pid whose namespace is no longer Netns means the container died
	// without releasing its endpoint (see reclaimStale).
	Pid   int    `json:"pid,omitempty"`
	Netns string `json:"netns,omitempty"`

	root string
}

// Allocate reserves what container id needs on the network: an address
// of the bridge's subnet and the published host ports. It only writes the
// state under root: nothing exists on the host yet, so that a port that
// is taken or a full subnet is reported before a container is started.
// Call Attach once the container's namespaces exist, and Release when the
// container is gone.
//
// For --net host and --net none, Allocate reserves nothing and the
// Endpoint's Attach and Release do nothing.
func Allocate(root, id string, cfg Config) (*Endpoint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return nil, fmt.Errorf("container ID %q: not a valid ID", id)
	}
	e := &Endpoint{ID: id, Mode: cfg.Mode, root: root}
	if cfg.Mode != ModeBridge {
		return e, nil
	}
	e.Bridge, e.Subnet, e.Gateway = cfg.Bridge, cfg.Subnet, Gateway(cfg.Subnet)
	e.HostVeth = vethName(id)
	err := withState(root, func(s *state) error {
		reclaimStale(root, s)
		for _, n := range s.Networks {
			for a, holder := range n.Leases {
				if holder == id {
					return fmt.Errorf("container %s already has address %s", shortID(id), a)
				}
			}
		}
		n, err := s.network(cfg.Bridge, cfg.Subnet)
		if err != nil {
			return err
		}
		if e.Ports, err = s.reservePorts(id, cfg.Publish); err != nil {
			return err
		}
		if e.IP, err = n.allocate(id); err != nil {
			return err
		}
		e.MAC = macFor(e.IP).String()
		// Saved while the lock is held: the state and the endpoint
		// never disagree about who holds what.
		return e.save()
	})
	if err != nil {
		return nil, fmt.Errorf("network for container %s: %w", shortID(id), err)
	}
	return e, nil
}

// Load reads the endpoint of container id saved under root. The error
// wraps fs.ErrNotExist if there is none (never allocated, already
// released, or not on a bridge).
func Load(root, id string) (*Endpoint, error) {
	path := endpointPath(root, id)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("network endpoint of container %s: %w", shortID(id), err)
	}
	e := &Endpoint{root: root}
	if err := json.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("network endpoint %s: %w", path, err)
	}
	return e, nil
}

func (e *Endpoint) save() error {
	if err := writeJSON(endpointPath(e.root, e.ID), e); err != nil {
		return fmt.Errorf("saving network endpoint: %w", err)
	}
	return nil
}

func (e *Endpoint) mac() net.HardwareAddr {
	if mac, err := net.ParseMAC(e.MAC); err == nil {
		return mac
	}
	return macFor(e.IP)
}

// Attach connects the network namespace of process pid to the bridge:
//
//	host                                        container (netns of pid)
//	berth0 10.88.0.1/16 --- vethXXXXXXX <=====> eth0 10.88.0.2/16
//	                                            default via 10.88.0.1
//
// It creates the bridge and its nftables table if they do not exist yet,
// the veth pair, the container's address and route, and a DNAT rule per
// published port. Use it as a namespace.Container OnRelease (or OnStart)
// hook: the namespace exists, the container's command has not started.
//
// If Attach fails it removes what it created, and the reservation stays:
// call Release.
func (e *Endpoint) Attach(pid int) (err error) {
	if e.Mode != ModeBridge {
		return nil
	}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("attaching container %s to %s: %w", shortID(e.ID), e.Bridge, err), e.Detach())
		}
	}()
	br, err := ensureBridge(e.Bridge, e.Subnet)
	if err != nil {
		return err
	}
	if err := createVeth(br, e, pid); err != nil {
		return err
	}
	if err := configureContainer(e, pid); err != nil {
		return err
	}
	if err := installRules(e.Bridge, e.Subnet, e.ID, e.IP, e.Ports); err != nil {
		return err
	}
	if e.Netns, err = os.Readlink(nsPath(pid)); err != nil {
		return fmt.Errorf("network namespace of pid %d: %w", pid, err)
	}
	e.Pid = pid
	return e.save()
}

// attached reports whether the process the endpoint was attached to still
// runs in the same network namespace. A PID alone could have been reused
// by an unrelated process since.
func (e *Endpoint) attached() bool {
	ns, err := os.Readlink(nsPath(e.Pid))
	return err == nil && ns == e.Netns
}

// reclaimStale releases the endpoints whose container is gone without a
// Release: its program was killed (kill -9 leaves no time to clean up),
// or the machine lost power. Their veth went with the namespace, but
// their rules, address and ports would be held forever (pitfall 8). Only
// attached endpoints are judged: one that is allocated and not attached
// yet belongs to a container that is starting. Errors are left for the
// next try: the caller's own allocation matters more.
func reclaimStale(root string, s *state) {
	ids := map[string]bool{}
	for _, n := range s.Networks {
		for _, id := range n.Leases {
			ids[id] = true
		}
	}
	for id := range ids {
		e, err := Load(root, id)
		if err != nil || e.Pid == 0 || e.attached() {
			continue
		}
		if e.detach(false) != nil {
			continue
		}
		s.release(id)
		_ = os.Remove(endpointPath(root, id))
	}
}

// Detach undoes Attach: it deletes the container's DNAT rules and its
// veth pair, and keeps the address and ports reserved, so that Attach can
// be called again for a new process of the same container. Missing pieces
// are not an error.
func (e *Endpoint) Detach() error {
	return e.detach(true)
}

// detach is Detach; it records the detached endpoint only if save (a
// Release, which deletes the record next, need not rewrite it first).
func (e *Endpoint) detach(save bool) error {
	if e.Mode != ModeBridge {
		return nil
	}
	// The rules go first: from then on, nothing is forwarded to this
	// address, even if it were handed to a new container. A container
	// that published no port has none (installRules), and looking for
	// them would read the whole publish chain.
	var rulesErr, vethErr error
	if len(e.Ports) > 0 {
		rulesErr = deletePortRules(e.Bridge, e.ID)
	}
	// The veth goes with the container's network namespace, which the
	// kernel dismantles once the container's last process has exited:
	// then there is nothing to do here. Deleting it ourselves would
	// wait for the kernel's RCU grace periods, 10 ms or more on the
	// path of every `run --rm`, for what the kernel does anyway in
	// the background. (allocate does not hand the address out again
	// right away, so the veth's last moments disturb nobody.)
	if e.Pid == 0 || e.attached() {
		vethErr = deleteVeth(e.HostVeth)
	}
	if err := errors.Join(rulesErr, vethErr); err != nil {
		return err
	}
	if e.Pid == 0 {
		return nil
	}
	e.Pid, e.Netns = 0, ""
	if !save {
		return nil
	}
	if _, err := os.Stat(endpointPath(e.root, e.ID)); err != nil {
		return nil // released already: nothing to update
	}
	return e.save()
}

// Release removes everything the container had on the network: Detach,
// then its address lease, its host ports and its saved endpoint. It can be
// called more than once.
func (e *Endpoint) Release() error {
	if e.Mode != ModeBridge {
		return nil
	}
	if err := e.detach(false); err != nil {
		return err // keep the record, so that a second try knows what is left
	}
	err := withState(e.root, func(s *state) error {
		s.release(e.ID)
		if err := os.Remove(endpointPath(e.root, e.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("releasing network of container %s: %w", shortID(e.ID), err)
	}
	return nil
}

// Release releases the endpoint of container id saved under root (see
// Endpoint.Release); it is how a program that did not call Allocate, such
// as a restarted daemon, cleans up. A container without an endpoint is
// not an error.
func Release(root, id string) error {
	e, err := Load(root, id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return e.Release()
}
