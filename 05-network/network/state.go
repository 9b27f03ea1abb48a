package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
)

// The network's state lives under the root directory (--root):
//
//	<root>/network/
//	  lock                  flock(2)ed while the state is read and written
//	  state.json            address leases per bridge, published ports
//	  endpoints/<id>.json   one container's Endpoint, for Release
//	  networks/<id>.json    a user-defined Network
//	  containers/<id>.json  a daemon's container's Attachments
//
// Every container program that shares a root shares this state, so two
// `run`s started at the same moment cannot hand out the same address or
// the same host port.

// state is state.json.
type state struct {
	// Networks is keyed by bridge name.
	Networks map[string]*netState `json:"networks"`
	Ports    []portLease          `json:"ports"`
}

// netState is one bridge's address pool.
type netState struct {
	Subnet netip.Prefix `json:"subnet"`
	// Leases maps each address in use to the container that holds it.
	Leases map[netip.Addr]string `json:"leases"`
	// Last is the address handed out last: the next search starts after
	// it (see allocate).
	Last netip.Addr `json:"last,omitzero"`
	// Gateway is the bridge's address, never handed out; the zero
	// value is the subnet's first address (Gateway).
	Gateway netip.Addr `json:"gateway,omitzero"`
	// Range narrows the addresses allocate hands out (--ip-range);
	// the zero value is the whole subnet.
	Range netip.Prefix `json:"range,omitzero"`
}

// portLease is a host port held by a container.
type portLease struct {
	PortMapping
	ID string `json:"id"`
}

func stateDir(root string) string { return filepath.Join(root, "network") }

func endpointPath(root, id string) string {
	return filepath.Join(stateDir(root), "endpoints", id+".json")
}

// withState runs f on the state under an exclusive lock and writes the
// state back if f succeeds.
//
// flock(2) locks belong to an open file description, so two goroutines of
// one process that each open the lock file exclude each other just as two
// processes do. The lock file is separate from state.json because
// state.json is replaced by a rename (so that a crash mid-write never
// leaves half a file), and a lock on a replaced file would protect
// nothing.
func withState(root string, f func(*state) error) error {
	dir := stateDir(root)
	for _, sub := range []string{"endpoints", "networks", "containers"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fmt.Errorf("network state: %w", err)
		}
	}
	lockPath := filepath.Join(dir, "lock")
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("network state: %w", err)
	}
	defer lock.Close() // closing the last descriptor releases the lock
	for {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("locking %s: %w", lockPath, err)
	}

	path := filepath.Join(dir, "state.json")
	s := &state{}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("network state: %w", err)
	default:
		if json.Unmarshal(b, s) != nil {
			// Torn by a crash of the machine (see writeJSON): the
			// endpoints say who held what.
			s = rebuildState(root)
		}
	}
	if s.Networks == nil {
		s.Networks = map[string]*netState{}
	}
	if err := f(s); err != nil {
		return err
	}
	return writeJSON(path, s)
}

// rebuildState makes the state again from the endpoints under root, for
// a state.json that a crash of the machine tore. Each endpoint gets back
// its address and its ports; the next Allocate then releases those whose
// container is gone (reclaimStale), which after a crash is all of them.
// An endpoint that is torn too is dropped: its container is gone.
func rebuildState(root string) *state {
	s := &state{Networks: map[string]*netState{}}
	dir := filepath.Join(stateDir(root), "endpoints")
	entries, _ := os.ReadDir(dir)
	for _, de := range entries {
		id, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok {
			continue // a write's leftover temporary file (.NAME.json.*)
		}
		e, err := Load(root, id)
		if err != nil || e.Mode != ModeBridge || e.ID != id {
			_ = os.Remove(filepath.Join(dir, de.Name()))
			continue
		}
		for _, i := range e.Interfaces {
			if n, err := s.network(i.Bridge, i.Subnet); err == nil {
				n.Leases[i.IP] = id
				n.Gateway = i.Gateway
			}
		}
		for _, p := range e.Ports {
			s.Ports = append(s.Ports, portLease{PortMapping: p, ID: id})
		}
	}
	return s
}

// writeJSON replaces path with v as JSON, atomically: readers see the old
// file or the new one, never a part. The new file is written aside, then
// put in place of the old one in one step. It does not wait for the
// disk: a state.json that a crash of the machine tore is rebuilt from
// the endpoints (rebuildState), and so the step may be an exchange with
// the old file (engine tuning, atomicfile's tuning_exchange.go: skip on
// first reading), which is cheaper than a rename over it on ext4.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), atomicfile.Options{Perm: 0o600, Exchange: true})
}

// network returns the pool of bridge, creating it for subnet. A bridge
// keeps its subnet while any container holds an address in it. An empty
// pool is kept, not deleted: its Last is where the next search starts,
// so that the address a container just gave back is not the next one
// handed out (see allocate), even when it was the only one.
func (s *state) network(bridge string, subnet netip.Prefix) (*netState, error) {
	n := s.Networks[bridge]
	if n != nil && n.Subnet != subnet {
		if len(n.Leases) > 0 {
			return nil, fmt.Errorf("bridge %s uses subnet %s, not %s (%d containers are on it)", bridge, n.Subnet, subnet, len(n.Leases))
		}
		n = nil // an empty pool takes the new subnet, and starts afresh
	}
	if n == nil {
		n = &netState{Subnet: subnet}
		s.Networks[bridge] = n
	}
	if n.Leases == nil {
		n.Leases = map[netip.Addr]string{}
	}
	return n, nil
}

// allocate leases a free address of the range (the subnet, unless
// --ip-range narrowed it) to id. The subnet's first address is never
// used (it names the network), nor the gateway, the bridge's own address
// (by default the one after it), nor the last, the broadcast address.
//
// The search goes round the subnet from the address handed out last, as
// Docker's allocator does, rather than taking the lowest free one: an
// address just released is the last to be given again. A container that
// has exited may keep its veth for a moment, in a network namespace the
// kernel is still dismantling (Detach leaves that to the kernel), and
// its MAC is derived from its address: a new container given the same
// address at once would share a MAC with it on the bridge. Stale ARP and
// conntrack entries for the old container cannot catch the new one
// either.
func (n *netState) allocate(id string) (netip.Addr, error) {
	within := n.Subnet
	if n.Range.IsValid() {
		within = n.Range
	}
	gateway := n.gateway()
	first := within.Addr()
	if first == n.Subnet.Addr() {
		first = first.Next() // the subnet's own address names it
	}
	// usable: in the range, and not the subnet's broadcast address.
	usable := func(a netip.Addr) bool { return within.Contains(a) && n.Subnet.Contains(a.Next()) }
	start := first
	if n.Last.IsValid() && usable(n.Last.Next()) {
		start = n.Last.Next()
	}
	// From start to the end of the range, then from the beginning to
	// start.
	for _, from := range []netip.Addr{start, first} {
		for a := from; usable(a); a = a.Next() {
			if from != start && a == start {
				break
			}
			if _, used := n.Leases[a]; !used && a != gateway {
				n.Leases[a] = id
				n.Last = a
				return a, nil
			}
		}
		if start == first {
			break
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s: no free address left (%d in use)", within, len(n.Leases))
}

func (n *netState) gateway() netip.Addr {
	if n.Gateway.IsValid() {
		return n.Gateway
	}
	return Gateway(n.Subnet)
}

// lease leases the address a container asked for (--ip) to id: any
// address of the subnet, in the range or not, that is not taken.
func (n *netState) lease(a netip.Addr, id string) error {
	if err := checkHostAddr(n.Subnet, a); err != nil {
		return err
	}
	if a == n.gateway() {
		return fmt.Errorf("address %s is the gateway's", a)
	}
	if holder, used := n.Leases[a]; used {
		return fmt.Errorf("address %s is already in use by container %s", a, namespace.ShortID(holder))
	}
	n.Leases[a] = id
	return nil
}

// releaseOn frees the address a holds on the bridge for id.
func (s *state) releaseOn(bridge string, a netip.Addr, id string) {
	n := s.Networks[bridge]
	if n == nil || n.Leases[a] != id {
		return
	}
	delete(n.Leases, a) // the pool stays, with its Last (see network)
}

// release frees every address that id holds. The pools stay, with
// their Last (see network).
func (s *state) release(id string) {
	for _, n := range s.Networks {
		for a, holder := range n.Leases {
			if holder == id {
				delete(n.Leases, a)
			}
		}
	}
	ports := s.Ports[:0]
	for _, p := range s.Ports {
		if p.ID != id {
			ports = append(ports, p)
		}
	}
	s.Ports = ports
}

// reservePorts checks every mapping against the ports other containers
// hold and against the host's own sockets, picks a port for each mapping
// without one, and records them all for id. It changes nothing unless all
// of them can be had.
func (s *state) reservePorts(id string, mappings []PortMapping) ([]PortMapping, error) {
	out := make([]PortMapping, 0, len(mappings))
	taken := func(m PortMapping) error {
		for _, p := range s.Ports {
			if p.conflicts(m) {
				return fmt.Errorf("host port %d/%s is already published by container %s (%s)", m.HostPort, m.Protocol, namespace.ShortID(p.ID), p.PortMapping)
			}
		}
		for _, p := range out {
			if p.conflicts(m) {
				return fmt.Errorf("host port %d/%s is published twice", m.HostPort, m.Protocol)
			}
		}
		return nil
	}
	for _, m := range mappings {
		if m.HostPort == 0 {
			port, err := pickFreePort(m, taken)
			if err != nil {
				return nil, err
			}
			m.HostPort = port
		} else {
			if err := taken(m); err != nil {
				return nil, fmt.Errorf("-p %s: %w", m, err)
			}
			if err := probeHostPort(m); err != nil {
				return nil, fmt.Errorf("-p %s: %w", m, err)
			}
		}
		out = append(out, m)
	}
	for _, m := range out {
		s.Ports = append(s.Ports, portLease{PortMapping: m, ID: id})
	}
	return out, nil
}
