package network_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/05-network/network"
)

// A bridge has a MAC address of its own, set (addr_assign_type 3): it
// does not change when the port whose MAC it had goes, which would leave
// the other containers sending to a gateway MAC nobody answers to.
func TestTheBridgeKeepsItsMACAddress(t *testing.T) {
	cfg := nettest.Config(t) // makes the bridge
	link, err := netlink.LinkByName(cfg.Bridge)
	require.NoError(t, err)
	gw := network.Gateway(cfg.Subnet).As4()
	assert.Equal(t, "02:42", link.Attrs().HardwareAddr.String()[:5])
	assert.Equal(t, []byte{gw[0], gw[1], gw[2], gw[3]}, []byte(link.Attrs().HardwareAddr[2:]))
	data, err := os.ReadFile(filepath.Join("/sys/class/net", cfg.Bridge, "addr_assign_type"))
	require.NoError(t, err)
	assert.Equal(t, "3", strings.TrimSpace(string(data)), "NET_ADDR_SET: the kernel leaves it as it is")
}
