// Package nettest gives network tests what they need and must not share:
// a bridge and a subnet of their own, a second "host" to connect from,
// and free ports. Everything it creates is removed when the test ends.
//
// Tests of several packages run at the same time (go test ./...), each
// creating bridges. A bridge's subnet must not overlap another's, or the
// host would route one container's packets to the other's bridge, so
// subnets are picked under a lock file shared by every test process, and
// a subnet counts as taken once the host has a route for it.
package nettest

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/05-network/network"
)

// Ranges the tests take their subnets from: /24s of 10.201.0.0/16 for
// bridges, of 10.202.0.0/16 for clients. Neither is berthd's default
// (10.88.0.0/16) nor the course's (10.77.0.0/16), so a test never
// touches a real berth0 or course0.
var (
	BridgeRange = netip.MustParsePrefix("10.201.0.0/16")
	ClientRange = netip.MustParsePrefix("10.202.0.0/16")
)

// Config returns a bridge-mode configuration with a new, unique bridge
// ("bt-" and 8 hex digits) and a free /24 of BridgeRange. The bridge is
// created at once, so that its route marks the subnet as taken for other
// tests, and deleted with its nftables table when t ends.
func Config(t testing.TB) network.Config {
	t.Helper()
	labtest.Privileged(t)
	cfg := network.NewConfig()
	cfg.Bridge = labtest.Unique("bt")
	t.Cleanup(func() {
		if err := network.RemoveBridge(cfg.Bridge); err != nil {
			t.Errorf("removing test bridge: %v", err)
		}
	})
	cfg.Subnet = pickSubnet(t, BridgeRange, func(subnet netip.Prefix) error {
		return network.EnsureBridge(cfg.Bridge, subnet)
	})
	return cfg
}

// Subnet picks a free /24 of BridgeRange for create, which makes what
// claims it (a bridge: a route). create returns network.ErrSubnetInUse
// (or an error whose text says "subnet in use") for one the host already
// routes, and another is tried. Use it to give a daemon's user network a
// subnet of the test range: create runs `docker network create --subnet`.
func Subnet(t testing.TB, create func(netip.Prefix) error) netip.Prefix {
	t.Helper()
	labtest.Privileged(t)
	return pickSubnet(t, BridgeRange, create)
}

// pickSubnet tries random /24s of within until create succeeds for one
// that no route of the host overlaps. It holds the host-wide subnet lock
// meanwhile (network.LockSubnets), so that two test processes, or a test
// and a daemon picking a subnet of its own, cannot pick the same one.
func pickSubnet(t testing.TB, within netip.Prefix, create func(netip.Prefix) error) netip.Prefix {
	t.Helper()
	unlock, err := network.LockSubnets()
	if err != nil {
		t.Fatalf("nettest: %v", err)
	}
	defer unlock()
	base := within.Addr().As4()
	for range 100 {
		third := rand.IntN(256)
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], byte(third), 0}), 24)
		err := create(subnet)
		if errors.Is(err, network.ErrSubnetInUse) || (err != nil && strings.Contains(err.Error(), network.ErrSubnetInUse.Error())) {
			continue
		}
		if err != nil {
			t.Fatalf("nettest: %v", err)
		}
		return subnet
	}
	t.Fatalf("nettest: no free /24 in %s", within)
	return netip.Prefix{}
}

// FreePort returns a TCP port that nothing on the host listens on now.
func FreePort(t testing.TB) uint16 {
	t.Helper()
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatalf("nettest: %v", err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// Client is another host, as far as the host's network stack can tell: a
// network namespace of its own, connected to the host by a veth pair with
// a /24 of ClientRange. Connections it makes to HostIP arrive on the host
// from outside, through PREROUTING, as they would from another machine.
type Client struct {
	HostIP netip.Addr // the host's address on the link: dial this
	IP     netip.Addr // the client's own address
	ns     *os.File
}

// NewClient creates a client host, removed when t ends.
func NewClient(t testing.TB) *Client {
	t.Helper()
	labtest.Privileged(t)
	ns, err := newNetns()
	if err != nil {
		t.Fatalf("nettest: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	c := &Client{ns: ns}
	hostEnd := labtest.Unique("bc")
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(hostEnd); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				t.Errorf("nettest: deleting %s: %v", hostEnd, err)
			}
		}
	})
	pickSubnet(t, ClientRange, func(subnet netip.Prefix) error {
		if _, err := netlink.LinkByName(hostEnd); err != nil {
			veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostEnd}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns.Fd()))}
			if err := netlink.LinkAdd(veth); err != nil {
				return fmt.Errorf("creating %s: %w", hostEnd, err)
			}
		}
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return fmt.Errorf("listing routes: %w", err)
		}
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			ones, _ := r.Dst.Mask.Size()
			addr, _ := netip.AddrFromSlice(r.Dst.IP)
			if ones > 0 && netip.PrefixFrom(addr.Unmap(), ones).Overlaps(subnet) {
				return network.ErrSubnetInUse
			}
		}
		c.HostIP, c.IP = subnet.Addr().Next(), subnet.Addr().Next().Next()
		return c.configure(hostEnd, subnet)
	})
	return c
}

// configure gives both ends of the link their addresses, and the client
// a default route through the host.
func (c *Client) configure(hostEnd string, subnet netip.Prefix) error {
	link, err := netlink.LinkByName(hostEnd)
	if err != nil {
		return err
	}
	hostAddr := &netlink.Addr{IPNet: &net.IPNet{IP: c.HostIP.AsSlice(), Mask: net.CIDRMask(subnet.Bits(), 32)}}
	if err := netlink.AddrAdd(link, hostAddr); err != nil {
		return fmt.Errorf("address of %s: %w", hostEnd, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing %s up: %w", hostEnd, err)
	}
	h, err := network.NetnsHandle(c.nsPath())
	if err != nil {
		return err
	}
	defer h.Close()
	for _, name := range []string{"lo", "eth0"} {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("client %s: %w", name, err)
		}
		if name == "eth0" {
			addr := &netlink.Addr{IPNet: &net.IPNet{IP: c.IP.AsSlice(), Mask: net.CIDRMask(subnet.Bits(), 32)}}
			if err := h.AddrAdd(l, addr); err != nil {
				return fmt.Errorf("client address: %w", err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("client %s up: %w", name, err)
		}
	}
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: c.HostIP.AsSlice()}); err != nil {
		return fmt.Errorf("client default route: %w", err)
	}
	return nil
}

// Listen listens on the client's own address, port any, and accepts
// connections until t ends, closing each at once. It returns the port.
func (c *Client) Listen(t testing.TB) uint16 {
	t.Helper()
	var l net.Listener
	err := network.InNetns(c.nsPath(), func() (err error) {
		l, err = net.Listen("tcp4", netip.AddrPortFrom(c.IP, 0).String())
		return err
	})
	if err != nil {
		t.Fatalf("nettest: listening in the client: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// Dial connects from the client, with a timeout of 2 seconds.
func (c *Client) Dial(proto, address string) (net.Conn, error) {
	var conn net.Conn
	err := network.InNetns(c.nsPath(), func() (err error) {
		// The socket is created here, in the client's namespace, and
		// stays there; net.Dial waits for the connection on this
		// thread, so no other goroutine gets involved.
		conn, err = net.DialTimeout(proto, address, 2*time.Second)
		return err
	})
	return conn, err
}

func (c *Client) nsPath() string { return fmt.Sprintf("/proc/self/fd/%d", c.ns.Fd()) }

// newNetns returns a new, empty network namespace, held open by the file.
// The thread that creates it goes back to the host's namespace afterwards
// (see network.InNetns for why it must not just die).
func newNetns() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer home.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			if f != nil {
				f.Close()
			}
			done <- result{err: fmt.Errorf("back to the host's network namespace: %w", err)}
			return // still locked: the thread ends here
		}
		runtime.UnlockOSThread()
		done <- result{f, err}
	}()
	r := <-done
	return r.f, r.err
}

// HTTPGet makes an HTTP/1.0 request on a connection from dial and returns
// the body: enough to ask a busybox httpd in a container who it is.
func HTTPGet(dial func() (net.Conn, error)) (string, error) {
	conn, err := dial()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := io.ReadAll(conn)
	if err != nil {
		return "", err
	}
	_, body, ok := strings.Cut(string(resp), "\r\n\r\n")
	if !ok {
		return "", fmt.Errorf("no HTTP response: %q", resp)
	}
	return body, nil
}

// HostNetns names the host's network namespace, as /proc shows it. It
// reads the calling thread's, on a locked thread: a thread that entered
// another namespace and was parked could otherwise answer for the process.
func HostNetns(t testing.TB) string {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatalf("reading the host's network namespace: %v", err)
	}
	return ns
}
