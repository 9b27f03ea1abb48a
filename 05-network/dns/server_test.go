package dns

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests run everything on loopback: the server listens on 127.0.0.x
// with a free port, and its upstream is a resolver the test runs itself
// (fakeUpstream), never the host's.

// fakeUpstream is a resolver on loopback that knows a few names, and
// counts the queries it gets.
type fakeUpstream struct {
	addr          netip.AddrPort
	queries, tcps atomic.Int32
}

// bigName has more records than a 512-byte UDP answer holds.
const bigName = "big.test."

func startUpstream(t *testing.T, ip string) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		u.queries.Add(1)
		resp := new(dns.Msg).SetReply(q)
		name := q.Question[0].Name
		if isTCP(w) {
			u.tcps.Add(1)
		}
		switch name {
		case "example.test.":
			resp.Answer = append(resp.Answer, &dns.A{Hdr: header(name, dns.TypeA), A: net.IPv4(192, 0, 2, 1)})
		case bigName:
			for i := range 100 {
				resp.Answer = append(resp.Answer, &dns.A{Hdr: header(name, dns.TypeA), A: net.IPv4(192, 0, 2, byte(i))})
			}
			if !isTCP(w) {
				resp.Truncate(dns.MinMsgSize)
			}
		default:
			resp.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(resp)
	})
	pc, ln, err := listenBoth(netip.MustParseAddrPort(ip + ":0"))
	require.NoError(t, err)
	u.addr = netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(ln.Addr().(*net.TCPAddr).Port))
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return u
}

// deadUpstream is an address on loopback where nothing listens: a UDP
// query there is refused at once (ICMP port unreachable).
func deadUpstream(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := netip.MustParseAddrPort(pc.LocalAddr().String())
	require.NoError(t, pc.Close())
	return addr
}

func newServer(t testing.TB, upstreams ...netip.AddrPort) *Server {
	t.Helper()
	s := New(upstreams)
	// The tests ask from addresses that are no container's, and want
	// their answers at once (TestANewClientIsWaitedFor waits).
	s.NewClientWait = 0
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func addNetwork(t testing.TB, s *Server, name, ip string, internal bool) netip.AddrPort {
	t.Helper()
	addr, err := s.AddNetwork(name, netip.MustParseAddrPort(ip+":0"), internal)
	require.NoError(t, err)
	return addr
}

// ask sends one query to the server at addr, from the address from if
// given.
func ask(t testing.TB, addr netip.AddrPort, name string, qtype uint16, tcp bool, from string) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	if tcp {
		c.Net = "tcp"
	}
	if from != "" {
		c.Dialer = &net.Dialer{Timeout: 5 * time.Second}
		if tcp {
			c.Dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
		} else {
			c.Dialer.LocalAddr = &net.UDPAddr{IP: net.ParseIP(from)}
		}
	}
	q := new(dns.Msg).SetQuestion(name, qtype)
	resp, _, err := c.Exchange(q, addr.String())
	require.NoError(t, err, "asking %s for %s %s", addr, name, dns.TypeToString[qtype])
	return resp
}

// answers are the addresses of resp's A records, and its PTR targets.
func answers(resp *dns.Msg) []string {
	var out []string
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.PTR:
			out = append(out, rr.Ptr)
		}
	}
	return out
}

func TestAnswers(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	s := newServer(t, up.addr)
	s.Domain = "berth.test"
	addr := addNetwork(t, s, "front", "127.0.0.1", false)
	require.NoError(t, s.SetEndpoint("front", Endpoint{ID: "c1", Addr: netip.MustParseAddr("10.0.0.2"), Names: []string{"web", "WebAlias", "0123456789ab"}}))
	require.NoError(t, s.SetEndpoint("front", Endpoint{ID: "c2", Addr: netip.MustParseAddr("10.0.0.3"), Names: []string{"db", "store", "Cache."}}))
	require.NoError(t, s.SetEndpoint("front", Endpoint{ID: "c3", Addr: netip.MustParseAddr("10.0.0.4"), Names: []string{"db2", "store"}}))

	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
		tcp   bool
		rcode int
		want  []string
	}{
		{"container name", "web.", dns.TypeA, false, dns.RcodeSuccess, []string{"10.0.0.2"}},
		{"a name given with its trailing dot", "cache.", dns.TypeA, false, dns.RcodeSuccess, []string{"10.0.0.3"}},
		{"upper case", "WEB.", dns.TypeA, false, dns.RcodeSuccess, []string{"10.0.0.2"}},
		{"alias, any case", "webalias.", dns.TypeA, false, dns.RcodeSuccess, []string{"10.0.0.2"}},
		{"short ID", "0123456789ab.", dns.TypeA, false, dns.RcodeSuccess, []string{"10.0.0.2"}},
		{"with the search domain", "web.berth.test.", dns.TypeA, false, dns.RcodeSuccess, []string{"10.0.0.2"}},
		{"one alias, two containers", "store.", dns.TypeA, false, dns.RcodeSuccess, []string{"10.0.0.3", "10.0.0.4"}},
		{"AAAA of a container: empty", "web.", dns.TypeAAAA, false, dns.RcodeSuccess, nil},
		{"MX of a container: empty", "web.", dns.TypeMX, false, dns.RcodeSuccess, nil},
		{"PTR of a container", "2.0.0.10.in-addr.arpa.", dns.TypePTR, false, dns.RcodeSuccess, []string{"web."}},
		{"over TCP", "db.", dns.TypeA, true, dns.RcodeSuccess, []string{"10.0.0.3"}},
		{"unknown name: forwarded", "example.test.", dns.TypeA, false, dns.RcodeSuccess, []string{"192.0.2.1"}},
		{"unknown name over TCP: forwarded", "example.test.", dns.TypeA, true, dns.RcodeSuccess, []string{"192.0.2.1"}},
		{"upstream's NXDOMAIN", "nowhere.test.", dns.TypeA, false, dns.RcodeNameError, nil},
		{"unknown PTR: forwarded", "9.9.9.10.in-addr.arpa.", dns.TypePTR, false, dns.RcodeNameError, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := ask(t, addr, tc.qname, tc.qtype, tc.tcp, "")
			assert.Equal(t, dns.RcodeToString[tc.rcode], dns.RcodeToString[resp.Rcode])
			assert.ElementsMatch(t, tc.want, answers(resp))
			assert.True(t, resp.RecursionAvailable)
		})
	}
}

func TestTruncation(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	s := newServer(t, up.addr)
	addr := addNetwork(t, s, "n", "127.0.0.1", false)

	// The upstream truncates its UDP answer: the server asks again
	// over TCP, and gives the container what fits in UDP, with TC set...
	resp := ask(t, addr, bigName, dns.TypeA, false, "")
	assert.True(t, resp.Truncated, "UDP answer with 100 records")
	assert.Less(t, len(resp.Answer), 100)
	assert.Equal(t, int32(1), up.tcps.Load(), "the server retried over TCP")

	// ...so that the container asks over TCP and gets everything.
	resp = ask(t, addr, bigName, dns.TypeA, true, "")
	assert.False(t, resp.Truncated)
	assert.Len(t, resp.Answer, 100)
}

func TestUpstreamFailure(t *testing.T) {
	// A port on loopback where nothing listens refuses at once; a
	// socket that never answers times out.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = silent.Close() })
	for _, tc := range []struct {
		name     string
		upstream netip.AddrPort
	}{
		{"refused", deadUpstream(t)},
		{"silent", netip.MustParseAddrPort(silent.LocalAddr().String())},
		{"none", netip.AddrPort{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ups []netip.AddrPort
			if tc.upstream.IsValid() {
				ups = append(ups, tc.upstream)
			}
			s := newServer(t, ups...)
			s.Timeout = 200 * time.Millisecond
			addr := addNetwork(t, s, "n", "127.0.0.1", false)
			require.NoError(t, s.SetEndpoint("n", Endpoint{ID: "c", Addr: netip.MustParseAddr("10.0.0.2"), Names: []string{"web"}}))

			resp := ask(t, addr, "example.test.", dns.TypeA, false, "")
			assert.Equal(t, "SERVFAIL", dns.RcodeToString[resp.Rcode])
			// The containers' names do not depend on the upstream.
			assert.Equal(t, []string{"10.0.0.2"}, answers(ask(t, addr, "web.", dns.TypeA, false, "")))
		})
	}
}

func TestUpstreamFallback(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	s := newServer(t, deadUpstream(t), up.addr)
	addr := addNetwork(t, s, "n", "127.0.0.1", false)
	assert.Equal(t, []string{"192.0.2.1"}, answers(ask(t, addr, "example.test.", dns.TypeA, false, "")))
}

func TestInternalNetworkForwardsNothing(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	s := newServer(t, up.addr)
	addr := addNetwork(t, s, "secret", "127.0.0.1", true)
	require.NoError(t, s.SetEndpoint("secret", Endpoint{ID: "c", Addr: netip.MustParseAddr("10.0.0.2"), Names: []string{"web"}}))

	assert.Equal(t, []string{"10.0.0.2"}, answers(ask(t, addr, "web.", dns.TypeA, false, "")))
	for _, tcp := range []bool{false, true} {
		resp := ask(t, addr, "example.test.", dns.TypeA, tcp, "")
		assert.Equal(t, "SERVFAIL", dns.RcodeToString[resp.Rcode], "as Docker answers on an --internal network")
	}
	assert.Zero(t, up.queries.Load(), "nothing was forwarded")
}

func TestNetworksAreIsolated(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	s := newServer(t, up.addr)
	front := addNetwork(t, s, "front", "127.0.0.2", false)
	back := addNetwork(t, s, "back", "127.0.0.3", false)
	require.NoError(t, s.SetEndpoint("front", Endpoint{ID: "web", Addr: netip.MustParseAddr("10.1.0.2"), Names: []string{"web", "app"}}))
	require.NoError(t, s.SetEndpoint("back", Endpoint{ID: "db", Addr: netip.MustParseAddr("10.2.0.2"), Names: []string{"db"}}))
	// The same container on both networks, with an address on each.
	require.NoError(t, s.SetEndpoint("back", Endpoint{ID: "web", Addr: netip.MustParseAddr("10.2.0.3"), Names: []string{"web"}}))

	for _, tc := range []struct {
		server netip.AddrPort
		name   string
		rcode  int
		want   []string
	}{
		{front, "web.", dns.RcodeSuccess, []string{"10.1.0.2"}},
		{back, "web.", dns.RcodeSuccess, []string{"10.2.0.3"}},
		{back, "db.", dns.RcodeSuccess, []string{"10.2.0.2"}},
		{front, "db.", dns.RcodeNameError, nil}, // forwarded: unknown upstream too
		{back, "app.", dns.RcodeNameError, nil}, // an alias on front only
	} {
		resp := ask(t, tc.server, tc.name, dns.TypeA, false, "")
		assert.Equal(t, dns.RcodeToString[tc.rcode], dns.RcodeToString[resp.Rcode], "%s on %s", tc.name, tc.server)
		assert.Equal(t, tc.want, answers(resp), "%s on %s", tc.name, tc.server)
	}

	// A network that goes stops answering; the other stays.
	require.NoError(t, s.RemoveNetwork("front"))
	assert.Error(t, s.SetEndpoint("front", Endpoint{ID: "x", Addr: netip.MustParseAddr("10.1.0.9")}))
	assert.Equal(t, []string{"10.2.0.2"}, answers(ask(t, back, "db.", dns.TypeA, false, "")))
	_, err := s.AddNetwork("back", netip.MustParseAddrPort("127.0.0.3:0"), false)
	assert.Error(t, err, "a network served twice")
}

func TestUpdatesTakeEffectAtOnce(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	s := newServer(t, up.addr)
	addr := addNetwork(t, s, "n", "127.0.0.1", false)

	assert.Equal(t, "NXDOMAIN", dns.RcodeToString[ask(t, addr, "late.", dns.TypeA, false, "").Rcode])
	require.NoError(t, s.SetEndpoint("n", Endpoint{ID: "c", Addr: netip.MustParseAddr("10.0.0.7"), Names: []string{"late"}}))
	assert.Equal(t, []string{"10.0.0.7"}, answers(ask(t, addr, "late.", dns.TypeA, false, "")))
	// Connected again with another address: replaced, not added.
	require.NoError(t, s.SetEndpoint("n", Endpoint{ID: "c", Addr: netip.MustParseAddr("10.0.0.8"), Names: []string{"late"}}))
	assert.Equal(t, []string{"10.0.0.8"}, answers(ask(t, addr, "late.", dns.TypeA, false, "")))
	require.NoError(t, s.RemoveEndpoint("n", "c"))
	require.NoError(t, s.RemoveEndpoint("n", "c"), "removed twice")
	assert.Equal(t, "NXDOMAIN", dns.RcodeToString[ask(t, addr, "late.", dns.TypeA, false, "").Rcode])
}

func TestClientUpstreams(t *testing.T) {
	shared := startUpstream(t, "127.0.0.1")
	own := startUpstream(t, "127.0.0.1")
	s := newServer(t, shared.addr)
	addr := addNetwork(t, s, "n", "127.0.0.1", false)
	// The container at 127.0.0.5 has its own resolver (--dns).
	require.NoError(t, s.SetEndpoint("n", Endpoint{ID: "c", Addr: netip.MustParseAddr("127.0.0.5"), Names: []string{"c"}, Upstreams: []netip.AddrPort{own.addr}}))

	ask(t, addr, "example.test.", dns.TypeA, false, "127.0.0.5")
	ask(t, addr, "example.test.", dns.TypeA, true, "127.0.0.5")
	assert.Equal(t, int32(2), own.queries.Load())
	assert.Zero(t, shared.queries.Load())

	ask(t, addr, "example.test.", dns.TypeA, false, "127.0.0.6")
	assert.Equal(t, int32(1), shared.queries.Load(), "another client uses the server's upstreams")
}

// TestConcurrentQueriesAndUpdates is for the race detector (go test
// -race): queries on two networks while endpoints come and go.
func TestConcurrentQueriesAndUpdates(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	s := newServer(t, up.addr)
	a := addNetwork(t, s, "a", "127.0.0.1", false)
	b := addNetwork(t, s, "b", "127.0.0.1", false)
	require.NoError(t, s.SetEndpoint("a", Endpoint{ID: "fixed", Addr: netip.MustParseAddr("10.0.0.1"), Names: []string{"fixed"}}))

	var wg sync.WaitGroup
	for _, server := range []netip.AddrPort{a, b, a} {
		wg.Go(func() {
			for range 50 {
				ask(t, server, "fixed.", dns.TypeA, false, "")
				ask(t, server, "c3.", dns.TypeA, false, "")
			}
		})
	}
	for _, n := range []string{"a", "b"} {
		wg.Go(func() {
			for i := range 50 {
				id := "c" + strconv.Itoa(i%5)
				assert.NoError(t, s.SetEndpoint(n, Endpoint{ID: id, Addr: netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), Names: []string{id}}))
				if i%2 == 0 {
					assert.NoError(t, s.RemoveEndpoint(n, id))
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, []string{"10.0.0.1"}, answers(ask(t, a, "fixed.", dns.TypeA, false, "")))
}

// A container on two networks asks its first network's server, and is
// answered for the names of both; a container on one network is not.
func TestAContainerOnTwoNetworksResolvesTheNamesOfBoth(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	s := newServer(t, up.addr)
	front := addNetwork(t, s, "front", "127.0.0.2", false)
	addNetwork(t, s, "back", "127.0.0.3", false)
	// app is on both networks; its address on front is 127.0.0.7, the
	// source of its queries here.
	require.NoError(t, s.SetEndpoint("front", Endpoint{ID: "app", Addr: netip.MustParseAddr("127.0.0.7"), Names: []string{"app"}}))
	require.NoError(t, s.SetEndpoint("back", Endpoint{ID: "app", Addr: netip.MustParseAddr("10.2.0.7"), Names: []string{"app"}}))
	require.NoError(t, s.SetEndpoint("back", Endpoint{ID: "db", Addr: netip.MustParseAddr("10.2.0.2"), Names: []string{"db"}}))
	// web is on front only, at 127.0.0.8.
	require.NoError(t, s.SetEndpoint("front", Endpoint{ID: "web", Addr: netip.MustParseAddr("127.0.0.8"), Names: []string{"web"}}))

	assert.Equal(t, []string{"10.2.0.2"}, answers(ask(t, front, "db.", dns.TypeA, false, "127.0.0.7")), "app resolves db, on its other network")
	assert.Equal(t, []string{"127.0.0.7"}, answers(ask(t, front, "app.", dns.TypeA, false, "127.0.0.7")), "its own network first")
	resp := ask(t, front, "db.", dns.TypeA, false, "127.0.0.8")
	assert.Equal(t, "NXDOMAIN", dns.RcodeToString[resp.Rcode], "web is not on back: db is forwarded, and unknown upstream")
	assert.Empty(t, answers(resp))
}

// A container's first query can arrive before the daemon has told the
// server of it: the query waits for it, and then gets the name of the
// container's other network. A client that never becomes known gets
// nothing of the other networks, after the wait.
func TestANewClientIsWaitedFor(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	s := newServer(t, up.addr)
	s.NewClientWait = time.Minute // ended by the client's arrival, long before
	addNetwork(t, s, "front", "127.0.0.2", false)
	addNetwork(t, s, "back", "127.0.0.3", false)
	require.NoError(t, s.SetEndpoint("front", Endpoint{ID: "web", Addr: netip.MustParseAddr("10.1.0.8"), Names: []string{"web"}}))

	// app (on front and back) asks back's server for web before it is
	// known; it becomes known while the query waits.
	back := s.networks["back"]
	answered := make(chan *dns.Msg, 1)
	go func() { answered <- ask(t, back.addr, "web.", dns.TypeA, false, "127.0.0.7") }()
	require.Eventually(t, func() bool { return back.waiting.Load() == 1 }, 10*time.Second, time.Millisecond,
		"the query waits for its client")
	require.NoError(t, s.SetEndpoint("front", Endpoint{ID: "app", Addr: netip.MustParseAddr("10.1.0.7"), Names: []string{"app"}}))
	assert.Equal(t, int32(1), back.waiting.Load(), "app on front only: not yet back's client")
	require.NoError(t, s.SetEndpoint("back", Endpoint{ID: "app", Addr: netip.MustParseAddr("127.0.0.7"), Names: []string{"app"}}))
	assert.Equal(t, []string{"10.1.0.8"}, answers(<-answered), "app resolves web, on its other network")

	// An address that is no container's: nothing of front, once the
	// wait is over.
	s2 := New([]netip.AddrPort{up.addr})
	s2.NewClientWait = 10 * time.Millisecond
	t.Cleanup(func() { assert.NoError(t, s2.Close()) })
	addNetwork(t, s2, "front", "127.0.0.4", false)
	back2 := addNetwork(t, s2, "back", "127.0.0.5", false)
	require.NoError(t, s2.SetEndpoint("front", Endpoint{ID: "web", Addr: netip.MustParseAddr("10.1.0.8"), Names: []string{"web"}}))
	resp := ask(t, back2, "web.", dns.TypeA, false, "127.0.0.9")
	assert.Equal(t, "NXDOMAIN", dns.RcodeToString[resp.Rcode])
	assert.Empty(t, answers(resp))
}

// A query with EDNS0 gets EDNS0 back, and a UDP answer as large as it
// said it takes.
func TestEDNS0(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	s := newServer(t, up.addr)
	addr := addNetwork(t, s, "n", "127.0.0.1", false)
	require.NoError(t, s.SetEndpoint("n", Endpoint{ID: "c", Addr: netip.MustParseAddr("10.0.0.2"), Names: []string{"web"}}))
	var many []string
	for i := range 60 {
		ip := netip.AddrFrom4([4]byte{10, 0, 1, byte(i)})
		require.NoError(t, s.SetEndpoint("n", Endpoint{ID: "s" + strconv.Itoa(i), Addr: ip, Names: []string{"scaled"}}))
		many = append(many, ip.String())
	}
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	for _, tc := range []struct {
		name      string
		edns      bool
		truncated bool
	}{
		{"web.", true, false},
		{"scaled.", false, true}, // 60 records: more than 512 bytes
		{"scaled.", true, false}, // and less than 4096
	} {
		q := new(dns.Msg).SetQuestion(tc.name, dns.TypeA)
		if tc.edns {
			q.SetEdns0(4096, false)
		}
		resp, _, err := c.Exchange(q, addr.String())
		require.NoError(t, err)
		assert.Equal(t, tc.edns, resp.IsEdns0() != nil, "%s: EDNS0 back", tc.name)
		assert.Equal(t, tc.truncated, resp.Truncated, "%s truncated", tc.name)
		if tc.name == "scaled." && !tc.truncated {
			assert.ElementsMatch(t, many, answers(resp))
		}
	}
}
