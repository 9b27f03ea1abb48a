package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// ContainerInterface is the name of the container's first interface,
// the container's end of its first veth pair.
const ContainerInterface = "eth0"

// vethName is the name of the host's end of a container's veth pair for
// its interface ifname: "veth" and 7 hex digits of a hash of the
// container's ID (and of ifname, but eth0's), as Docker names them.
// Interface names have at most 15 bytes, too few for an ID; the hash
// keeps the name stable, so that Release finds it again from the ID.
func vethName(id, ifname string) string {
	if ifname != ContainerInterface {
		id += "/" + ifname
	}
	sum := sha256.Sum256([]byte(id))
	return "veth" + hex.EncodeToString(sum[:])[:7]
}

// macFor derives a container's MAC address from its IP address, as Docker
// did for years: 02:42 and the four bytes of the address. 02 marks a
// locally administered, unicast address, which no network card is sold
// with; and since an IP address is leased to one container at a time, so
// is the MAC.
func macFor(ip netip.Addr) net.HardwareAddr {
	a := ip.As4()
	return net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
}

// createVeth creates the veth pair of interface e: the host's end, up and
// plugged into the bridge, and the container's end, created directly in
// the network namespace of pid as e.Name (eth0, eth1, ...).
//
// A veth pair is a virtual cable: what goes into one end comes out of the
// other. Creating the peer inside the container's namespace (the netlink
// message carries the PID) means it never exists on the host, where the
// name eth0 is usually taken.
func createVeth(br netlink.Link, e *Interface, pid int) error {
	// A veth disappears when either end's namespace is destroyed, so a
	// leftover one means an earlier Attach of this endpoint failed half
	// way through, or that the container's last run has just ended and
	// the kernel has not dismantled its namespace yet (Detach leaves that
	// to it). The name is derived from this container's ID: it is ours.
	err := addVeth(e.HostVeth, e.Name, br.Attrs().Index, e.mac(), pid)
	if errors.Is(err, unix.EEXIST) {
		// Rare: look for the leftover only then, not before every add.
		if old, lerr := netlink.LinkByName(e.HostVeth); lerr == nil {
			// The kernel may dismantle it between the lookup and the
			// delete (the namespace of the last run going away): gone
			// is what we wanted.
			if err := netlink.LinkDel(old); err != nil && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("deleting leftover veth %s: %w", e.HostVeth, err)
			}
		}
		err = addVeth(e.HostVeth, e.Name, br.Attrs().Index, e.mac(), pid)
	}
	if err != nil {
		return fmt.Errorf("creating veth %s with peer %s in the network namespace of pid %d: %w", e.HostVeth, e.Name, pid, err)
	}
	return nil
}

// addVeth sends the one RTM_NEWLINK message that makes the pair, what
// `ip link add NAME up master BRIDGE numtxqueues 1 numrxqueues 1 type veth
// peer name eth0 address MAC netns PID numtxqueues 1 numrxqueues 1` sends:
//
//	ifinfomsg                 flags IFF_UP: the host's end comes up at once
//	IFLA_IFNAME               the host's end
//	IFLA_MASTER               the bridge: plugged in at creation
//	IFLA_NUM_TX/RX_QUEUES     1 and 1
//	IFLA_LINKINFO
//	  IFLA_INFO_KIND          "veth"
//	  IFLA_INFO_DATA
//	    VETH_INFO_PEER        ifinfomsg, then the peer's own attributes:
//	      IFLA_IFNAME         eth0
//	      IFLA_ADDRESS        its MAC
//	      IFLA_NET_NS_PID     created in the network namespace of pid
//	      IFLA_NUM_TX/RX_QUEUES
//
// (The netlink library's LinkAdd sends the master in a second message,
// after a third that looks the new link up.)
//
// One queue each way is said for both ends: a veth made without saying
// gets a queue per CPU, which the kernel then cuts down to one, and
// cutting the queues of a registered device waits for an RCU grace period
// (synchronize_net), twice per pair, with the kernel's network lock held.
func addVeth(name, peerName string, bridgeIndex int, mac net.HardwareAddr, pid int) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Flags, msg.Change = unix.IFF_UP, unix.IFF_UP
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(bridgeIndex))))
	req.AddData(nl.NewRtAttr(unix.IFLA_NUM_TX_QUEUES, nl.Uint32Attr(1)))
	req.AddData(nl.NewRtAttr(unix.IFLA_NUM_RX_QUEUES, nl.Uint32Attr(1)))
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	peer := info.AddRtAttr(nl.IFLA_INFO_DATA, nil).AddRtAttr(nl.VETH_INFO_PEER, nil)
	nl.NewIfInfomsgChild(peer, unix.AF_UNSPEC)
	peer.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(peerName))
	peer.AddRtAttr(unix.IFLA_ADDRESS, mac)
	peer.AddRtAttr(unix.IFLA_NET_NS_PID, nl.Uint32Attr(uint32(pid)))
	peer.AddRtAttr(unix.IFLA_NUM_TX_QUEUES, nl.Uint32Attr(1))
	peer.AddRtAttr(unix.IFLA_NUM_RX_QUEUES, nl.Uint32Attr(1))
	req.AddData(info)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// setHairpin lets the bridge send a frame back out of the port it came
// in by, for a container's connection to its own published port.
//
// The connection goes to a host address; DNAT sends it back to the
// container. Without br_netfilter the host routes the rewritten packet,
// and the bridge's own interface sends it to the container's port: no
// hairpin. But with br_netfilter loaded (bridge-nf-call-iptables=1, as
// on this machine and wherever Docker runs), the rewrite happens while
// the frame is still being bridged, and the bridge forwards it straight
// back to the port it came from, which a bridge never does unless the
// port is in hairpin mode. Only a container that publishes ports needs
// it; the others save the netlink request.
func setHairpin(veth string) error {
	link, err := netlink.LinkByName(veth)
	if err == nil {
		err = netlink.LinkSetHairpin(link, true)
	}
	if err != nil {
		return fmt.Errorf("hairpin mode on %s: %w", veth, err)
	}
	return nil
}

// configureContainer gives the container's interface its address and
// brings it up, and routes everything that is not on a subnet of the
// container through the gateway of its first interface that is not
// internal, all from the host, through a netlink handle in the
// container's network namespace. The container's own init takes no part.
func configureContainer(e *Interface, pid int) error {
	var h *netlink.Handle
	err := InNetns(nsPath(pid), func() (err error) {
		// berth gives containers no IPv6, and so, like Docker on a
		// network without IPv6, the interface gets none at all: no
		// link-local address, and none of the duplicate address
		// detection and multicast reports that would follow it
		// (kernel work at every container's start and end). Set
		// while it is down, before any of it begins. A kernel without
		// IPv6 has no such file.
		if err := writeSysctl("net/ipv6/conf/"+e.Name+"/disable_ipv6", "1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return fmt.Errorf("netlink socket in the container (pid %d): %w", pid, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(e.Name)
	if err != nil {
		return fmt.Errorf("%s in the container (pid %d): %w", e.Name, pid, err)
	}
	addr := netip.PrefixFrom(e.IP, e.Subnet.Bits())
	// The address with its prefix length also adds the route to the
	// subnet itself: the other containers are reached directly over
	// the bridge, not through the gateway.
	if err := h.AddrAdd(link, &netlink.Addr{IPNet: prefixIPNet(addr)}); err != nil {
		return fmt.Errorf("adding %s to %s in the container: %w", addr, e.Name, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing %s up in the container: %w", e.Name, err)
	}
	if e.Internal {
		return nil // no way out, so no route out
	}
	// The first interface with a way out gets the default route; a
	// second one finds it there (EEXIST) and leaves it.
	def := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: e.Gateway.AsSlice()}
	if err := h.RouteAdd(def); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("default route via %s in the container: %w", e.Gateway, err)
	}
	return nil
}

// deleteVeth deletes the host's end of the pair, which takes the
// container's end with it. A missing veth is not an error: when the
// container's last process exits, its namespace goes and the kernel
// deletes the pair by itself.
func deleteVeth(name string) error {
	link, err := netlink.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("veth %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("deleting veth %s: %w", name, err)
	}
	return nil
}
