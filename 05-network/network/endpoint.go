package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/namespace"
)

// Endpoint is one container's place on the networks: an interface per
// network it is on (eth0, eth1, ...), each with its address and veth
// pair, and its published ports. It is saved as JSON under the root
// directory from Allocate to Release, so that whoever cleans up (the same
// program, or a daemon after a restart) knows what to remove.
type Endpoint struct {
	// Explain, if set, is told each netlink and nftables change that
	// Attach makes (--explain, 01-namespaces/explain).
	Explain *explain.Trace `json:"-"`

	ID   string `json:"id"`
	Mode Mode   `json:"mode"`
	// Interfaces are the container's interfaces, one per network, in
	// the order they were attached: the first one that is not internal
	// holds the default route.
	Interfaces []*Interface `json:"interfaces,omitempty"`
	// Ports are the published ports, with the host ports that were
	// picked for the mappings that asked for any free one. They lead to
	// the first interface's address.
	Ports []PortMapping `json:"ports,omitempty"`
	// Pid is the process whose network namespace is attached, and
	// Netns that namespace ("net:[4026532183]"), zero when detached. A
	// Pid whose namespace is no longer Netns means the container died
	// without releasing its endpoint (see reclaimStale).
	Pid   int    `json:"pid,omitempty"`
	Netns string `json:"netns,omitempty"`

	root string
}

// Interface is one of a container's interfaces: its place on one
// network.
type Interface struct {
	// Name is the interface's name in the container: eth0, eth1, ...
	Name string `json:"name"`
	// Network is the network's ID, or DefaultNetwork for the bridge of
	// the Config; NetworkName its name.
	Network     string       `json:"network"`
	NetworkName string       `json:"networkName"`
	Bridge      string       `json:"bridge"`
	Subnet      netip.Prefix `json:"subnet"`
	Gateway     netip.Addr   `json:"gateway"`
	IP          netip.Addr   `json:"ip"`
	MAC         string       `json:"mac"`
	// HostVeth is the host's end of the veth pair.
	HostVeth string   `json:"hostVeth"`
	Aliases  []string `json:"aliases,omitempty"`
	Internal bool     `json:"internal,omitempty"`
}

// Primary is the container's first interface, or an empty one if it has
// none: the one that publishes the ports.
func (e *Endpoint) Primary() *Interface {
	if len(e.Interfaces) == 0 {
		return &Interface{}
	}
	return e.Interfaces[0]
}

// On returns the container's interface on a network (its ID, or
// DefaultNetwork), or nil.
func (e *Endpoint) On(network string) *Interface {
	for _, i := range e.Interfaces {
		if i.Network == network {
			return i
		}
	}
	return nil
}

// Allocate reserves what container id needs on its networks: an address
// on each (Config.Networks, or the record of SetAttachments with
// Config.Recorded, or the default bridge) and the published host ports.
// It only writes the state under root: nothing exists on the host yet, so
// that a port that is taken or a full subnet is reported before a
// container is started. Call Attach once the container's namespaces
// exist, and Release when the container is gone.
//
// For --net host and --net none, Allocate reserves nothing and the
// Endpoint's Attach and Release do nothing.
func Allocate(root, id string, cfg Config) (*Endpoint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	e := &Endpoint{ID: id, Mode: cfg.Mode, root: root}
	if cfg.Mode != ModeBridge {
		return e, nil
	}
	err := withState(root, func(s *state) error {
		reclaimStale(root, s)
		for _, n := range s.Networks {
			for a, holder := range n.Leases {
				if holder == id {
					return fmt.Errorf("container %s already has address %s", namespace.ShortID(id), a)
				}
			}
		}
		atts, err := cfg.attachments(root, id)
		if err != nil {
			return err
		}
		nets, err := userNetworks(root, atts)
		if err != nil {
			return err
		}
		for _, a := range atts {
			if _, err := e.addInterface(s, cfg, nets, a); err != nil {
				return err
			}
		}
		if len(cfg.Publish) > 0 && len(e.Interfaces) == 0 {
			return errors.New("publishing ports needs a network to publish them on")
		}
		if len(cfg.Publish) > 0 && e.Interfaces[0].Internal {
			// Its forward chain would drop the answers.
			return fmt.Errorf("ports cannot be published on internal network %s", e.Interfaces[0].NetworkName)
		}
		if e.Ports, err = s.reservePorts(id, cfg.Publish); err != nil {
			return err
		}
		// Saved while the lock is held: the state and the endpoint
		// never disagree about who holds what.
		return e.save()
	})
	if err != nil {
		return nil, fmt.Errorf("network for container %s: %w", namespace.ShortID(id), err)
	}
	return e, nil
}

func checkID(id string) error {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return fmt.Errorf("container ID %q: not a valid ID", id)
	}
	return nil
}

// addInterface leases an address on the network a names and adds the
// interface, not yet wired, to e.
func (e *Endpoint) addInterface(s *state, cfg Config, nets []*Network, a Attachment) (*Interface, error) {
	i := &Interface{Name: e.nextName(), Aliases: a.Aliases}
	var ipRange netip.Prefix
	if a.Network == DefaultNetwork || a.Network == "" {
		if a.IP.IsValid() || len(a.Aliases) > 0 {
			return nil, errDefaultNetworkOptions
		}
		i.Network, i.NetworkName = DefaultNetwork, DefaultNetwork
		i.Bridge, i.Subnet, i.Gateway = cfg.Bridge, cfg.Subnet, Gateway(cfg.Subnet)
	} else {
		n, err := findIn(nets, a.Network)
		if err != nil {
			return nil, err
		}
		i.Network, i.NetworkName, i.Internal = n.ID, n.Name, n.Internal
		i.Bridge, i.Subnet, i.Gateway = n.Bridge, n.Subnet, n.Gateway
		ipRange = n.IPRange
	}
	if e.On(i.Network) != nil {
		return nil, fmt.Errorf("container %s is already connected to network %s", namespace.ShortID(e.ID), i.NetworkName)
	}
	pool, err := s.network(i.Bridge, i.Subnet)
	if err != nil {
		return nil, err
	}
	pool.Gateway, pool.Range = i.Gateway, ipRange
	if a.IP.IsValid() {
		err = pool.lease(a.IP, e.ID)
		i.IP = a.IP
	} else {
		i.IP, err = pool.allocate(e.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", i.NetworkName, err)
	}
	i.MAC = macFor(i.IP).String()
	if a.MAC != "" {
		mac, err := net.ParseMAC(a.MAC)
		if err != nil || len(mac) != 6 {
			return nil, fmt.Errorf("invalid MAC address %q", a.MAC)
		}
		i.MAC = mac.String()
	}
	i.HostVeth = vethName(e.ID, i.Name)
	e.Interfaces = append(e.Interfaces, i)
	return i, nil
}

// nextName is the first of eth0, eth1, ... that no interface has.
func (e *Endpoint) nextName() string {
	for n := 0; ; n++ {
		name := fmt.Sprintf("eth%d", n)
		if !slices.ContainsFunc(e.Interfaces, func(i *Interface) bool { return i.Name == name }) {
			return name
		}
	}
}

// Load reads the endpoint of container id saved under root. The error
// wraps fs.ErrNotExist if there is none (never allocated, already
// released, or not on a bridge).
func Load(root, id string) (*Endpoint, error) {
	path := endpointPath(root, id)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("network endpoint of container %s: %w", namespace.ShortID(id), err)
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

func (i *Interface) mac() net.HardwareAddr {
	if mac, err := net.ParseMAC(i.MAC); err == nil {
		return mac
	}
	return macFor(i.IP)
}

// Attach connects the network namespace of process pid to the bridges
// of its networks:
//
//	host                                        container (netns of pid)
//	berth0 10.88.0.1/16 --- vethXXXXXXX <=====> eth0 10.88.0.2/16
//	                                            default via 10.88.0.1
//	br-0123456789ab 172.18.0.1/16 - vethYYY <=> eth1 172.18.0.2/16
//
// It creates the bridges and their nftables tables if they do not exist
// yet, the veth pairs, the container's addresses and route, and a DNAT
// rule per published port. Use it as a namespace.Container OnRelease (or
// OnStart) hook: the namespace exists, the container's command has not
// started.
//
// If Attach fails it removes what it created, and the reservation stays:
// call Release.
func (e *Endpoint) Attach(pid int) (err error) {
	if e.Mode != ModeBridge {
		return nil
	}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("attaching container %s: %w", namespace.ShortID(e.ID), err), e.Detach())
		}
	}()
	for n, i := range e.Interfaces {
		var ports []PortMapping
		if n == 0 {
			ports = e.Ports
		}
		if err := e.attachInterface(i, pid, ports); err != nil {
			return err
		}
	}
	if e.Netns, err = os.Readlink(nsPath(pid)); err != nil {
		return fmt.Errorf("network namespace of pid %d: %w", pid, err)
	}
	e.Pid = pid
	return e.save()
}

// attachInterface wires one interface: the bridge, the veth, the
// address and routes in the container, the rules.
func (e *Endpoint) attachInterface(i *Interface, pid int, ports []PortMapping) error {
	e.Explain.Stepf(explain.Bridge, "netlink", "(bridge %s with gateway %s, up: RTM_NEWLINK and RTM_NEWADDR only if it is missing)", i.Bridge, netip.PrefixFrom(i.Gateway, i.Subnet.Bits()))
	br, err := ensureBridge(i.Bridge, netip.PrefixFrom(i.Gateway, i.Subnet.Bits()))
	if err != nil {
		return err
	}
	e.Explain.Stepf(explain.Network, "netlink", "(RTM_NEWLINK veth %s up master %s, peer %s created in the network namespace of pid %d): one message", i.HostVeth, i.Bridge, i.Name, pid)
	if err := createVeth(br, i, pid); err != nil {
		return err
	}
	if len(ports) > 0 {
		e.Explain.Stepf(explain.NAT, "netlink", "(RTM_SETLINK %s hairpin on): a container may reach its own published port", i.HostVeth)
		if err := setHairpin(i.HostVeth); err != nil {
			return err
		}
	}
	e.explainContainerSide(i, pid)
	if err := configureContainer(i, pid); err != nil {
		return err
	}
	e.Explain.Stepf(explain.NAT, "nft", "(table ip %s: made whole with its chains and masquerade if missing, %d DNAT rules for published ports, one transaction)", TableName(i.Bridge), len(ports))
	return installRules(bridgeSpec{Name: i.Bridge, Subnet: i.Subnet, Internal: i.Internal}, e.ID, i.IP, ports)
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
	var errs []error
	live := e.Pid == 0 || e.attached()
	for _, i := range e.Interfaces {
		errs = append(errs, e.detachInterface(i, live))
	}
	if err := errors.Join(errs...); err != nil {
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

// detachInterface deletes one interface's rules and veth; live says
// that the container's namespace may still hold the veth.
func (e *Endpoint) detachInterface(i *Interface, live bool) error {
	// The rules go first: from then on, nothing is forwarded to this
	// address, even if it were handed to a new container. A container
	// that published no port has none (installRules), and looking for
	// them would read the whole publish chain.
	var rulesErr, vethErr error
	if len(e.Ports) > 0 && i == e.Interfaces[0] {
		rulesErr = deletePortRules(i.Bridge, e.ID)
	}
	// The veth goes with the container's network namespace, which the
	// kernel dismantles once the container's last process has exited:
	// then there is nothing to do here. Deleting it ourselves would
	// wait for the kernel's RCU grace periods, 10 ms or more on the
	// path of every `run --rm`, for what the kernel does anyway in
	// the background. (allocate does not hand the address out again
	// right away, so the veth's last moments disturb nobody.)
	if live {
		vethErr = deleteVeth(i.HostVeth)
	}
	return errors.Join(rulesErr, vethErr)
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
		return fmt.Errorf("releasing network of container %s: %w", namespace.ShortID(e.ID), err)
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

// explainContainerSide tells the trace what configureContainer does in
// the container's network namespace, from the host.
func (e *Endpoint) explainContainerSide(i *Interface, pid int) {
	if !e.Explain.On() {
		return
	}
	in := fmt.Sprintf(" in the network namespace of pid %d", pid)
	e.Explain.Write(explain.Network, "/proc/sys/net/ipv6/conf/"+i.Name+"/disable_ipv6", "1")
	e.Explain.Stepf(explain.Network, "netlink", "(RTM_NEWADDR %s dev %s%s): the subnet's route comes with it", netip.PrefixFrom(i.IP, i.Subnet.Bits()), i.Name, in)
	e.Explain.Stepf(explain.Network, "netlink", "(RTM_NEWLINK %s up%s)", i.Name, in)
	if !i.Internal {
		e.Explain.Stepf(explain.Network, "netlink", "(RTM_NEWROUTE default via %s dev %s%s)", i.Gateway, i.Name, in)
	}
}
