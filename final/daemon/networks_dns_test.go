package daemon

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/05-network/nettest"
)

// fakeResolver is an upstream resolver on loopback that knows one name,
// outside.test (192.0.2.1): the daemon forwards to it, never to the
// host's.
func fakeResolver(t *testing.T) netip.AddrPort {
	return fakeResolverAt(t, "127.0.0.1:0", net.IPv4(192, 0, 2, 1))
}

// fakeResolverAt is a fakeResolver on addr whose outside.test is ip.
func fakeResolverAt(t *testing.T, addr string, ip net.IP) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	require.NoError(t, err)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		resp := new(dns.Msg).SetReply(q)
		if q.Question[0].Name == "outside.test." && q.Question[0].Qtype == dns.TypeA {
			resp.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "outside.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: ip}}
		} else if q.Question[0].Name != "outside.test." {
			resp.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(resp)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

var nslookupAddr = regexp.MustCompile(`(?m)^Address:\s*(\d+\.\d+\.\d+\.\d+)$`)

// resolve is what name resolves to in container ctr: busybox nslookup,
// through the container's resolv.conf, its answers' addresses.
func (l *lab) resolve(ctr, name string) []string {
	l.t.Helper()
	out, _, _ := l.docker("", "exec", ctr, "nslookup", "-type=a", name)
	var addrs []string
	for _, m := range nslookupAddr.FindAllStringSubmatch(out, -1) {
		addrs = append(addrs, m[1])
	}
	return addrs
}

// Containers on a user network find each other by name, alias and short
// ID through berthd's DNS server on the network's gateway; a name of
// another network does not resolve; a container that connects resolves
// at once, and one that disconnects or stops no longer does.
func TestNamesResolveOnTheirNetworkOnly(t *testing.T) {
	l := prepareLab(t)
	l.opts.DNSUpstreams = []netip.AddrPort{fakeResolver(t)}
	l.start()
	front := l.userNetwork("front")
	back := l.userNetwork("back")
	l.ok("run", "-d", "--name", "web", "--network", "front", "--network-alias", "www", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "app", "--network", "front", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "db", "--network", "back", "busybox", "sleep", "1000")
	web, app, db := l.ipOn("web", "front").String(), l.ipOn("app", "front").String(), l.ipOn("db", "back").String()

	resolvConf := l.ok("exec", "app", "cat", "/etc/resolv.conf")
	assert.True(t, strings.HasPrefix(resolvConf, "nameserver "+front.Addr().Next().String()+"\n"), resolvConf)
	assert.Contains(t, resolvConf, "options ndots:0\n")

	assert.Equal(t, []string{web}, l.resolve("app", "web"))
	assert.Equal(t, []string{web}, l.resolve("app", "WWW"), "an alias, any case")
	assert.Equal(t, []string{web}, l.resolve("app", l.inspect("web").ID[:12]), "the short ID")
	assert.Equal(t, []string{web}, l.resolve("app", "web.front"), "NAME.NETWORK")
	assert.Equal(t, []string{app}, l.resolve("web", "app"))
	assert.Empty(t, l.resolve("web", "db"), "db is on back only")
	assert.Equal(t, []string{"192.0.2.1"}, l.resolve("web", "outside.test"), "other names go upstream")

	// Connected: resolvable at once, both ways, and app resolves the
	// names of back through front's server.
	l.ok("network", "connect", "back", "app")
	appBack := l.ipOn("app", "back").String()
	assert.True(t, netip.MustParsePrefix(back.String()).Contains(netip.MustParseAddr(appBack)))
	assert.Equal(t, []string{appBack}, l.resolve("db", "app"))
	assert.Equal(t, []string{db}, l.resolve("app", "db"))
	assert.Empty(t, l.resolve("web", "db"), "web is still on front only")

	hostname := l.inspect("app").Config.Hostname
	assert.Contains(t, l.ok("exec", "app", "cat", "/etc/hosts"), appBack+"\t"+hostname+"\n", "its new address in its /etc/hosts")

	l.ok("network", "disconnect", "back", "app")
	assert.Empty(t, l.resolve("db", "app"), "disconnected")
	hosts := l.ok("exec", "app", "cat", "/etc/hosts")
	assert.NotContains(t, hosts, appBack, "and gone from its /etc/hosts")
	assert.Contains(t, hosts, app+"\t"+hostname+"\n")
	l.ok("stop", "-t", "0", "web")
	assert.Empty(t, l.resolve("app", "web"), "stopped")
	l.ok("start", "web")
	assert.Equal(t, []string{l.ipOn("web", "front").String()}, l.resolve("app", "www"), "started again")

	// A new daemon serves the networks again, with the containers that
	// kept running meanwhile.
	l.restart()
	assert.Equal(t, []string{l.ipOn("web", "front").String()}, l.resolve("app", "www"), "after a restart of the daemon")

	// Names aside, the networks do not reach each other; and removed,
	// they leave nothing on the host.
	assert.True(t, l.reaches("app", l.ipOn("web", "front")))
	assert.False(t, l.reaches("app", netip.MustParseAddr(db)), "front to back is dropped")
	assert.False(t, l.reaches("db", l.ipOn("web", "front")), "back to front is dropped")
	var bridges []string
	for _, name := range []string{"front", "back"} {
		n := l.networkInspect(name)
		bridges = append(bridges, "br-"+n.ID[:12]) // Docker's name for a user network's bridge
		_, err := netlink.LinkByName(bridges[len(bridges)-1])
		require.NoError(t, err, "the bridge of %s", name)
	}
	l.ok("rm", "-f", "web", "app", "db")
	l.ok("network", "rm", "front", "back")
	for _, br := range bridges {
		bridgeGone(t, br)
	}
}

// On an --internal network the names of its containers resolve, and
// nothing is forwarded: other names fail (SERVFAIL, as Docker answers).
func TestAnInternalNetworkResolvesItsNamesOnly(t *testing.T) {
	l := prepareLab(t)
	l.opts.DNSUpstreams = []netip.AddrPort{fakeResolver(t)}
	l.start()
	l.userNetwork("secret", "--internal")
	l.ok("run", "-d", "--name", "vault", "--network", "secret", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "agent", "--network", "secret", "busybox", "sleep", "1000")
	assert.Equal(t, []string{l.ipOn("vault", "secret").String()}, l.resolve("agent", "vault"))
	out, _, code := l.docker("", "exec", "agent", "nslookup", "-type=a", "outside.test")
	assert.NotZero(t, code)
	assert.Contains(t, out, "SERVFAIL")
}

// A container's --dns servers are its own upstreams on a user network:
// its resolv.conf names the network's server, which forwards its queries
// there, and the others' to the daemon's.
func TestDNSOptionOnAUserNetwork(t *testing.T) {
	l := prepareLab(t)
	l.opts.DNSUpstreams = []netip.AddrPort{fakeResolver(t)}
	l.start()
	// --dns takes an address, port 53: a loopback address of its own.
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	own := fakeResolverAt(t, fmt.Sprintf("127.77.%d.%d:53", b[0], max(b[1], 1)), net.IPv4(192, 0, 2, 2))
	l.userNetwork("n")
	l.ok("run", "-d", "--name", "custom", "--network", "n", "--dns", own.Addr().String(), "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "plain", "--network", "n", "busybox", "sleep", "1000")
	assert.Equal(t, []string{"192.0.2.2"}, l.resolve("custom", "outside.test"))
	assert.Equal(t, []string{"192.0.2.1"}, l.resolve("plain", "outside.test"))
	assert.Equal(t, []string{l.ipOn("plain", "n").String()}, l.resolve("custom", "plain"), "the network's names first")
}

// A container that joins another's network namespace (--network
// container:NAME) has the other's /etc/hosts and /etc/resolv.conf, and
// resolves the names of its network.
func TestAContainerInAnothersNetworkUsesItsNameFiles(t *testing.T) {
	l := newLab(t)
	l.userNetwork("pod")
	l.ok("run", "-d", "--name", "web", "--network", "pod", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "main", "--network", "pod", "--add-host", "a:1.2.3.4", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "sidecar", "--network", "container:main", "busybox", "sleep", "1000")
	for _, f := range []string{"/etc/hosts", "/etc/resolv.conf"} {
		assert.Equal(t, l.ok("exec", "main", "cat", f), l.ok("exec", "sidecar", "cat", f), f)
	}
	assert.Equal(t, []string{l.ipOn("web", "pod").String()}, l.resolve("sidecar", "web"))
}

// A network's DNS server listens on an address of the host, the
// gateway: only the network's own containers may use it. Another host
// with a route to the gateway (a nettest client, which routes
// everything through this host) gets no answer, over UDP or TCP; it
// would otherwise have an open resolver.
func TestTheDNSServerAnswersOnlyItsNetwork(t *testing.T) {
	l := prepareLab(t)
	l.opts.DNSUpstreams = []netip.AddrPort{fakeResolver(t)}
	l.start()
	subnet := l.userNetwork("dnsonly")
	gateway := subnet.Addr().Next()
	l.ok("run", "-d", "--name", "member", "--network", "dnsonly", "busybox", "sleep", "1000")
	assert.Equal(t, []string{"192.0.2.1"}, l.resolve("member", "outside.test"), "a container of the network is answered")

	client := nettest.NewClient(t)
	q := new(dns.Msg).SetQuestion("outside.test.", dns.TypeA)
	for _, proto := range []string{"udp", "tcp"} {
		conn, err := client.Dial(proto, netip.AddrPortFrom(gateway, 53).String())
		if proto == "tcp" {
			// The SYN is dropped: no connection at all.
			assert.Error(t, err, "a TCP connection from another host")
			continue
		}
		require.NoError(t, err)
		c := &dns.Conn{Conn: conn}
		require.NoError(t, c.WriteMsg(q))
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Second)))
		_, err = c.ReadMsg()
		assert.Error(t, err, "no answer to another host over UDP")
		conn.Close()
	}
}

// A container's first query can leave before its start is reported back
// to the daemon: its command runs at once. It is answered as any later
// one, its own name and the names of its other networks included (the
// server learns of a starting container when it asks: startingEndpoint),
// as under dockerd, which has the records before the command starts.
func TestAContainersFirstQueryIsAnswered(t *testing.T) {
	l := prepareLab(t)
	l.opts.DNSUpstreams = []netip.AddrPort{fakeResolver(t)}
	l.start()
	l.userNetwork("front")
	back := l.userNetwork("back")
	l.ok("run", "-d", "--name", "web", "--network", "front", "busybox", "sleep", "1000")
	web := l.ipOn("web", "front").String()
	// app asks back's server (its first network) for web, which is on
	// front only: the answer needs to know that app is on front too.
	l.ok("create", "--name", "app", "--network", "back", "busybox", "sh", "-c", "nslookup -type=a web && nslookup -type=a app")
	l.ok("network", "connect", "front", "app")
	for run := 1; run <= 3; run++ {
		// The log, not an attach: what is checked is the answers.
		l.ok("start", "app")
		assert.Equal(t, "0\n", l.ok("wait", "app"), "run %d", run)
		out := l.ok("logs", "app")
		addrs := nslookupAddr.FindAllStringSubmatch(out, -1)
		require.Len(t, addrs, 2*run, "run %d: %s", run, out)
		addrs = addrs[2*run-2:]
		assert.Equal(t, web, addrs[0][1], "run %d: web, from back's server", run)
		assert.True(t, back.Contains(netip.MustParseAddr(addrs[1][1])), "run %d: its own name, its address on back: %s", run, out)
	}
	l.ok("rm", "-f", "web", "app")
	l.ok("network", "rm", "front", "back")
}
