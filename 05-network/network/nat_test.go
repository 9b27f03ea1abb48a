package network

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/nftables"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

func TestSettingUpATableIsIdempotentAndSafeInParallel(t *testing.T) {
	labtest.Privileged(t)
	// The table does not need its bridge to exist: rules name
	// interfaces by name.
	bridge := labtest.Unique("bt")
	t.Cleanup(func() { assert.NoError(t, deleteTable(bridge)) })
	subnet := netip.MustParsePrefix("10.9.0.0/24")

	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ip := netip.AddrFrom4([4]byte{10, 9, 0, byte(2 + i)})
			ports := []PortMapping{{HostPort: uint16(40000 + i), ContainerPort: 80, Protocol: "tcp"}}
			assert.NoError(t, installRules(bridgeSpec{Name: bridge, Subnet: subnet}, fmt.Sprint("c", i), ip, ports))
		})
	}
	wg.Wait()

	c, err := nftables.New()
	require.NoError(t, err)
	tbl := table(bridge)
	count := func(chain string) int {
		rules, err := c.GetRules(tbl, &nftables.Chain{Name: chain, Table: tbl})
		require.NoError(t, err)
		return len(rules)
	}
	assert.Equal(t, 1, count("prerouting"), "one jump, however many set the table up")
	assert.Equal(t, 1, count("output"))
	assert.Equal(t, 3, count("postrouting"), "the three masquerade rules (out, from loopback, hairpin), once")
	assert.Equal(t, 3, count("forward"), "the three isolation rules, once")
	assert.Equal(t, n, count(publishChain), "every container's rule")

	// Each container's rules can be removed alone, and twice.
	require.NoError(t, deletePortRules(bridge, "c3"))
	require.NoError(t, deletePortRules(bridge, "c3"))
	assert.Equal(t, n-1, count(publishChain))
	rules, err := portRules(c, bridge, "c4")
	require.NoError(t, err)
	assert.Len(t, rules, 1)

	// Without the table there is nothing to delete, and no error.
	require.NoError(t, deleteTable(bridge))
	require.NoError(t, deletePortRules(bridge, "c4"))
	require.NoError(t, deleteTable(bridge))
}
