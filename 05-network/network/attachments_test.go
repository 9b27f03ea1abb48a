package network

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// fakeNetwork records a network under root without creating its bridge:
// allocation only reads the record.
func fakeNetwork(t *testing.T, root, name, subnet, ipRange string) *Network {
	t.Helper()
	n := &Network{ID: name + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789", Name: name, Driver: "bridge",
		Bridge: "bt-unused-" + name, Subnet: netip.MustParsePrefix(subnet)}
	n.Gateway = Gateway(n.Subnet)
	if ipRange != "" {
		n.IPRange = netip.MustParsePrefix(ipRange)
	}
	require.NoError(t, withState(root, func(*state) error {
		return writeJSON(filepath.Join(networksDir(root), n.ID+".json"), n)
	}))
	return n
}

func TestRecordedAttachmentsDecideTheInterfaces(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	front := fakeNetwork(t, root, "front", "10.7.1.0/24", "10.7.1.128/25")
	back := fakeNetwork(t, root, "back", "10.7.2.0/24", "")
	cfg := bridgeConfig("10.9.0.0/24")
	cfg.Recorded = true

	require.NoError(t, SetAttachments(root, "c1", []Attachment{
		{Network: "front"},
		{Network: back.ID[:12], IP: netip.MustParseAddr("10.7.2.50"), MAC: "02:00:00:00:00:01", Aliases: []string{"db"}},
	}))
	atts, err := Attachments(root, "c1")
	require.NoError(t, err)
	assert.Equal(t, front.ID, atts[0].Network, "recorded by ID")
	assert.Equal(t, back.ID, atts[1].Network)

	ep, err := Allocate(root, "c1", cfg)
	require.NoError(t, err)
	require.Len(t, ep.Interfaces, 2)
	eth0, eth1 := ep.Interfaces[0], ep.Interfaces[1]
	assert.Equal(t, "eth0", eth0.Name)
	assert.Equal(t, "10.7.1.128", eth0.IP.String(), "the range's first address")
	assert.Equal(t, "front", eth0.NetworkName)
	assert.Equal(t, "eth1", eth1.Name)
	assert.Equal(t, "10.7.2.50", eth1.IP.String(), "static")
	assert.Equal(t, "02:00:00:00:00:01", eth1.MAC)
	assert.Equal(t, []string{"db"}, eth1.Aliases)
	assert.NotEqual(t, eth0.HostVeth, eth1.HostVeth)

	// The static address is taken; a second container gets refused.
	require.NoError(t, SetAttachments(root, "c2", []Attachment{{Network: "back", IP: netip.MustParseAddr("10.7.2.50")}}))
	_, err = Allocate(root, "c2", cfg)
	assert.ErrorContains(t, err, "address 10.7.2.50 is already in use by container c1")

	// Disconnected while not running: the record and the lease go.
	require.NoError(t, LeaveNetwork(root, "c1", "back"))
	assert.NotNil(t, ep.On(back.ID), "the caller's old value is not changed")
	loaded, err := Load(root, "c1")
	require.NoError(t, err)
	assert.Nil(t, loaded.On(back.ID))
	c2, err := Allocate(root, "c2", cfg)
	require.NoError(t, err, "the address is free again")
	assert.Equal(t, "10.7.2.50", c2.Primary().IP.String())
	require.NoError(t, Release(root, "c2"))
	assert.ErrorContains(t, LeaveNetwork(root, "c1", "back"), "is not connected to network back")

	for _, tc := range []struct {
		atts []Attachment
		err  string
	}{
		{[]Attachment{{Network: "nosuch"}}, "network nosuch: network not found"},
		{[]Attachment{{Network: "front"}, {Network: front.ID}}, "connected to network " + front.ID + " twice"},
		{[]Attachment{{Network: "front", IP: netip.MustParseAddr("10.8.0.1")}}, "address 10.8.0.1 is not in subnet 10.7.1.0/24"},
		{[]Attachment{{Network: DefaultNetwork, IP: netip.MustParseAddr("10.9.0.7")}}, "supported on user defined networks only"},
		{[]Attachment{{Aliases: []string{"x"}}}, "supported on user defined networks only"},
	} {
		assert.ErrorContains(t, SetAttachments(root, "c3", tc.atts), tc.err)
	}
	_, err = JoinNetwork(root, "c1", cfg, Attachment{Network: "front"})
	assert.ErrorIs(t, err, ErrNetworkExists)
	require.NoError(t, Release(root, "c1"))
	require.NoError(t, ForgetAttachments(root, "c1"))

	internal := fakeNetwork(t, root, "inside", "10.7.3.0/24", "")
	internal.Internal = true
	require.NoError(t, withState(root, func(*state) error {
		return writeJSON(filepath.Join(networksDir(root), internal.ID+".json"), internal)
	}))
	cfg.Recorded = false
	cfg.Networks = []Attachment{{Network: "inside"}}
	cfg.Publish = []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}
	_, err = Allocate(root, "c4", cfg)
	assert.ErrorContains(t, err, "ports cannot be published on internal network inside")
	require.NoError(t, ForgetAttachments(root, "c1"), "twice is fine")
}
