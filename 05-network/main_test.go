package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/05-network/network"
)

func TestMain(m *testing.M) { labtest.Main(m, program.Init) }

// lab is one test's own network: a bridge and subnet no other test uses,
// a state directory, and the flags that put a container there.
type lab struct {
	cfg  network.Config
	root string
}

func newLab(t *testing.T) *lab {
	return &lab{cfg: nettest.Config(t), root: t.TempDir()}
}

// args returns a run command line for the lab: its root, bridge and
// subnet, the busybox image, then flags, then sh -c script.
func (l *lab) args(t *testing.T, script string, flags ...string) []string {
	args := []string{"run", "--root", l.root, "--bridge", l.cfg.Bridge, "--subnet", l.cfg.Subnet.String(),
		"--image", labtest.BusyboxRootfs(t)}
	args = append(args, flags...)
	return append(args, "--", "/bin/sh", "-c", script)
}

// run runs a container to its end and returns what it printed.
func (l *lab) run(t *testing.T, script string, flags ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = program.Run(l.args(t, script, flags...), namespace.Stdio{Out: &out, Err: &errOut})
	return out.String(), errOut.String(), status
}

// background is a container run in the background. It ends when its
// standard input is closed, if its script reads it.
type background struct {
	lines  chan string
	stdin  *os.File
	status chan int
	stderr *labtest.Buffer
}

func (l *lab) start(t *testing.T, script string, flags ...string) *background {
	t.Helper()
	inR, inW, err := os.Pipe()
	require.NoError(t, err)
	outR, outW, err := os.Pipe()
	require.NoError(t, err)
	b := &background{lines: make(chan string, 64), stdin: inW, status: make(chan int, 1), stderr: &labtest.Buffer{}}
	args := l.args(t, script, flags...)
	go func() {
		b.status <- program.Run(args, namespace.Stdio{In: inR, Out: outW, Err: b.stderr})
		inR.Close()
		outW.Close()
	}()
	go func() {
		defer close(b.lines)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		outR.Close()
	}()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// line returns the container's next line of output.
func (b *background) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-b.lines:
		require.True(t, ok, "the container ended; stderr: %s", b.stderr)
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("no output from the container after 10s; stderr: %s", b.stderr)
		return ""
	}
}

// stop closes the container's stdin and returns its exit status.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	if b.stdin == nil {
		return -1
	}
	b.stdin.Close()
	b.stdin = nil
	select {
	case s := <-b.status:
		return s
	case <-time.After(10 * time.Second):
		t.Fatalf("the container did not stop; stderr: %s", b.stderr)
		return -1
	}
}

// server is a script that serves "hi" over HTTP from busybox httpd on
// each of addrs ([IP:]PORT), prints its eth0 address and "ready" once
// every server answers, and runs until its stdin is closed.
func server(addrs ...string) string {
	var s strings.Builder
	s.WriteString("mkdir -p /www && echo hi > /www/index.html\n")
	for _, a := range addrs {
		fmt.Fprintf(&s, "httpd -p %s -h /www\n", a)
	}
	for _, a := range addrs {
		port := a[strings.LastIndex(a, ":")+1:]
		fmt.Fprintf(&s, "until wget -q -O /dev/null http://127.0.0.1:%s/ 2>/dev/null; do sleep 0.05; done\n", port)
	}
	s.WriteString("ip -o -4 addr show eth0 | awk '{print $4}'\necho ready\nread x || true\n")
	return s.String()
}

func fromHost(ip netip.Addr, port uint16) func() (net.Conn, error) {
	return func() (net.Conn, error) {
		return net.DialTimeout("tcp", netip.AddrPortFrom(ip, port).String(), 2*time.Second)
	}
}

func fromClient(c *nettest.Client, port uint16) func() (net.Conn, error) {
	return func() (net.Conn, error) { return c.Dial("tcp", netip.AddrPortFrom(c.HostIP, port).String()) }
}

var loopback = netip.MustParseAddr("127.0.0.1")

func TestS13_EachContainerHasItsOwnNetnsInterfaceAndAddress(t *testing.T) {
	l := newLab(t)
	out, errOut, status := l.run(t, `readlink /proc/self/ns/net
cat /sys/class/net/eth0/address
ip -o -4 addr show eth0 | awk '{print $4}'
ip route | grep default
ls /sys/class/net | tr '\n' ' '`)
	require.Equal(t, 0, status, "stderr: %s", errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, "%q", out)
	gw := network.Gateway(l.cfg.Subnet)
	ip := gw.Next()
	assert.NotEqual(t, nettest.HostNetns(t), lines[0], "its own network namespace")
	a := ip.As4()
	assert.Equal(t, fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3]), lines[1], "its own interface, with its own MAC")
	assert.Equal(t, ip.String()+"/24", lines[2], "its own address, the first free one of the subnet")
	assert.Equal(t, "default via "+gw.String()+" dev eth0", strings.TrimSpace(lines[3]))
	assert.Equal(t, []string{"eth0", "lo"}, strings.Fields(lines[4]))
}

func TestS39_AServerMustListenOnAllAddressesToBeReachable(t *testing.T) {
	l := newLab(t)
	other := nettest.NewClient(t)
	allPort, loPort := nettest.FreePort(t), nettest.FreePort(t)
	c := l.start(t, server("0.0.0.0:81", "127.0.0.1:80"),
		"-p", fmt.Sprintf("%d:81", allPort), "-p", fmt.Sprintf("%d:80", loPort))
	c.line(t) // its address
	require.Equal(t, "ready", c.line(t), "both servers answer inside the container")

	for name, dial := range map[string]func(uint16) func() (net.Conn, error){
		"from the host's loopback": func(p uint16) func() (net.Conn, error) { return fromHost(loopback, p) },
		"from another host":        func(p uint16) func() (net.Conn, error) { return fromClient(other, p) },
	} {
		t.Run(name, func(t *testing.T) {
			body, err := nettest.HTTPGet(dial(allPort))
			require.NoError(t, err, "the server on 0.0.0.0:81")
			assert.Equal(t, "hi\n", body)
			_, err = nettest.HTTPGet(dial(loPort))
			assert.ErrorContains(t, err, "connection refused", "the server on 127.0.0.1:80")
		})
	}
	assert.Equal(t, 0, c.stop(t), "stderr: %s", c.stderr)
}

func TestS38_S26_PublishWithAndWithoutAHostIP(t *testing.T) {
	l := newLab(t)
	other := nettest.NewClient(t)
	everywhere, local := nettest.FreePort(t), nettest.FreePort(t)
	c := l.start(t, server("80"),
		"-p", fmt.Sprintf("0.0.0.0:%d:80", everywhere), // S38: -p 0.0.0.0:8888:80
		"--publish", fmt.Sprintf("127.0.0.1:%d:80/tcp", local)) // S26: a host IP and port
	c.line(t)
	require.Equal(t, "ready", c.line(t))

	for _, dial := range []func() (net.Conn, error){
		fromHost(loopback, everywhere), fromHost(other.HostIP, everywhere), fromClient(other, everywhere),
		fromHost(loopback, local),
	} {
		body, err := nettest.HTTPGet(dial)
		require.NoError(t, err)
		assert.Equal(t, "hi\n", body)
	}
	_, err := nettest.HTTPGet(fromClient(other, local))
	assert.ErrorContains(t, err, "connection refused", "published on 127.0.0.1 only")
	assert.Equal(t, 0, c.stop(t))
}

func TestTwoContainersReachEachOtherByIP(t *testing.T) {
	l := newLab(t)
	srv := l.start(t, server("80"))
	addr, err := netip.ParsePrefix(srv.line(t))
	require.NoError(t, err)
	require.Equal(t, "ready", srv.line(t))
	out, errOut, status := l.run(t, "wget -q -O- http://"+addr.Addr().String()+"/; ip -o -4 addr show eth0 | awk '{print $4}'")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	assert.Equal(t, []string{"hi", addr.Addr().Next().String() + "/24"}, strings.Fields(out))
}

// bridgePorts lists the interfaces plugged into the bridge.
func bridgePorts(t *testing.T, bridge string) []string {
	t.Helper()
	br, err := netlink.LinkByName(bridge)
	require.NoError(t, err)
	links, err := netlink.LinkList()
	require.NoError(t, err)
	var ports []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			ports = append(ports, l.Attrs().Name)
		}
	}
	return ports
}

// publishRules counts the rules in the bridge's publish chain.
func publishRules(t *testing.T, bridge string) int {
	t.Helper()
	c, err := nftables.New()
	require.NoError(t, err)
	tbl := &nftables.Table{Name: network.TableName(bridge), Family: nftables.TableFamilyIPv4}
	rules, err := c.GetRules(tbl, &nftables.Chain{Name: "publish", Table: tbl})
	require.NoError(t, err)
	return len(rules)
}

func TestEverythingIsRemovedOnExitAndAddressesGoRound(t *testing.T) {
	l := newLab(t)
	port := nettest.FreePort(t)
	publish := fmt.Sprintf("%d:80", port)
	c := l.start(t, server("80"), "-p", publish)
	first := c.line(t)
	require.Equal(t, "ready", c.line(t))
	require.Len(t, bridgePorts(t, l.cfg.Bridge), 1, "the container's veth")
	require.Equal(t, 1, publishRules(t, l.cfg.Bridge))
	require.Equal(t, 0, c.stop(t))

	// The kernel deletes the veth with the container's network
	// namespace, in the background, a moment after the exit.
	assert.Eventually(t, func() bool { return len(bridgePorts(t, l.cfg.Bridge)) == 0 }, 5*time.Second, 10*time.Millisecond, "no veth left")
	assert.Equal(t, 0, publishRules(t, l.cfg.Bridge), "no rule left")
	b, err := os.ReadFile(filepath.Join(l.root, "network", "state.json"))
	require.NoError(t, err)
	var state struct {
		Networks map[string]struct{ Leases map[string]string }
		Ports    []any
	}
	require.NoError(t, json.Unmarshal(b, &state))
	for bridge, n := range state.Networks {
		assert.Empty(t, n.Leases, "no address lease left on %s", bridge)
	}
	assert.Empty(t, state.Ports, "no port held")
	endpoints, err := os.ReadDir(filepath.Join(l.root, "network", "endpoints"))
	require.NoError(t, err)
	assert.Empty(t, endpoints)

	// The same port for the next container, and the next address:
	// addresses go round the subnet, so the one just released is not
	// handed out again at once (chapter 05's text: "the second one gets
	// .3").
	out, errOut, status := l.run(t, "ip -o -4 addr show eth0 | awk '{print $4}'", "-p", publish)
	require.Equal(t, 0, status, "stderr: %s", errOut)
	prev, err := netip.ParsePrefix(first)
	require.NoError(t, err)
	assert.Equal(t, netip.PrefixFrom(prev.Addr().Next(), prev.Bits()).String(), strings.TrimSpace(out))
}

func TestBadPublishSpecsFailBeforeAnythingIsCreated(t *testing.T) {
	l := newLab(t)
	port := nettest.FreePort(t)
	c := l.start(t, server("80"), "-p", fmt.Sprintf("%d:80", port))
	c.line(t)
	require.Equal(t, "ready", c.line(t))
	layers, err := os.ReadDir(filepath.Join(l.root, "containers"))
	require.NoError(t, err)
	require.Len(t, layers, 1)

	for _, tc := range []struct{ publish, msg string }{
		{"99999:80", `invalid value "99999:80" for flag -p: host port 99999: out of range 1-65535`},
		{"abc", `invalid value "abc" for flag -p: container port "abc": not a number`},
		{fmt.Sprintf("127.0.0.1:%d:8080", port), fmt.Sprintf("host port %d/tcp is already published by container", port)},
	} {
		t.Run(tc.publish, func(t *testing.T) {
			out, errOut, status := l.run(t, "echo should not run", "-p", tc.publish)
			assert.Equal(t, 125, status)
			assert.Empty(t, out)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			assert.Contains(t, errOut, tc.msg)
			after, err := os.ReadDir(filepath.Join(l.root, "containers"))
			require.NoError(t, err)
			assert.Len(t, after, 1, "no new container layer")
			assert.Len(t, bridgePorts(t, l.cfg.Bridge), 1, "no new veth")
			assert.Equal(t, 1, publishRules(t, l.cfg.Bridge), "no new rule")
		})
	}
	assert.Equal(t, 0, c.stop(t))
}

func TestNetHostAndNetNone(t *testing.T) {
	l := newLab(t)
	interfaces := "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '"
	out, errOut, status := l.run(t, interfaces, "--net", "none")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	assert.Equal(t, []string{"lo"}, strings.Fields(out), "--net none: a namespace with lo only")

	out, errOut, status = l.run(t, interfaces, "--net", "host")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	assert.Contains(t, strings.Fields(out), l.cfg.Bridge, "--net host: the host's interfaces")
	assert.Empty(t, bridgePorts(t, l.cfg.Bridge), "and no veth")

	_, errOut, status = l.run(t, "true", "--net", "host", "-p", "8080:80")
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "needs --net bridge, not --net host")
}

func TestRunTakesTheFlagsOfEveryEarlierChapter(t *testing.T) {
	l := newLab(t)
	out, errOut, status := l.run(t, `hostname; echo $GREETING; pwd; ip -o -4 addr show eth0 | awk '{print $4}'`,
		"--hostname", "box", "--init", // 01
		"--memory", "64m", "--pids-limit", "50", // 02
		"-e", "GREETING=hello", "-w", "/tmp", // 03
		"--keep=false",                                                  // 04
		"--net", "bridge", "-p", fmt.Sprint(nettest.FreePort(t), ":80")) // 05
	require.Equal(t, 0, status, "stderr: %s", errOut)
	lines := strings.Fields(out)
	assert.Equal(t, []string{"box", "hello", "/tmp", network.Gateway(l.cfg.Subnet).Next().String() + "/24"}, lines)
}

func TestARandomHostPortIsPrinted(t *testing.T) {
	l := newLab(t)
	_, errOut, status := l.run(t, "true", "-p", "127.0.0.1::80")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	assert.Regexp(t, `^berth: published 127\.0\.0\.1:\d+->80/tcp\n$`, errOut)
}

// network create makes a bridge of its own; containers run on it with
// --network NAME reach each other, and not the default bridge's; network
// rm removes the bridge.
func TestUserNetworkCommands(t *testing.T) {
	l := newLab(t)
	var out bytes.Buffer
	stdio := namespace.Stdio{Out: &out, Err: &out}
	subnet := nettest.Subnet(t, func(s netip.Prefix) error {
		out.Reset()
		if program.Run([]string{"network", "create", "--root", l.root, "--subnet", s.String(), "--label", "a=b", "front"}, stdio) != 0 {
			return errors.New(out.String())
		}
		return nil
	})
	id := strings.TrimSpace(out.String())
	require.Len(t, id, 64)
	bridge := "br-" + id[:12]
	out.Reset()
	require.Equal(t, 0, program.Run([]string{"network", "ls", "--root", l.root}, stdio))
	assert.Regexp(t, `front +`+bridge+` +`+regexp.QuoteMeta(subnet.String()), out.String())

	srv := l.start(t, server("80"), "--network", "front")
	addr, err := netip.ParsePrefix(srv.line(t))
	require.NoError(t, err)
	require.Equal(t, "ready", srv.line(t))
	assert.True(t, subnet.Contains(addr.Addr()), "%s on the network's subnet %s", addr, subnet)
	o, errOut, status := l.run(t, "wget -q -O- http://"+addr.Addr().String()+"/", "--network", "front")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	assert.Equal(t, "hi\n", o)
	_, _, status = l.run(t, "wget -q -T 1 -O- http://"+addr.Addr().String()+"/")
	assert.NotEqual(t, 0, status, "the default bridge cannot reach a user network")

	out.Reset()
	assert.NotEqual(t, 0, program.Run([]string{"network", "rm", "--root", l.root, "front"}, stdio))
	assert.Contains(t, out.String(), "has active endpoints")
	srv.stop(t)
	out.Reset()
	require.Equal(t, 0, program.Run([]string{"network", "rm", "--root", l.root, "front"}, stdio), out.String())
	_, err = netlink.LinkByName(bridge)
	assert.Error(t, err, "the bridge is gone")
}
