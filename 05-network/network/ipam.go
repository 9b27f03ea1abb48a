package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DefaultPools are the subnets a network without --subnet is given, tried
// in turn, as Docker's default address pools: 172.18.0.0/16 to
// 172.31.0.0/16 (172.17/16 is docker0's), then the /20s of 192.168/16.
var DefaultPools = func() []netip.Prefix {
	var out []netip.Prefix
	for b := 18; b <= 31; b++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(b), 0, 0}), 16))
	}
	for c := 0; c < 256; c += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(c), 0}), 20))
	}
	return out
}()

// SubnetLockPath is the lock file every berth process (daemons, chapter
// programs, tests: nettest takes it too) holds while it picks a free
// subnet and creates the bridge that claims it. A subnet counts as taken
// once the host routes it, and between the look at the routes and the
// bridge's creation another process could pick the same one.
var SubnetLockPath = filepath.Join(os.TempDir(), "berth-nettest.lock")

// LockSubnets takes the host-wide subnet lock; call the returned function
// to release it.
func LockSubnets() (unlock func(), err error) {
	f, err := os.OpenFile(SubnetLockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("subnet lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", SubnetLockPath, err)
	}
	return func() { f.Close() }, nil
}

// pickSubnet tries the pools' subnets in order, skipping those that
// overlap another network of the root, until create succeeds for one
// (create fails with ErrSubnetInUse for one the host already routes).
// It holds the host-wide subnet lock meanwhile.
func pickSubnet(pools []netip.Prefix, others []*Network, create func(netip.Prefix) error) error {
	unlock, err := LockSubnets()
	if err != nil {
		return err
	}
	defer unlock()
	subnet, err := firstFree(pools, others, create)
	if err != nil {
		return err
	}
	if !subnet.IsValid() {
		return fmt.Errorf("no free subnet left in the address pools (%d tried): %w", len(pools), ErrSubnetInUse)
	}
	return nil
}

// firstFree returns the first pool for which create succeeds, or the zero
// prefix if none is left.
func firstFree(pools []netip.Prefix, others []*Network, create func(netip.Prefix) error) (netip.Prefix, error) {
next:
	for _, p := range pools {
		for _, o := range others {
			if o.Subnet.Overlaps(p) {
				continue next
			}
		}
		err := create(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, ErrSubnetInUse) {
			return netip.Prefix{}, err
		}
	}
	return netip.Prefix{}, nil
}
