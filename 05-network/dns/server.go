package dns

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Port is the port the server listens on for containers: DNS's own, the
// only one a resolv.conf can name.
const Port = 53

// DefaultTimeout is how long the server waits for one upstream resolver
// before it tries the next one. A container's resolver (glibc, musl)
// waits 5 s per try: an answer within this time still reaches it.
const DefaultTimeout = 2 * time.Second

// DefaultNewClientWait is the wait for an unknown client to become known
// (Server.NewClientWait): far longer than a daemon takes to record a
// container it has just started, far shorter than the 5 s a container's
// resolver waits before it asks again.
const DefaultNewClientWait = time.Second

// Server is berth's embedded DNS server: one per daemon, in the host's
// network namespace, with a pair of listeners (UDP and TCP) on the gateway
// address of each network it serves (AddNetwork). A query is answered
// from the records of the network whose listener received it, and
// forwarded upstream otherwise.
//
// Its methods may be called from any goroutine, while it serves.
type Server struct {
	// Timeout bounds the wait for each upstream resolver (default
	// DefaultTimeout). Domain, if set, is a search domain that the
	// containers' names are also known under: "web.example.test"
	// answers as "web" when Domain is "example.test". Set both before
	// the first AddNetwork.
	Timeout time.Duration
	Domain  string
	// NewClientWait bounds how long a query from an address that is
	// none of a network's containers waits for it to become one before
	// a name of the container's other networks is looked up (default
	// DefaultNewClientWait). A container runs as soon as it starts, and
	// its first query can arrive before the daemon, which learns the
	// container's addresses from that start, has told them to the
	// server (SetEndpoint): without knowing who asks, the server cannot
	// tell which other networks' names the client may see. 0: no wait.
	NewClientWait time.Duration

	upstreams []netip.AddrPort

	mu       sync.Mutex
	networks map[string]*network
	// all are the networks, by name, for the queries to read without
	// the lock: swapped whole at each change.
	all atomic.Pointer[[]*network]
}

// network is one network the server serves: its listeners and its
// records.
type network struct {
	name     string
	internal bool
	addr     netip.AddrPort
	udp, tcp *dns.Server
	srv      *Server

	mu        sync.Mutex          // serialises the writers of table
	endpoints map[string]Endpoint // by ID
	// table is what the queries read: rebuilt whole at each change and
	// swapped in, so that a query never waits for a writer nor sees a
	// change half made.
	table atomic.Pointer[table]
	// waiting counts the queries waiting for a new client
	// (awaitClient), for the tests to see.
	waiting atomic.Int32
}

// Endpoint is one container on a network, as the server knows it.
type Endpoint struct {
	// ID names the endpoint for RemoveEndpoint: the container's ID.
	ID string
	// Addr is the container's address on the network.
	Addr netip.Addr
	// Names are the names it answers to on this network: the
	// container's name, its aliases, its short ID, a Compose service.
	// Several endpoints may share a name; a query gets all their
	// addresses.
	Names []string
	// Upstreams are the container's own resolvers (docker run --dns),
	// used instead of the server's for the queries that come from
	// Addr. Nil: the server's.
	Upstreams []netip.AddrPort
}

// New returns a server that forwards the names it does not know to
// upstreams, in order (the host's nameservers: see ReadResolvConf). It
// listens on nothing until AddNetwork.
func New(upstreams []netip.AddrPort) *Server {
	s := &Server{
		Timeout:       DefaultTimeout,
		NewClientWait: DefaultNewClientWait,
		upstreams:     append([]netip.AddrPort(nil), upstreams...),
		networks:      map[string]*network{},
	}
	s.all.Store(&[]*network{})
	return s
}

// listChanged publishes s.networks to the queries. s.mu is held.
func (s *Server) listChanged() {
	all := slices.SortedFunc(maps.Values(s.networks), func(a, b *network) int { return strings.Compare(a.name, b.name) })
	s.all.Store(&all)
}

// AddNetwork starts serving network name on listen, UDP and TCP, and
// returns the address it listens on. In production listen is the
// network's gateway (the bridge's address) and port Port; port 0 picks a
// free port, the same for UDP and TCP (tests listen on 127.0.0.x that
// way). The address must exist on the host. An internal network's
// queries are never forwarded: its unknown names get SERVFAIL, as under
// Docker.
func (s *Server) AddNetwork(name string, listen netip.AddrPort, internal bool) (netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.networks[name]; ok {
		return netip.AddrPort{}, fmt.Errorf("dns: network %s: already served", name)
	}
	n := &network{name: name, internal: internal, srv: s, endpoints: map[string]Endpoint{}}
	n.table.Store(&table{replaced: make(chan struct{})})
	pc, ln, err := listenBoth(listen)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("dns: network %s: %w", name, err)
	}
	n.addr = netip.AddrPortFrom(listen.Addr(), uint16(ln.Addr().(*net.TCPAddr).Port))
	n.udp = &dns.Server{PacketConn: pc, Handler: n}
	n.tcp = &dns.Server{Listener: ln, Handler: n}
	// The sockets are bound already: a query that arrives before the
	// servers run waits in its socket's queue, none is lost. Both must
	// have started before they may be shut down.
	started := make(chan error, 4)
	for _, srv := range []*dns.Server{n.udp, n.tcp} {
		srv.NotifyStartedFunc = func() { started <- nil }
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				started <- err
			}
		}()
	}
	for range 2 {
		if err := <-started; err != nil {
			_ = pc.Close()
			_ = ln.Close()
			return netip.AddrPort{}, fmt.Errorf("dns: network %s: serving on %s: %w", name, n.addr, err)
		}
	}
	s.networks[name] = n
	s.listChanged()
	return n.addr, nil
}

// listenBoth binds UDP and TCP sockets on the same address and port.
// With port 0 the kernel picks the UDP port, which may be taken for TCP:
// then another is picked, a few times.
func listenBoth(listen netip.AddrPort) (net.PacketConn, net.Listener, error) {
	tries := 1
	if listen.Port() == 0 {
		tries = 20
	}
	var err error
	for range tries {
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp", listen.String())
		if err != nil {
			return nil, nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		var ln net.Listener
		ln, err = net.Listen("tcp", net.JoinHostPort(listen.Addr().String(), strconv.Itoa(port)))
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, nil, err
}

// RemoveNetwork stops serving network name and forgets its records.
func (s *Server) RemoveNetwork(name string) error {
	s.mu.Lock()
	n, ok := s.networks[name]
	delete(s.networks, name)
	s.listChanged()
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("dns: network %s: not served", name)
	}
	return n.shutdown()
}

func (n *network) shutdown() error {
	if err := errors.Join(n.udp.Shutdown(), n.tcp.Shutdown()); err != nil {
		return fmt.Errorf("dns: network %s: %w", n.name, err)
	}
	return nil
}

// Close stops serving every network.
func (s *Server) Close() error {
	s.mu.Lock()
	nets := s.networks
	s.networks = map[string]*network{}
	s.listChanged()
	s.mu.Unlock()
	var errs []error
	for _, n := range nets {
		errs = append(errs, n.shutdown())
	}
	return errors.Join(errs...)
}

func (s *Server) network(name string) (*network, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.networks[name]
	if !ok {
		return nil, fmt.Errorf("dns: network %s: not served", name)
	}
	return n, nil
}

// SetEndpoint adds the endpoint e to network's records, or replaces the
// one with the same ID. It is answered for from the next query on.
func (s *Server) SetEndpoint(networkName string, e Endpoint) error {
	n, err := s.network(networkName)
	if err != nil {
		return err
	}
	if !e.Addr.IsValid() {
		return fmt.Errorf("dns: network %s: endpoint %s has no address", networkName, e.ID)
	}
	e.Names = append([]string(nil), e.Names...)
	e.Upstreams = append([]netip.AddrPort(nil), e.Upstreams...)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.endpoints[e.ID] = e
	n.swapTable()
	return nil
}

// swapTable puts a table of n's endpoints now in place of the last,
// and wakes the queries that wait for a new client (awaitClient). n.mu
// is held.
func (n *network) swapTable() {
	old := n.table.Swap(n.build())
	close(old.replaced)
}

// RemoveEndpoint removes the endpoint with ID id from network's records.
// An endpoint that is not there is not an error: removals happen at
// disconnect, stop and removal, whichever comes first.
func (s *Server) RemoveEndpoint(networkName, id string) error {
	n, err := s.network(networkName)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.endpoints[id]; ok {
		delete(n.endpoints, id)
		n.swapTable()
	}
	return nil
}
