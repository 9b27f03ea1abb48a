package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/moby/moby/api/types/container"
	apinet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/05-network/network"
)

// userNetwork creates a network on a free /24 of nettest's range (the
// lab's other networks and other tests' bridges are never overlapped),
// with more `docker network create` flags, and returns its subnet.
func (l *lab) userNetwork(name string, flags ...string) netip.Prefix {
	l.t.Helper()
	return nettest.Subnet(l.t, func(s netip.Prefix) error {
		args := append([]string{"network", "create", "--subnet", s.String()}, flags...)
		_, errOut, code := l.docker("", append(args, name)...)
		if code != 0 {
			return errors.New(errOut)
		}
		return nil
	})
}

// reaches reports whether container from gets an answer to one ping of ip.
func (l *lab) reaches(from string, ip netip.Addr) bool {
	_, _, code := l.docker("", "exec", from, "ping", "-c1", "-W1", ip.String())
	return code == 0
}

func (l *lab) ipOn(ctr, net string) netip.Addr {
	l.t.Helper()
	es := l.inspect(ctr).NetworkSettings.Networks[net]
	require.NotNil(l.t, es, "%s is on %s", ctr, net)
	require.True(l.t, es.IPAddress.IsValid(), "%s has an address on %s", ctr, net)
	return es.IPAddress
}

func (l *lab) networkInspect(name string) apinet.Inspect {
	l.t.Helper()
	var out []apinet.Inspect
	require.NoError(l.t, json.Unmarshal([]byte(l.ok("network", "inspect", name)), &out))
	require.Len(l.t, out, 1)
	return out[0]
}

// bridgeGone checks that nothing of a removed network is left on the
// host: its bridge, its nftables table.
func bridgeGone(t *testing.T, bridge string) {
	t.Helper()
	_, err := netlink.LinkByName(bridge)
	assert.True(t, errors.As(err, &netlink.LinkNotFoundError{}), "bridge %s is gone: %v", bridge, err)
	c, err := nftables.New()
	require.NoError(t, err)
	_, err = c.ListTableOfFamily(network.TableName(bridge), nftables.TableFamilyIPv4)
	assert.Error(t, err, "table %s is gone", network.TableName(bridge))
}

// docker network create, ls, inspect, rm: the shapes the CLI prints, and
// what berth refuses.
func TestNetworkCreateInspectRemove(t *testing.T) {
	l := newLab(t)
	subnet := l.userNetwork("front", "--label", "tier=web", "--attachable")
	in := l.networkInspect("front")
	assert.Equal(t, "front", in.Name)
	assert.Len(t, in.ID, 64)
	assert.Equal(t, "bridge", in.Driver)
	assert.Equal(t, "local", in.Scope)
	assert.Equal(t, map[string]string{"tier": "web"}, in.Labels)
	assert.True(t, in.Attachable)
	require.Len(t, in.IPAM.Config, 1)
	assert.Equal(t, subnet, in.IPAM.Config[0].Subnet)
	assert.Equal(t, subnet.Addr().Next(), in.IPAM.Config[0].Gateway)
	bridge := "br-" + in.ID[:12]
	link, err := netlink.LinkByName(bridge)
	require.NoError(t, err, "the network's bridge exists from its creation")
	assert.Equal(t, "bridge", link.Type())

	// --gateway and --ip-range: containers get addresses of the range,
	// and never the gateway's.
	ranged := nettest.Subnet(t, func(s netip.Prefix) error {
		gw, rng := netip.AddrFrom4([4]byte{s.Addr().As4()[0], s.Addr().As4()[1], s.Addr().As4()[2], 254}), netip.PrefixFrom(s.Addr(), 30)
		_, errOut, code := l.docker("", "network", "create", "--subnet", s.String(), "--gateway", gw.String(), "--ip-range", rng.String(), "ranged")
		if code != 0 {
			return errors.New(errOut)
		}
		return nil
	})
	rc := l.networkInspect("ranged").IPAM.Config[0]
	assert.Equal(t, netip.PrefixFrom(ranged.Addr(), 30), rc.IPRange)
	assert.Equal(t, byte(254), rc.Gateway.As4()[3])
	l.ok("run", "-d", "--name", "r1", "--network", "ranged", "busybox", "sleep", "1000")
	assert.Equal(t, ranged.Addr().Next(), l.ipOn("r1", "ranged"), "the range's first address: .0 names the subnet, .254 is the gateway")
	assert.Contains(t, l.ok("exec", "r1", "ip", "route"), "default via "+rc.Gateway.String())
	l.ok("rm", "-f", "r1")

	// No --subnet: the first free one of the daemon's pools, the /24s
	// of nettest's range here (Docker's are 172.18/16 and on), picked
	// under the lock the other tests take too.
	l.d.opts.AddressPools = nil
	for i := range 256 {
		l.d.opts.AddressPools = append(l.d.opts.AddressPools, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 201, byte(i), 0}), 24))
	}
	l.ok("network", "create", "-o", "com.docker.network.bridge.name="+l.opts.Bridge+"x", "auto")
	auto := l.networkInspect("auto")
	require.Len(t, auto.IPAM.Config, 1)
	assert.True(t, nettest.BridgeRange.Contains(auto.IPAM.Config[0].Subnet.Addr()), "%s", auto.IPAM.Config[0].Subnet)
	assert.Equal(t, l.opts.Bridge+"x", auto.Options["com.docker.network.bridge.name"])
	_, err = netlink.LinkByName(l.opts.Bridge + "x")
	require.NoError(t, err, "the bridge the option names")
	assert.NotEqual(t, subnet, auto.IPAM.Config[0].Subnet)

	ls := l.ok("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
	assert.Contains(t, ls, "front bridge local\n")
	assert.Contains(t, ls, "bridge bridge local\n")
	assert.Equal(t, in.ID[:12]+"\n", l.ok("network", "ls", "-q", "--no-trunc", "--filter", "name=front")[:12]+"\n")

	for _, tc := range []struct{ args, msg string }{
		{"network create front", "network with name front already exists"},
		{"network create host", "network with name host already exists"},
		{"network create -d macvlan x", `network driver "macvlan" is not supported`},
		{"network create --ipv6 x", "EnableIPv6 is not supported"},
		{"network create -o com.docker.network.bridge.enable_icc=false x", "network option com.docker.network.bridge.enable_icc is not supported"},
		{"network create --subnet 10.9.0.0/31 x", "subnet 10.9.0.0/31: too small"},
		{"network create --subnet 10.9.0.0/24 --gateway 10.9.0.255 x", "gateway: address 10.9.0.255 is the network or broadcast address"},
		{"network create --subnet " + subnet.String() + " x", "overlaps"},
		{"network rm bridge", "bridge is a pre-defined network and cannot be removed"},
		{"network rm no-such", "network no-such not found"},
	} {
		_, errOut, code := l.docker("", strings.Fields(tc.args)...)
		assert.NotEqual(t, 0, code, tc.args)
		assert.Contains(t, errOut, tc.msg, tc.args)
	}

	// In use: 409, with Docker's words.
	l.ok("run", "-d", "--name", "web", "--network", "front", "busybox", "sleep", "1000")
	_, errOut, code := l.docker("", "network", "rm", "front")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, fmt.Sprintf("error while removing network: network front id %s has active endpoints", in.ID))
	in = l.networkInspect("front")
	require.Contains(t, in.Containers, l.inspect("web").ID)
	member := in.Containers[l.inspect("web").ID]
	assert.Equal(t, "web", member.Name)
	assert.Equal(t, l.ipOn("web", "front"), member.IPv4Address.Addr())
	assert.Equal(t, 24, member.IPv4Address.Bits())

	l.ok("rm", "-f", "web")
	assert.Equal(t, "front\n", l.ok("network", "rm", "front"))
	bridgeGone(t, bridge)
	assert.NotContains(t, l.ok("network", "ls"), "front")
}

// Two user networks, three containers: traffic within a network works,
// across networks it is dropped; connect makes it reachable, disconnect
// takes it away again. The default bridge is isolated from both.
func TestUserNetworksAreIsolated(t *testing.T) {
	l := newLab(t)
	l.userNetwork("n1")
	l.userNetwork("n2")
	for _, c := range []struct{ name, net string }{{"ca", "n1"}, {"cb", "n1"}, {"cc", "n2"}, {"cd", "bridge"}} {
		l.ok("run", "-d", "--name", c.name, "--network", c.net, "busybox", "sleep", "1000")
	}
	b, c, d := l.ipOn("cb", "n1"), l.ipOn("cc", "n2"), l.ipOn("cd", "bridge")
	assert.True(t, l.reaches("ca", b), "same network")
	assert.False(t, l.reaches("ca", c), "another network")
	assert.False(t, l.reaches("cc", b), "another network, the other way")
	assert.False(t, l.reaches("ca", d), "the default bridge")
	assert.False(t, l.reaches("cd", b), "from the default bridge")

	l.ok("network", "connect", "n2", "ca")
	assert.Equal(t, "eth0\neth1\nlo\n", l.ok("exec", "ca", "ls", "/sys/class/net"), "hot-plugged into the running container")
	assert.True(t, l.reaches("ca", c), "connected")
	assert.False(t, l.reaches("ca", d))
	nets := l.inspect("ca").NetworkSettings.Networks
	assert.Len(t, nets, 2)
	require.NotNil(t, nets["n2"])
	assert.Equal(t, l.networkInspect("n2").ID, nets["n2"].NetworkID)
	assert.Contains(t, l.networkInspect("n2").Containers, l.inspect("ca").ID)
	_, errOut, code := l.docker("", "network", "connect", "n2", "ca")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "already exists in network n2")

	l.ok("network", "disconnect", "n2", "ca")
	assert.Equal(t, "eth0\nlo\n", l.ok("exec", "ca", "ls", "/sys/class/net"))
	assert.False(t, l.reaches("ca", c), "disconnected")
	assert.NotContains(t, l.networkInspect("n2").Containers, l.inspect("ca").ID)
	assert.True(t, l.reaches("ca", b), "still on n1")
}

// A stopped container is connected to a network, and is on it at its
// next start; a static address, a MAC and an alias are kept.
func TestConnectACreatedContainerWithStaticAddress(t *testing.T) {
	l := newLab(t)
	subnet := l.userNetwork("n1")
	ip := subnet.Addr().Next().Next().Next().Next() // .4
	l.ok("create", "--name", "ca", "busybox", "sleep", "1000")
	l.ok("network", "connect", "--ip", ip.String(), "--alias", "db", "n1", "ca")
	l.ok("start", "ca")
	assert.Equal(t, ip, l.ipOn("ca", "n1"))
	es := l.inspect("ca").NetworkSettings.Networks["n1"]
	assert.Equal(t, []string{"db"}, es.Aliases)
	assert.Contains(t, es.DNSNames, "ca")
	assert.Contains(t, es.DNSNames, "db")
	assert.Contains(t, l.ok("exec", "ca", "ip", "addr"), "inet "+ip.String()+"/24")
	l.ok("network", "disconnect", "bridge", "ca")
	l.ok("restart", "-t", "0", "ca")
	assert.Equal(t, "eth0\nlo\n", l.ok("exec", "ca", "ls", "/sys/class/net"), "on n1 only, as eth0")
	assert.Equal(t, ip, l.ipOn("ca", "n1"), "the static address again")

	// --mac-address: docker 28 wants API 1.44 for it; docker 20.10
	// sends it at the top of the config.
	mac := "02:42:ac:11:ff:01"
	_, errOut, code := l.dockerWith("/usr/bin/docker", strings.NewReader(""), "run", "-d", "--name", "cb", "--mac-address", mac, "--hostname", "bee", "busybox", "sleep", "1000")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, mac, l.inspect("cb").NetworkSettings.Networks["bridge"].MacAddress.String())
	assert.Contains(t, l.ok("exec", "cb", "ip", "link", "show", "eth0"), mac)
	assert.Equal(t, "bee\n", l.ok("exec", "cb", "hostname"))
	_, errOut, code = l.docker("", "run", "--rm", "--network", "n1", "--ip", ip.String(), "busybox", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "already in use")
	_, errOut, code = l.docker("", "run", "--rm", "--ip", "10.0.0.5", "busybox", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "supported on user defined networks only")
}

// Several networks at create (API >= 1.44, through the moby client):
// eth0 on the first, eth1 on the other.
func TestSeveralNetworksAtCreate(t *testing.T) {
	l := newLab(t)
	l.userNetwork("n1")
	l.userNetwork("n2")
	res, err := l.client.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name:       "two",
		Config:     &container.Config{Image: "busybox", Cmd: []string{"sleep", "1000"}},
		HostConfig: &container.HostConfig{NetworkMode: "n1"},
		NetworkingConfig: &apinet.NetworkingConfig{EndpointsConfig: map[string]*apinet.EndpointSettings{
			"n1": {}, "n2": {Aliases: []string{"second"}, MacAddress: apinet.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0xff, 0x02}},
		}},
	})
	require.NoError(t, err)
	l.seen[res.ID] = true
	l.ok("start", "two")
	assert.Equal(t, "eth0\neth1\nlo\n", l.ok("exec", "two", "ls", "/sys/class/net"))
	assert.Contains(t, l.ok("exec", "two", "ip", "addr", "show", "eth0"), l.ipOn("two", "n1").String())
	eth1 := l.ok("exec", "two", "ip", "addr", "show", "eth1")
	assert.Contains(t, eth1, l.ipOn("two", "n2").String())
	assert.Contains(t, eth1, "02:42:ac:11:ff:02")
	assert.Equal(t, []string{"second"}, l.inspect("two").NetworkSettings.Networks["n2"].Aliases)

	// --network container:two (Compose's network_mode: service:x): the
	// same network namespace, its interfaces and addresses.
	assert.Equal(t, "eth0\neth1\nlo\n", l.ok("run", "--rm", "--network", "container:two", "busybox", "ls", "/sys/class/net"))
	assert.Contains(t, l.ok("run", "--rm", "--network", "container:two", "busybox", "ip", "addr", "show", "eth1"), l.ipOn("two", "n2").String())
	l.ok("run", "-d", "--name", "side", "--network", "container:two", "busybox", "sleep", "1000")
	assert.Empty(t, l.inspect("side").NetworkSettings.Networks)
	_, errOut, code := l.docker("", "network", "connect", "n1", "side")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "cannot be connected to other networks")
	l.ok("stop", "-t", "0", "two")
	_, errOut, code = l.docker("", "start", "side")
	assert.Equal(t, 0, code, "already running: %s", errOut)
	l.ok("stop", "-t", "0", "side")
	_, errOut, code = l.docker("", "start", "side")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "cannot join network namespace of a non running container: two")
	_, errOut, code = l.docker("", "run", "--rm", "--network", "container:nosuch", "busybox", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "no such container")
}

// --internal: no way out. A connection to a host the test made (a
// nettest client) works from a normal network, not from an internal one.
func TestInternalNetworkHasNoWayOut(t *testing.T) {
	l := newLab(t)
	l.userNetwork("out")
	l.userNetwork("in", "--internal")
	assert.True(t, l.networkInspect("in").Internal)
	client := nettest.NewClient(t)
	port := client.Listen(t)
	target := fmt.Sprintf("%s %d", client.IP, port)
	l.ok("run", "-d", "--name", "co", "--network", "out", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "ci", "--network", "in", "busybox", "sleep", "1000")
	_, errOut, code := l.docker("", append([]string{"exec", "co", "nc", "-w", "2"}, strings.Fields(target)...)...)
	assert.Equal(t, 0, code, "from a normal network: %s", errOut)
	_, _, code = l.docker("", append([]string{"exec", "ci", "nc", "-w", "2"}, strings.Fields(target)...)...)
	assert.NotEqual(t, 0, code, "from an internal network")
	assert.NotContains(t, l.ok("exec", "ci", "ip", "route"), "default", "no route out")
	assert.True(t, l.reaches("ci", l.networkInspect("in").IPAM.Config[0].Gateway), "the gateway answers")
}

// A port published by a container on a user network: reachable from the
// host's 127.0.0.1, from another host (a nettest client), and from
// containers through the host: on the same bridge (hairpin) and from
// another network.
func TestPublishedPortOnAUserNetwork(t *testing.T) {
	l := newLab(t)
	subnet := l.userNetwork("web")
	l.userNetwork("other")
	port := nettest.FreePort(t)
	l.ok("run", "-d", "--name", "srv", "--network", "web", "-p", fmt.Sprintf("%d:80", port), "busybox",
		"sh", "-c", "mkdir /www && echo hello > /www/index.html && httpd -f -p 80 -h /www")
	assert.Equal(t, "hello\n", httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)))
	client := nettest.NewClient(t)
	body, err := nettest.HTTPGet(func() (net.Conn, error) {
		return client.Dial("tcp", netip.AddrPortFrom(client.HostIP, port).String())
	})
	require.NoError(t, err)
	assert.Equal(t, "hello\n", body)
	assert.Equal(t, fmt.Sprintf("0.0.0.0:%d\n", port), l.ok("port", "srv", "80"))

	get := fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 %%s %d`, port)
	gateway := subnet.Addr().Next()
	l.ok("run", "-d", "--name", "peer", "--network", "web", "busybox", "sleep", "1000")
	assert.Contains(t, l.ok("exec", "peer", "sh", "-c", fmt.Sprintf(get, gateway)), "hello", "hairpin: same bridge, through the host")
	assert.Contains(t, l.ok("exec", "srv", "sh", "-c", fmt.Sprintf(get, gateway)), "hello", "hairpin to itself")
	l.ok("run", "-d", "--name", "far", "--network", "other", "busybox", "sleep", "1000")
	otherGateway := l.networkInspect("other").IPAM.Config[0].Gateway
	assert.Contains(t, l.ok("exec", "far", "sh", "-c", fmt.Sprintf(get, otherGateway)), "hello", "from another network, through the host")
}

// Networks, connections and addresses survive a restart of the daemon.
func TestNetworksSurviveARestart(t *testing.T) {
	l := newLab(t)
	l.userNetwork("n1", "--label", "keep=1")
	l.userNetwork("n2")
	l.ok("run", "-d", "--name", "ca", "--network", "n1", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "cb", "--network", "n1", "busybox", "sleep", "1000")
	l.ok("create", "--name", "cc", "--network", "n2", "busybox", "sleep", "1000")
	l.ok("network", "connect", "n2", "ca")
	ipB := l.ipOn("cb", "n1")
	before := l.networkInspect("n1")

	l.restart()
	after := l.networkInspect("n1")
	assert.Equal(t, before.ID, after.ID)
	assert.Equal(t, before.Labels, after.Labels)
	assert.Equal(t, before.IPAM, after.IPAM)
	assert.Len(t, after.Containers, 2)
	assert.Equal(t, ipB, l.ipOn("cb", "n1"))
	assert.True(t, l.reaches("ca", ipB))
	assert.Len(t, l.inspect("ca").NetworkSettings.Networks, 2)
	l.ok("start", "cc")
	assert.True(t, l.reaches("ca", l.ipOn("cc", "n2")), "c started after the restart, on n2 as recorded")
	_, _, code := l.docker("", "network", "rm", "n1")
	assert.NotEqual(t, 0, code, "still in use after the restart")
}

// Filters with Docker's semantics against berthd: label values ANDed
// (the regression: two labels must both match), name values ORed; prune
// removes only unused networks that match.
func TestNetworkFiltersAndPrune(t *testing.T) {
	l := newLab(t)
	l.userNetwork("both", "--label", "a=1", "--label", "b=1")
	l.userNetwork("only-a", "--label", "a=1")
	l.userNetwork("used", "--label", "a=1", "--label", "b=1")
	l.ok("run", "-d", "--name", "user", "--network", "used", "busybox", "sleep", "1000")
	names := func(args ...string) []string {
		return strings.Fields(l.ok(append([]string{"network", "ls", "--format", "{{.Name}}"}, args...)...))
	}
	assert.ElementsMatch(t, []string{"both", "used"}, names("--filter", "label=a=1", "--filter", "label=b=1"))
	assert.ElementsMatch(t, []string{"both", "only-a"}, names("--filter", "name=both", "--filter", "name=only-a"))
	assert.ElementsMatch(t, []string{"both", "only-a"}, names("--filter", "dangling=true"))
	assert.ElementsMatch(t, []string{"bridge", "host", "none", "used"}, names("--filter", "dangling=false"))
	assert.ElementsMatch(t, []string{"both", "only-a", "used"}, names("--filter", "type=custom"))

	out := l.ok("network", "prune", "-f", "--filter", "label=a=1", "--filter", "label=b=1")
	assert.Contains(t, out, "both")
	assert.NotContains(t, out, "only-a")
	assert.NotContains(t, out, "used", "in use")
	assert.ElementsMatch(t, []string{"only-a", "used"}, names("--filter", "type=custom"))
	l.ok("rm", "-f", "user")
	l.ok("network", "prune", "-f", "--filter", "until=1h")
	assert.ElementsMatch(t, []string{"only-a", "used"}, names("--filter", "type=custom"), "created less than an hour ago")
	l.ok("network", "prune", "-f")
	assert.Empty(t, names("--filter", "type=custom"))
}
