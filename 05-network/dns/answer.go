package dns

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// TTL is the time to live of the answers about containers, in seconds,
// Docker's. Short enough that a container that moved is found again
// soon by a client that caches; most container resolvers cache nothing.
const TTL = 600

// table is a network's records, as the queries read them: built whole
// from the endpoints at each change, never modified afterwards.
type table struct {
	names     map[string][]netip.Addr         // normalized name -> addresses
	reverse   map[string]string               // "2.0.88.10.in-addr.arpa." -> "web."
	upstreams map[netip.Addr][]netip.AddrPort // a client's own (--dns)
	clients   map[netip.Addr]string           // address -> endpoint ID
	ids       map[string]bool                 // the endpoints' IDs
	replaced  chan struct{}                   // closed once a newer table is in place
}

// build makes the table of n's endpoints. n.mu is held.
func (n *network) build() *table {
	t := &table{
		names:     map[string][]netip.Addr{},
		reverse:   map[string]string{},
		upstreams: map[netip.Addr][]netip.AddrPort{},
		clients:   map[netip.Addr]string{},
		ids:       map[string]bool{},
		replaced:  make(chan struct{}),
	}
	for _, e := range n.endpoints {
		t.clients[e.Addr], t.ids[e.ID] = e.ID, true
		for _, name := range e.Names {
			key := n.srv.normalize(name)
			if key == "" {
				continue
			}
			t.names[key] = append(t.names[key], e.Addr)
		}
		if len(e.Names) > 0 {
			if rev, err := dns.ReverseAddr(e.Addr.String()); err == nil {
				t.reverse[rev] = dns.Fqdn(e.Names[0])
			}
		}
		if len(e.Upstreams) > 0 {
			t.upstreams[e.Addr] = e.Upstreams
		}
	}
	return t
}

// normalize is the form names are kept and looked up in: lower case
// (DNS names are case-insensitive), without the root's trailing dot, and
// without the server's search domain.
func (s *Server) normalize(name string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if s.Domain != "" {
		name = strings.TrimSuffix(name, "."+strings.ToLower(strings.TrimSuffix(s.Domain, ".")))
	}
	return name
}

// ServeDNS answers one query that arrived on n's listeners: from n's
// records, or from upstream.
func (n *network) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	client := clientAddr(w.RemoteAddr())
	resp := n.answer(q, client)
	if resp == nil {
		resp = n.forward(q, client, isTCP(w))
	}
	if resp == nil {
		resp = new(dns.Msg).SetRcode(q, dns.RcodeServerFailure)
	}
	resp.Id = q.Id
	resp.RecursionAvailable = true // for the container, this is its recursive resolver
	resp.Compress = true
	if !isTCP(w) {
		// A UDP answer must fit what the client can take: 512 bytes,
		// or what it said in EDNS0. Truncate sets TC when records
		// were dropped, and the client asks again over TCP.
		size := dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil {
			size = max(size, int(opt.UDPSize()))
		}
		resp.Truncate(size)
	}
	_ = w.WriteMsg(resp)
}

// answer is the reply to q, asked by client, from n's records, or from
// the records of the client's other networks; nil if the name is in none.
func (n *network) answer(q *dns.Msg, client netip.Addr) *dns.Msg {
	if q.Opcode != dns.OpcodeQuery {
		return reply(q, dns.RcodeNotImplemented)
	}
	if len(q.Question) != 1 {
		return reply(q, dns.RcodeFormatError)
	}
	question := q.Question[0]
	t := n.table.Load()
	if question.Qtype == dns.TypePTR {
		target, ok := t.reverse[strings.ToLower(question.Name)]
		if !ok {
			return nil
		}
		resp := reply(q, dns.RcodeSuccess)
		resp.Answer = []dns.RR{&dns.PTR{Hdr: header(question.Name, dns.TypePTR), Ptr: target}}
		return resp
	}
	key := n.srv.normalize(question.Name)
	addrs, ok := t.names[key]
	if !ok {
		addrs, ok = n.elsewhere(t, client, key)
	}
	if !ok {
		return nil
	}
	// The name is a container's: answered here whatever the type.
	// Only A has records (the networks are IPv4); AAAA, MX and the
	// rest get an empty NOERROR, so that a client asking A and AAAA
	// at once uses the A and does not go looking elsewhere.
	resp := reply(q, dns.RcodeSuccess)
	if question.Qtype != dns.TypeA && question.Qtype != dns.TypeANY {
		return resp
	}
	// In a random order: clients take the first, so that several
	// containers with one alias share the load (round-robin DNS).
	for _, i := range rand.Perm(len(addrs)) {
		resp.Answer = append(resp.Answer, &dns.A{Hdr: header(question.Name, dns.TypeA), A: addrs[i].AsSlice()})
	}
	return resp
}

// elsewhere looks name up on the other networks of the container that
// asks, if the client is one of n's containers: a container on front and
// back asks front's gateway (its only nameserver) for a name of back,
// and gets back's address, which it reaches through its interface
// there. A container on front alone gets nothing of back: the networks
// stay apart, and a container resolves the names of the networks it is
// on, as under Docker.
//
// A client the network does not know yet may be a container that has
// just started: its query waits for it to be known, a while
// (awaitClient).
func (n *network) elsewhere(t *table, client netip.Addr, name string) ([]netip.Addr, bool) {
	id, ok := n.awaitClient(t, client)
	if !ok {
		return nil, false
	}
	for _, m := range *n.srv.all.Load() {
		if m == n {
			continue
		}
		mt := m.table.Load()
		if !mt.ids[id] {
			continue
		}
		if addrs, ok := mt.names[name]; ok {
			return addrs, true
		}
	}
	return nil, false
}

// awaitClient is the endpoint ID of client on n, waiting up to the
// server's NewClientWait for a table that has it, from t on: each change
// of n's records wakes the wait, which ends as soon as the client is
// there.
func (n *network) awaitClient(t *table, client netip.Addr) (string, bool) {
	if id, ok := t.clients[client]; ok {
		return id, true
	}
	timer := time.NewTimer(n.srv.NewClientWait)
	defer timer.Stop()
	n.waiting.Add(1)
	defer n.waiting.Add(-1)
	for {
		select {
		case <-t.replaced:
			t = n.table.Load()
			if id, ok := t.clients[client]; ok {
				return id, true
			}
		case <-timer.C:
			return "", false
		}
	}
}

func reply(q *dns.Msg, rcode int) *dns.Msg {
	resp := new(dns.Msg).SetRcode(q, rcode)
	resp.Authoritative = rcode == dns.RcodeSuccess
	resp.RecursionAvailable = true
	// A query with EDNS0 gets an answer with EDNS0 (RFC 6891), which
	// says how much this server takes over UDP.
	if opt := q.IsEdns0(); opt != nil {
		resp.SetEdns0(dns.DefaultMsgSize, false)
	}
	return resp
}

func header(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: TTL}
}

func isTCP(w dns.ResponseWriter) bool {
	_, ok := w.LocalAddr().(*net.TCPAddr)
	return ok
}

// clientAddr is the address a query came from.
func clientAddr(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}

// forward asks the upstream resolvers what n does not know, and returns
// the first answer (NXDOMAIN is an answer too), or nil if none answered:
// the caller says SERVFAIL. An internal network has no way out, so its
// queries are not forwarded at all.
//
// The query is forwarded over the transport it came on. An upstream's
// UDP answer that is truncated is asked again over TCP: the container
// gets the whole answer if it asked over TCP, or a truncated one that
// makes it ask again over TCP.
func (n *network) forward(q *dns.Msg, client netip.Addr, tcp bool) *dns.Msg {
	if n.internal {
		return nil
	}
	upstreams := n.srv.upstreams
	if own, ok := n.table.Load().upstreams[client]; ok {
		upstreams = own
	}
	for _, u := range upstreams {
		if resp := n.srv.exchange(q, u, tcp); resp != nil {
			return resp
		}
	}
	return nil
}

// exchange sends q to the upstream u and returns its answer, or nil.
func (s *Server) exchange(q *dns.Msg, u netip.AddrPort, tcp bool) *dns.Msg {
	c := &dns.Client{Net: "udp", Timeout: s.Timeout, UDPSize: dns.MaxMsgSize}
	if tcp {
		c.Net = "tcp"
	}
	resp, _, err := c.Exchange(q, u.String())
	if err == nil && resp.Truncated && !tcp {
		c.Net = "tcp"
		resp, _, err = c.Exchange(q, u.String())
	}
	if err != nil {
		return nil
	}
	return resp
}
