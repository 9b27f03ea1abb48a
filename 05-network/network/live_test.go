package network_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/05-network/network"
)

// The containers here are chapter 01's: their own namespaces, the host's
// files (so /bin/busybox is there). The test binary is their init.
func TestMain(m *testing.M) { labtest.Main(m, namespace.Init) }

// container is a running chapter 01 container attached to a bridge.
type container struct {
	ID    string
	EP    *network.Endpoint
	lines chan string
	proc  *namespace.Process
}

// startContainer allocates an endpoint for a new container, starts it,
// attaches it and runs script in it. Everything is stopped and released
// when the test ends.
func startContainer(t *testing.T, root string, cfg network.Config, script string) *container {
	t.Helper()
	c := &container{ID: namespace.NewID(), lines: make(chan string, 64)}
	ep, err := network.Allocate(root, c.ID, cfg)
	require.NoError(t, err)
	c.EP = ep
	t.Cleanup(func() { assert.NoError(t, ep.Release()) })

	r, w, err := os.Pipe()
	require.NoError(t, err)
	p, err := namespace.Start(namespace.Config{}, namespace.Stdio{Out: w, Err: w})
	w.Close()
	require.NoError(t, err)
	c.proc = p
	if err := ep.Attach(p.Pid()); err != nil {
		_ = p.Kill()
		r.Close()
		require.NoError(t, err)
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		r.Close()
	}()
	require.NoError(t, p.Release(namespace.Spec{
		Hostname: "c",
		Command:  namespace.Command{Args: []string{"/bin/sh", "-c", script}, Env: namespace.DefaultEnv("c")},
		Init:     true,
	}))
	t.Cleanup(func() { c.stop() })
	return c
}

// stop kills the container and waits for it.
func (c *container) stop() {
	if c.proc != nil {
		_ = c.proc.Kill()
		c.proc = nil
	}
}

// wait waits for the container to exit and returns its exit status.
func (c *container) wait(t *testing.T) int {
	t.Helper()
	status, err := c.proc.Wait()
	require.NoError(t, err)
	c.proc = nil
	return status
}

// line returns the container's next line of output.
func (c *container) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		require.True(t, ok, "the container's output ended")
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no output from the container after 10s")
		return ""
	}
}

// serve returns a script that serves "hi from NAME" over HTTP on addr
// (busybox httpd's [IP:]PORT), prints "ready" once it answers inside the
// container, and then waits.
func serve(t *testing.T, name, addr string) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("hi from "+name+"\n"), 0o644))
	port := addr[strings.LastIndex(addr, ":")+1:]
	return fmt.Sprintf(`/bin/busybox httpd -f -p %s -h %s &
until /bin/busybox wget -q -O /dev/null http://127.0.0.1:%s/ 2>/dev/null; do sleep 0.05; done
echo ready; wait`, addr, dir, port)
}

// fromHost dials addr from the host itself.
func fromHost(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 2*time.Second) }
}

// fromClient dials addr from the client host.
func fromClient(c *nettest.Client, addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return c.Dial("tcp", addr) }
}

func hostPort(ip netip.Addr, port uint16) string {
	return netip.AddrPortFrom(ip, port).String()
}

var loopback = netip.MustParseAddr("127.0.0.1")

func TestS13_AContainerHasItsOwnNetnsInterfaceAndAddress(t *testing.T) {
	cfg := nettest.Config(t)
	root := t.TempDir()
	c := startContainer(t, root, cfg, `readlink /proc/self/ns/net
/bin/busybox ip -o link show eth0
/bin/busybox ip -o -4 addr show
/bin/busybox ip route
cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' | sort | tr '\n' ' '; echo
cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6 2>/dev/null || echo no-ipv6-in-this-kernel
echo end; exec sleep 30`)
	var out []string
	for l := c.line(t); l != "end"; l = c.line(t) {
		out = append(out, l)
	}
	require.Len(t, out, 8, "%q", out)

	hostNS := nettest.HostNetns(t)
	assert.NotEqual(t, hostNS, out[0], "the container's network namespace is not the host's")
	assert.Contains(t, out[1], "eth0")
	assert.Contains(t, out[1], "link/ether "+c.EP.Primary().MAC)
	assert.Contains(t, out[1], ",UP,LOWER_UP", "eth0 is up and its cable is plugged in")
	// lo, 127.0.0.1, and eth0 with the endpoint's address in the subnet.
	assert.Contains(t, out[2], "lo")
	assert.Contains(t, out[3], "eth0")
	assert.Contains(t, out[3], "inet "+c.EP.Primary().IP.String()+"/24")
	assert.True(t, cfg.Subnet.Contains(c.EP.Primary().IP))
	assert.Equal(t, network.Gateway(cfg.Subnet).Next(), c.EP.Primary().IP, "the first container gets the first address after the gateway")
	assert.Equal(t, "default via "+network.Gateway(cfg.Subnet).String()+" dev eth0", strings.TrimSpace(out[4]))
	assert.Contains(t, out[5], cfg.Subnet.String()+" dev eth0")
	assert.Equal(t, "eth0 lo", strings.TrimSpace(out[6]), "interfaces in the container")
	assert.Contains(t, []string{"1", "no-ipv6-in-this-kernel"}, out[7], "no IPv6 on eth0, as Docker on a network without it")

	// On the host, while the container runs (its exit destroys the
	// pair): the other end of the cable, plugged into the bridge.
	veth, err := netlink.LinkByName(c.EP.Primary().HostVeth)
	require.NoError(t, err)
	br, err := netlink.LinkByName(cfg.Bridge)
	require.NoError(t, err)
	assert.Equal(t, "veth", veth.Type())
	assert.Equal(t, br.Attrs().Index, veth.Attrs().MasterIndex, "the host's end is a port of the bridge")
	assert.Equal(t, 1, veth.Attrs().NumTxQueues, "one queue, asked for at creation (none cut down afterwards)")
	assert.Equal(t, 1, veth.Attrs().NumRxQueues)
	assert.Equal(t, 1000, veth.Attrs().TxQLen, "the kernel's default queue length")
	addrs, err := netlink.AddrList(br, netlink.FAMILY_V4)
	require.NoError(t, err)
	require.Len(t, addrs, 1)
	assert.Equal(t, network.Gateway(cfg.Subnet).String()+"/24", addrs[0].IPNet.String(), "the bridge holds the gateway address")
}

// rulesOf returns the DNAT rules of container id in the bridge's table.
func rulesOf(t *testing.T, bridge, id string) int {
	t.Helper()
	c, err := nftables.New()
	require.NoError(t, err)
	tbl := &nftables.Table{Name: network.TableName(bridge), Family: nftables.TableFamilyIPv4}
	if _, err := c.ListTableOfFamily(tbl.Name, tbl.Family); err != nil {
		return 0
	}
	rules, err := c.GetRules(tbl, &nftables.Chain{Name: "publish", Table: tbl})
	require.NoError(t, err)
	n := 0
	for _, r := range rules {
		if comment, _ := userdata.GetString(r.UserData, userdata.TypeComment); comment == id {
			n++
		}
	}
	return n
}

func TestTwoContainersReachEachOtherByIP(t *testing.T) {
	cfg := nettest.Config(t)
	root := t.TempDir()
	server := startContainer(t, root, cfg, serve(t, "server", "0.0.0.0:80"))
	require.Equal(t, "ready", server.line(t))
	client := startContainer(t, root, cfg, "/bin/busybox wget -q -O- http://"+server.EP.Primary().IP.String()+"/")
	assert.Equal(t, "hi from server", client.line(t))
	assert.Equal(t, 0, client.wait(t))
	assert.Equal(t, server.EP.Primary().IP.Next(), client.EP.Primary().IP, "addresses are handed out in order")
}

func TestS39_OnlyAServerListeningOnAllAddressesIsReachableThroughAPublishedPort(t *testing.T) {
	cfg := nettest.Config(t)
	other := nettest.NewClient(t)
	allPort, loopbackPort := nettest.FreePort(t), nettest.FreePort(t)
	cfg.Publish = []network.PortMapping{
		{HostPort: allPort, ContainerPort: 81, Protocol: "tcp"},
		{HostPort: loopbackPort, ContainerPort: 80, Protocol: "tcp"},
	}
	// One container, two servers: port 81 on every address, port 80 on
	// the container's 127.0.0.1 only. Both answer inside the container.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("hi\n"), 0o644))
	c := startContainer(t, t.TempDir(), cfg, fmt.Sprintf(`/bin/busybox httpd -f -p 0.0.0.0:81 -h %[1]s &
/bin/busybox httpd -f -p 127.0.0.1:80 -h %[1]s &
until /bin/busybox wget -q -O /dev/null http://127.0.0.1:81/ && /bin/busybox wget -q -O /dev/null http://127.0.0.1:80/; do sleep 0.05; done 2>/dev/null
echo ready; wait`, dir))
	require.Equal(t, "ready", c.line(t))
	require.Equal(t, 2, rulesOf(t, cfg.Bridge, c.ID), "both ports are published")

	for name, dial := range map[string]func(port uint16) func() (net.Conn, error){
		"from the host's loopback": func(port uint16) func() (net.Conn, error) { return fromHost(hostPort(loopback, port)) },
		"from another host":        func(port uint16) func() (net.Conn, error) { return fromClient(other, hostPort(other.HostIP, port)) },
	} {
		t.Run(name, func(t *testing.T) {
			body, err := nettest.HTTPGet(dial(allPort))
			require.NoError(t, err)
			assert.Equal(t, "hi\n", body)

			// The DNAT rule sends the connection to the container's
			// eth0 address, and nothing listens there: the server's
			// 127.0.0.1 is the container's own loopback.
			_, err = nettest.HTTPGet(dial(loopbackPort))
			assert.ErrorContains(t, err, "connection refused")
		})
	}
}

func TestS38_PublishAllAddressesMapsAHostPortToAContainerPort(t *testing.T) {
	cfg := nettest.Config(t)
	other := nettest.NewClient(t)
	port := nettest.FreePort(t)
	m, err := network.ParsePublish(fmt.Sprintf("0.0.0.0:%d:80", port)) // -p 0.0.0.0:8888:80, with a port that is free
	require.NoError(t, err)
	cfg.Publish = []network.PortMapping{m}
	c := startContainer(t, t.TempDir(), cfg, serve(t, "port 80", "0.0.0.0:80"))
	require.Equal(t, "ready", c.line(t))
	require.Len(t, c.EP.Ports, 1)
	assert.Equal(t, fmt.Sprintf("0.0.0.0:%d->80/tcp", port), c.EP.Ports[0].String())

	// Every address of the host: loopback, the address facing the other
	// host (dialled from the host itself and from the other host).
	for _, dial := range []func() (net.Conn, error){
		fromHost(hostPort(loopback, port)),
		fromHost(hostPort(other.HostIP, port)),
		fromClient(other, hostPort(other.HostIP, port)),
	} {
		body, err := nettest.HTTPGet(dial)
		require.NoError(t, err)
		assert.Equal(t, "hi from port 80\n", body)
	}
}

func TestS26_PublishWithAHostIPListensOnThatAddressOnly(t *testing.T) {
	cfg := nettest.Config(t)
	other := nettest.NewClient(t)
	local, outside := nettest.FreePort(t), nettest.FreePort(t)
	for _, spec := range []string{
		fmt.Sprintf("127.0.0.1:%d:80", local),
		fmt.Sprintf("%s:%d:80/tcp", other.HostIP, outside),
	} {
		m, err := network.ParsePublish(spec)
		require.NoError(t, err)
		cfg.Publish = append(cfg.Publish, m)
	}
	c := startContainer(t, t.TempDir(), cfg, serve(t, "c", "0.0.0.0:80"))
	require.Equal(t, "ready", c.line(t))

	body, err := nettest.HTTPGet(fromHost(hostPort(loopback, local)))
	require.NoError(t, err, "127.0.0.1:%d from the host", local)
	assert.Equal(t, "hi from c\n", body)
	body, err = nettest.HTTPGet(fromClient(other, hostPort(other.HostIP, outside)))
	require.NoError(t, err, "%s:%d from the other host", other.HostIP, outside)
	assert.Equal(t, "hi from c\n", body)

	// Each port exists only on its address: elsewhere nothing listens.
	_, err = nettest.HTTPGet(fromClient(other, hostPort(other.HostIP, local)))
	assert.ErrorContains(t, err, "connection refused", "port %d is published on 127.0.0.1 only", local)
	_, err = nettest.HTTPGet(fromHost(hostPort(loopback, outside)))
	assert.ErrorContains(t, err, "connection refused", "port %d is published on %s only", outside, other.HostIP)
}

func TestReleaseRemovesTheVethTheRulesAndTheLease(t *testing.T) {
	cfg := nettest.Config(t)
	root := t.TempDir()
	cfg.Publish = []network.PortMapping{{HostPort: nettest.FreePort(t), ContainerPort: 80, Protocol: "tcp"}}
	c := startContainer(t, root, cfg, "trap 'exit 0' TERM; echo up; while :; do sleep 0.05; done")
	require.Equal(t, "up", c.line(t))
	_, err := netlink.LinkByName(c.EP.Primary().HostVeth)
	require.NoError(t, err, "the veth exists while the container runs")
	require.Equal(t, 1, rulesOf(t, cfg.Bridge, c.ID))
	require.NoError(t, syscall.Kill(c.proc.Pid(), syscall.SIGTERM)) // init passes it on
	require.Equal(t, 0, c.wait(t))

	require.NoError(t, c.EP.Release())
	// The kernel deletes the veth with the container's network
	// namespace, in the background, a moment after the exit.
	assert.Eventually(t, func() bool {
		_, err := netlink.LinkByName(c.EP.Primary().HostVeth)
		return errors.As(err, &netlink.LinkNotFoundError{})
	}, 5*time.Second, 10*time.Millisecond, "no veth after exit")
	assert.Equal(t, 0, rulesOf(t, cfg.Bridge, c.ID), "no DNAT rule after exit")
	_, err = network.Load(root, c.ID)
	assert.ErrorIs(t, err, os.ErrNotExist, "no saved endpoint")
	require.NoError(t, c.EP.Release(), "a second release finds nothing to do")
	require.NoError(t, network.Release(root, c.ID))

	// The port is free again: the next container gets it. Addresses go
	// round the subnet: the released one is not the next handed out.
	cfg.Publish = c.EP.Ports
	next := startContainer(t, root, cfg, "echo up")
	assert.Equal(t, c.EP.Primary().IP.Next(), next.EP.Primary().IP, "the next address, not the released one")
	assert.Equal(t, c.EP.Ports, next.EP.Ports)
	assert.Equal(t, "up", next.line(t))
}

func TestAReleasedEndpointCanBeLoadedAndReleasedByAnotherProgram(t *testing.T) {
	cfg := nettest.Config(t)
	root := t.TempDir()
	cfg.Publish = []network.PortMapping{{ContainerPort: 80, Protocol: "tcp"}} // any free host port
	c := startContainer(t, root, cfg, "echo up; sleep 30")
	require.Equal(t, "up", c.line(t))
	require.NotZero(t, c.EP.Ports[0].HostPort, "a host port was picked")

	// What a daemon that restarted would do: it knows only the ID.
	loaded, err := network.Load(root, c.ID)
	require.NoError(t, err)
	assert.Equal(t, c.EP.Primary().IP, loaded.Primary().IP)
	assert.Equal(t, c.EP.Ports, loaded.Ports)
	assert.Equal(t, c.EP.Primary().HostVeth, loaded.Primary().HostVeth)
	require.NoError(t, network.Release(root, c.ID))
	_, err = netlink.LinkByName(c.EP.Primary().HostVeth)
	assert.ErrorAs(t, err, &netlink.LinkNotFoundError{}, "the veth is deleted even while the container runs")
	assert.Equal(t, 0, rulesOf(t, cfg.Bridge, c.ID))
}

func TestAPortAlreadyPublishedIsRefusedBeforeAnythingIsCreated(t *testing.T) {
	cfg := nettest.Config(t)
	root := t.TempDir()
	port := nettest.FreePort(t)
	cfg.Publish = []network.PortMapping{{HostPort: port, ContainerPort: 80, Protocol: "tcp"}}
	first := startContainer(t, root, cfg, "echo up; sleep 30")
	require.Equal(t, "up", first.line(t))

	id := namespace.NewID()
	cfg.Publish = []network.PortMapping{{HostIP: loopback, HostPort: port, ContainerPort: 8080, Protocol: "tcp"}}
	_, err := network.Allocate(root, id, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("host port %d/tcp is already published by container %s", port, first.ID[:12]))
	_, err = network.Load(root, id)
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing was reserved")

	// The same port number over UDP is another port.
	cfg.Publish[0].Protocol = "udp"
	ep, err := network.Allocate(root, id, cfg)
	require.NoError(t, err)
	require.NoError(t, ep.Release())

	// A port that a host process listens on is taken too.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	cfg.Publish = []network.PortMapping{{HostPort: uint16(l.Addr().(*net.TCPAddr).Port), ContainerPort: 80, Protocol: "tcp"}}
	_, err = network.Allocate(root, id, cfg)
	assert.ErrorContains(t, err, "in use by a process on the host")
}

func TestTheBridgeIsCreatedOnFirstUse(t *testing.T) {
	cfg := nettest.Config(t)
	// nettest made the bridge to reserve the subnet; take it away again.
	require.NoError(t, network.RemoveBridge(cfg.Bridge))
	_, err := netlink.LinkByName(cfg.Bridge)
	require.ErrorAs(t, err, &netlink.LinkNotFoundError{})

	c := startContainer(t, t.TempDir(), cfg, "echo up")
	assert.Equal(t, "up", c.line(t))
	br, err := netlink.LinkByName(cfg.Bridge)
	require.NoError(t, err)
	assert.Equal(t, "bridge", br.Type())
	localnet, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + cfg.Bridge + "/route_localnet")
	require.NoError(t, err)
	assert.Equal(t, "1\n", string(localnet))
	forward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	require.NoError(t, err)
	assert.Equal(t, "1\n", string(forward))
}

// An endpoint attached again while its last veth is still there (an
// Attach that failed half-way, or a container's last run whose namespace
// the kernel has not dismantled yet) replaces it: the name is the
// container's own.
func TestAttachReplacesTheEndpointsLeftoverVeth(t *testing.T) {
	cfg := nettest.Config(t)
	root := t.TempDir()
	ep, err := network.Allocate(root, namespace.NewID(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, ep.Release()) })
	var pids []int
	for range 2 {
		p, err := namespace.Start(namespace.Config{}, namespace.Stdio{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Kill() })
		pids = append(pids, p.Pid())
	}
	require.NoError(t, ep.Attach(pids[0]))
	require.NoError(t, ep.Attach(pids[1]), "the leftover %s is replaced", ep.Primary().HostVeth)

	hasEth0 := func(pid int) bool {
		h, err := network.NetnsHandle(fmt.Sprintf("/proc/%d/ns/net", pid))
		require.NoError(t, err)
		defer h.Close()
		_, err = h.LinkByName(network.ContainerInterface)
		return err == nil
	}
	assert.False(t, hasEth0(pids[0]), "the first process's end went with the leftover")
	assert.True(t, hasEth0(pids[1]))
	veth, err := netlink.LinkByName(ep.Primary().HostVeth)
	require.NoError(t, err)
	br, err := netlink.LinkByName(cfg.Bridge)
	require.NoError(t, err)
	assert.Equal(t, br.Attrs().Index, veth.Attrs().MasterIndex)
}

func TestAttachToAProcessThatIsGoneFailsAndLeavesNothing(t *testing.T) {
	cfg := nettest.Config(t)
	root := t.TempDir()
	id := namespace.NewID()
	ep, err := network.Allocate(root, id, cfg)
	require.NoError(t, err)
	err = ep.Attach(1 << 30) // no such PID
	require.Error(t, err)
	assert.Contains(t, err.Error(), "attaching container "+id[:12])
	_, lerr := netlink.LinkByName(ep.Primary().HostVeth)
	assert.ErrorAs(t, lerr, &netlink.LinkNotFoundError{})
	require.NoError(t, ep.Release())
}

func TestNetnsWorkDoesNotKillContainers(t *testing.T) {
	labtest.Privileged(t)
	// The goroutine that enters a container's namespace often runs on
	// the very thread that forked the container. If that thread died,
	// the kernel would send the container its parent-death signal
	// (SIGKILL, chapter 01's Pdeathsig). InNetns returns the thread
	// to the host's namespace instead.
	for range 10 {
		p, err := namespace.Start(namespace.Config{}, namespace.Stdio{})
		require.NoError(t, err)
		for range 5 {
			h, err := network.NetnsHandle(fmt.Sprintf("/proc/%d/ns/net", p.Pid()))
			require.NoError(t, err)
			h.Close()
		}
		require.NoError(t, p.Release(namespace.Spec{Command: namespace.Command{Args: []string{"/bin/true"}}}))
		status, err := p.Wait()
		require.NoError(t, err)
		require.Equal(t, 0, status, "the container was not killed")
	}
	assert.Equal(t, nettest.HostNetns(t), nettest.HostNetns(t))
}

// BenchmarkAttachDetach measures wiring a container's namespace to the
// bridge with one published port, and unwiring it: the network's share
// of a container's start and exit.
func BenchmarkAttachDetach(b *testing.B) {
	cfg := nettest.Config(b)
	cfg.Publish = []network.PortMapping{{HostPort: nettest.FreePort(b), ContainerPort: 80, Protocol: "tcp"}}
	ep, err := network.Allocate(b.TempDir(), namespace.NewID(), cfg)
	require.NoError(b, err)
	b.Cleanup(func() { assert.NoError(b, ep.Release()) })
	// An init waiting for its spec holds the namespaces open.
	p, err := namespace.Start(namespace.Config{}, namespace.Stdio{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = p.Kill() })
	for b.Loop() {
		require.NoError(b, ep.Attach(p.Pid()))
		require.NoError(b, ep.Detach())
	}
}

func TestTheEndpointOfAContainerThatDiedUnreleasedIsReclaimed(t *testing.T) {
	cfg := nettest.Config(t)
	root := t.TempDir()
	port := nettest.FreePort(t)
	cfg.Publish = []network.PortMapping{{HostPort: port, ContainerPort: 80, Protocol: "tcp"}}
	dead := startContainer(t, root, cfg, "echo up; sleep 30")
	require.Equal(t, "up", dead.line(t))
	// As if its program had been killed with SIGKILL: the container
	// dies, and nobody calls Release.
	dead.stop()
	require.Equal(t, 1, rulesOf(t, cfg.Bridge, dead.ID), "its rule is still there")

	// The next allocation notices that the process is gone.
	next := startContainer(t, root, cfg, "echo up; sleep 30")
	assert.Equal(t, "up", next.line(t))
	assert.Equal(t, port, next.EP.Ports[0].HostPort, "the dead container's port is free again")
	assert.Equal(t, 0, rulesOf(t, cfg.Bridge, dead.ID), "its rule is gone")
	_, err := network.Load(root, dead.ID)
	assert.ErrorIs(t, err, os.ErrNotExist)

	// A living container is never reclaimed.
	other := startContainer(t, root, network.Config{Mode: cfg.Mode, Bridge: cfg.Bridge, Subnet: cfg.Subnet}, "echo up")
	assert.Equal(t, "up", other.line(t))
	assert.Equal(t, next.EP.Primary().IP.Next(), other.EP.Primary().IP)
	assert.Equal(t, 1, rulesOf(t, cfg.Bridge, next.ID))
}
