package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Gateway is the bridge's own address in subnet, the containers' default
// gateway: the subnet's first usable address (10.88.0.1 for 10.88.0.0/16).
func Gateway(subnet netip.Prefix) netip.Addr { return subnet.Addr().Next() }

// EnsureBridge creates the bridge name with the gateway address of subnet,
// unless it exists already, and prepares the host to route for it (see
// ensureBridge). Attach calls it; it is exported for programs and tests
// that want the bridge before the first container.
func EnsureBridge(name string, subnet netip.Prefix) error {
	_, err := ensureBridge(name, netip.PrefixFrom(Gateway(subnet), subnet.Bits()))
	return err
}

// ensureBridge makes sure that the bridge exists, is up, holds the
// gateway address gw (with the subnet's length), and that the host
// forwards packets for it.
//
// Several programs may get here at the same moment for the same bridge,
// so every step tolerates finding its work done: "exists" is success.
func ensureBridge(name string, gw netip.Prefix) (netlink.Link, error) {
	subnet := gw.Masked()
	link, err := netlink.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		// Only a new bridge is checked for overlaps: an existing one
		// with the right address owns the route itself.
		if err := checkOverlap(subnet); err != nil {
			return nil, fmt.Errorf("bridge %s: %w", name, err)
		}
		// A MAC address of its own, set: a bridge without one takes
		// the lowest of its ports', and changes it when that port
		// goes. The containers' ARP caches would then hold a gateway
		// MAC nobody answers to, and whatever they send to the
		// gateway (the DNS server there, the way out) is lost until
		// they ask again, seconds later. An address that was set
		// stays. Like the containers', it is made of the IP address.
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: macFor(gw.Addr())}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("creating bridge %s: %w", name, err)
		}
		link, err = netlink.LinkByName(name)
	}
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", name, err)
	}
	if link.Type() != "bridge" {
		return nil, fmt.Errorf("device %s exists and is a %s, not a bridge", name, link.Type())
	}
	if err := ensureGatewayAddress(link, gw); err != nil {
		return nil, err
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("bringing bridge %s up: %w", name, err)
		}
	}
	// Connections to a port published on 127.0.0.1 leave the host
	// through the bridge with source 127.0.0.1 (until masquerade rewrites
	// it), and the replies arrive with destination 127.0.0.1. The kernel
	// drops both as martians unless route_localnet allows loopback
	// addresses on this device.
	if err := writeSysctl(filepath.Join("net/ipv4/conf", name, "route_localnet"), "1"); err != nil {
		return nil, err
	}
	// Without forwarding the host is a dead end: packets from the
	// containers to elsewhere, and from elsewhere to published ports,
	// are dropped. This one is global; it stays on after berth is done,
	// as Docker leaves it.
	if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
		return nil, err
	}
	return link, nil
}

// ensureGatewayAddress gives the bridge the gateway address, or checks
// that it has it. A bridge with some other IPv4 address belongs to another
// subnet: adding a second one would silently route two subnets through it.
func ensureGatewayAddress(link netlink.Link, want netip.Prefix) error {
	name := link.Attrs().Name
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("addresses of bridge %s: %w", name, err)
	}
	for _, a := range addrs {
		have := ipNetPrefix(a.IPNet)
		if have == want {
			return nil
		}
		return fmt.Errorf("bridge %s has address %s, not %s: it serves another subnet (use another --bridge or --subnet %s)", name, have, want, have.Masked())
	}
	addr := &netlink.Addr{IPNet: prefixIPNet(want)}
	if err := netlink.AddrAdd(link, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("adding address %s to bridge %s: %w", want, name, err)
	}
	return nil
}

// ErrSubnetInUse is wrapped by the error for a new bridge whose subnet
// overlaps a route the host already has.
var ErrSubnetInUse = errors.New("subnet in use")

// checkOverlap fails if the host already routes some part of subnet
// somewhere: a bridge for it would take over that traffic, or lose its own.
func checkOverlap(subnet netip.Prefix) error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if errors.Is(err, netlink.ErrDumpInterrupted) {
		routes, err = netlink.RouteList(nil, netlink.FAMILY_V4)
	}
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue // the default route overlaps everything by design
		}
		dst := ipNetPrefix(r.Dst)
		if dst.Bits() == 0 || !dst.Overlaps(subnet) {
			continue
		}
		dev := fmt.Sprintf("link %d", r.LinkIndex)
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		return fmt.Errorf("subnet %s overlaps the route to %s on %s: %w", subnet, dst, dev, ErrSubnetInUse)
	}
	return nil
}

// RemoveBridge deletes the bridge and its nftables table. Containers
// still on it lose their network. Missing pieces are not an error.
// berth itself never removes a bridge (Docker keeps docker0 too); this is
// for tests and for the reader who wants a clean host.
func RemoveBridge(name string) error {
	var errs []error
	if err := deleteTable(name); err != nil {
		errs = append(errs, err)
	}
	link, err := netlink.LinkByName(name)
	switch {
	case errors.As(err, &netlink.LinkNotFoundError{}):
	case err != nil:
		errs = append(errs, fmt.Errorf("bridge %s: %w", name, err))
	default:
		if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("deleting bridge %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// writeSysctl writes value to /proc/sys/<name>.
func writeSysctl(name, value string) error {
	path := filepath.Join("/proc/sys", name)
	if b, err := os.ReadFile(path); err == nil && string(b) == value+"\n" {
		return nil // already set: no write, no need for the privilege
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

func ipNetPrefix(n *net.IPNet) netip.Prefix {
	addr, _ := netip.AddrFromSlice(n.IP)
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(addr.Unmap(), bits)
}

func prefixIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
