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
	"golang.org/x/sys/unix"
)

// ContainerInterface is the name of the container's end of its veth pair.
const ContainerInterface = "eth0"

// vethName is the name of the host's end of a container's veth pair:
// "veth" and 7 hex digits of a hash of the container's ID, as Docker names
// them. Interface names have at most 15 bytes, too few for an ID; the
// hash keeps the name stable, so that Release finds it again from the ID.
func vethName(id string) string {
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

// createVeth creates the veth pair of endpoint e: the host's end, up and
// plugged into the bridge, and the container's end, created directly in
// the network namespace of pid as eth0.
//
// A veth pair is a virtual cable: what goes into one end comes out of the
// other. Creating the peer inside the container's namespace (the netlink
// message carries the PID) means it never exists on the host, where the
// name eth0 is usually taken.
func createVeth(br netlink.Link, e *Endpoint, pid int) error {
	// A veth disappears when either end's namespace is destroyed, so a
	// leftover one means an earlier Attach of this endpoint failed half
	// way through, or that the container's last run has just ended and
	// the kernel has not dismantled its namespace yet (Detach leaves that
	// to it). The name is derived from this container's ID: it is ours.
	// The host's end is created up (the container's end waits for its
	// address): one netlink round trip less than setting it up after.
	//
	// One queue each way, for both ends, said at creation: a veth made
	// without saying gets a queue per CPU, which the kernel then cuts
	// down to one, and cutting the queues of a registered device waits
	// for an RCU grace period (synchronize_net), twice per pair, with
	// the kernel's network lock held. TxQLen -1 leaves the kernel's
	// default queue length (0 would be sent as 0).
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{
			Name: e.HostVeth, MasterIndex: br.Attrs().Index, Flags: net.FlagUp,
			NumTxQueues: 1, NumRxQueues: 1, TxQLen: -1,
		},
		PeerTxQLen:       -1,
		PeerName:         ContainerInterface,
		PeerHardwareAddr: e.mac(),
		PeerNamespace:    netlink.NsPid(pid),
	}
	err := netlink.LinkAdd(veth)
	if errors.Is(err, unix.EEXIST) {
		// Rare: look for the leftover only then, not before every add.
		if old, lerr := netlink.LinkByName(e.HostVeth); lerr == nil {
			if err := netlink.LinkDel(old); err != nil {
				return fmt.Errorf("deleting leftover veth %s: %w", e.HostVeth, err)
			}
		}
		veth.Index = 0
		err = netlink.LinkAdd(veth)
	}
	if err != nil {
		return fmt.Errorf("creating veth %s with peer %s in the network namespace of pid %d: %w", e.HostVeth, ContainerInterface, pid, err)
	}
	return nil
}

// configureContainer gives the container's eth0 its address and brings
// it up, and routes everything that is not on the bridge's subnet through
// the gateway, all from the host, through a netlink handle in the
// container's network namespace. The container's own init takes no part.
func configureContainer(e *Endpoint, pid int) error {
	var h *netlink.Handle
	err := InNetns(nsPath(pid), func() (err error) {
		// berth gives containers no IPv6, and so, like Docker on a
		// network without IPv6, eth0 gets none at all: no link-local
		// address, and none of the duplicate address detection and
		// multicast reports that would follow it (kernel work at
		// every container's start and end). Set while eth0 is down,
		// before any of it begins. A kernel without IPv6 has no such
		// file.
		if err := writeSysctl("net/ipv6/conf/"+ContainerInterface+"/disable_ipv6", "1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
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
	eth0, err := h.LinkByName(ContainerInterface)
	if err != nil {
		return fmt.Errorf("%s in the container (pid %d): %w", ContainerInterface, pid, err)
	}
	addr := netip.PrefixFrom(e.IP, e.Subnet.Bits())
	// The address with its prefix length also adds the route to the
	// subnet itself: the other containers are reached directly over
	// the bridge, not through the gateway.
	if err := h.AddrAdd(eth0, &netlink.Addr{IPNet: prefixIPNet(addr)}); err != nil {
		return fmt.Errorf("adding %s to %s in the container: %w", addr, ContainerInterface, err)
	}
	if err := h.LinkSetUp(eth0); err != nil {
		return fmt.Errorf("bringing %s up in the container: %w", ContainerInterface, err)
	}
	def := &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: e.Gateway.AsSlice()}
	if err := h.RouteAdd(def); err != nil {
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
