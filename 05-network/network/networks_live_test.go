package network_test

import (
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/nftables"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/05-network/network"
)

// Programs sharing a root create the same network at the same moment:
// one wins, the others are told it exists, and one bridge is made.
// Removing it leaves nothing on the host.
func TestConcurrentCreatesOfOneNameMakeOneNetwork(t *testing.T) {
	root := t.TempDir()
	var made []*network.Network
	nettest.Subnet(t, func(s netip.Prefix) error {
		const n = 6
		var wg sync.WaitGroup
		var mu sync.Mutex
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				net, err := network.CreateNetwork(root, network.NetworkSpec{Name: "shared", Subnet: s})
				errs[i] = err
				if err == nil {
					mu.Lock()
					made = append(made, net)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(made) == 0 && errors.Is(errs[0], network.ErrSubnetInUse) {
			return errs[0] // the host routes it: another subnet
		}
		for _, err := range errs {
			if err != nil {
				assert.ErrorIs(t, err, network.ErrNetworkExists)
			}
		}
		return nil
	})
	require.Len(t, made, 1, "one network")
	n := made[0]
	t.Cleanup(func() { _ = network.RemoveBridge(n.Bridge) })
	link, err := netlink.LinkByName(n.Bridge)
	require.NoError(t, err)
	assert.Equal(t, "bridge", link.Type())
	all, err := network.Networks(root)
	require.NoError(t, err)
	assert.Len(t, all, 1)

	require.NoError(t, network.RemoveNetwork(root, "shared"))
	_, err = netlink.LinkByName(n.Bridge)
	assert.Error(t, err, "the bridge is gone")
	c, err := nftables.New()
	require.NoError(t, err)
	_, err = c.ListTableOfFamily(network.TableName(n.Bridge), nftables.TableFamilyIPv4)
	assert.Error(t, err, "the table is gone")
	assert.ErrorIs(t, network.RemoveNetwork(root, "shared"), network.ErrNetworkNotFound)
}
