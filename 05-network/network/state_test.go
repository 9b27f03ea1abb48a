package network

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// These tests reserve addresses and ports in a state directory and create
// nothing on the host (Release looks for rules and veths, and finds
// none: hence root).

func bridgeConfig(subnet string) Config {
	c := NewConfig()
	c.Bridge = "bt-unused" // never created here
	c.Subnet = netip.MustParsePrefix(subnet)
	return c
}

func TestAddressesGoRoundTheSubnetBeforeOneIsReused(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	cfg := bridgeConfig("10.9.0.0/29") // .1 gateway, .2 to .6 containers, .7 broadcast
	var eps []*Endpoint
	for i := range 3 {
		ep, err := Allocate(root, fmt.Sprint("c", i), cfg)
		require.NoError(t, err)
		eps = append(eps, ep)
	}
	assert.Equal(t, "10.9.0.2", eps[0].Primary().IP.String(), "10.9.0.1 is the gateway")
	assert.Equal(t, "10.9.0.3", eps[1].Primary().IP.String())
	assert.Equal(t, "10.9.0.4", eps[2].Primary().IP.String())
	assert.Equal(t, "02:42:0a:09:00:03", eps[1].Primary().MAC, "the MAC is derived from the address")
	assert.Equal(t, "10.9.0.1", eps[1].Primary().Gateway.String())

	require.NoError(t, eps[1].Release())
	var got []string
	for i := 3; i < 6; i++ {
		ep, err := Allocate(root, fmt.Sprint("c", i), cfg)
		require.NoError(t, err)
		got = append(got, ep.Primary().IP.String())
	}
	assert.Equal(t, []string{"10.9.0.5", "10.9.0.6", "10.9.0.3"}, got,
		"the released .3 comes back only after the rest of the subnet, skipping the broadcast address and the gateway")
	_, err := Allocate(root, "c6", cfg)
	assert.ErrorContains(t, err, "no free address left (5 in use)")
}

func TestConcurrentAllocationsGetDistinctAddresses(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	cfg := bridgeConfig("10.9.0.0/24")
	const n = 40
	ips := make([]netip.Addr, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Each call opens and locks the state on its own, as
			// separate programs would.
			ep, err := Allocate(root, fmt.Sprint("c", i), cfg)
			if assert.NoError(t, err) {
				ips[i] = ep.Primary().IP
			}
		})
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for _, ip := range ips {
		assert.False(t, seen[ip], "address %s handed out twice", ip)
		seen[ip] = true
		assert.True(t, cfg.Subnet.Contains(ip))
	}
	assert.Len(t, seen, n)
	assert.True(t, seen[netip.MustParseAddr("10.9.0.2")] && seen[netip.MustParseAddr("10.9.0.41")], "the %d first addresses of a new subnet", n)
}

func TestAFullSubnetIsAnError(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	cfg := bridgeConfig("10.9.0.0/30") // .0 network, .1 gateway, .2 container, .3 broadcast
	ep, err := Allocate(root, "a", cfg)
	require.NoError(t, err)
	assert.Equal(t, "10.9.0.2", ep.Primary().IP.String())
	_, err = Allocate(root, "b", cfg)
	assert.ErrorContains(t, err, "subnet 10.9.0.0/30: no free address left (1 in use)")
	require.NoError(t, ep.Release())
	_, err = Allocate(root, "b", cfg)
	assert.NoError(t, err)
}

func TestABridgeKeepsItsSubnetWhileContainersUseIt(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	ep, err := Allocate(root, "a", bridgeConfig("10.9.0.0/24"))
	require.NoError(t, err)
	_, err = Allocate(root, "b", bridgeConfig("10.10.0.0/24"))
	assert.ErrorContains(t, err, "bridge bt-unused uses subnet 10.9.0.0/24, not 10.10.0.0/24")
	require.NoError(t, ep.Release())
	_, err = Allocate(root, "b", bridgeConfig("10.10.0.0/24"))
	assert.NoError(t, err, "an empty bridge may change its subnet")
}

func TestOneEndpointPerContainer(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	_, err := Allocate(root, "a", bridgeConfig("10.9.0.0/24"))
	require.NoError(t, err)
	_, err = Allocate(root, "a", bridgeConfig("10.9.0.0/24"))
	assert.ErrorContains(t, err, "container a already has address 10.9.0.2")
	_, err = Allocate(root, "../x", bridgeConfig("10.9.0.0/24"))
	assert.ErrorContains(t, err, "not a valid ID")
}

func TestPortsAreReservedUntilRelease(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	port := freePort(t)
	cfg := bridgeConfig("10.9.0.0/24")
	cfg.Publish = []PortMapping{{HostPort: port, ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 81, Protocol: "tcp"}, {ContainerPort: 82, Protocol: "tcp"}}
	a, err := Allocate(root, "aaaaaaaaaaaaaaaa", cfg)
	require.NoError(t, err)
	require.Len(t, a.Ports, 3)
	assert.Equal(t, port, a.Ports[0].HostPort)
	assert.NotZero(t, a.Ports[1].HostPort, "a free port was picked")
	assert.NotEqual(t, a.Ports[1].HostPort, a.Ports[2].HostPort)

	cfg.Publish = []PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: port, ContainerPort: 80, Protocol: "tcp"}}
	_, err = Allocate(root, "b", cfg)
	assert.EqualError(t, err, fmt.Sprintf("network for container b: -p 127.0.0.1:%d->80/tcp: host port %d/tcp is already published by container aaaaaaaaaaaa (0.0.0.0:%d->80/tcp)", port, port, port))
	// The failed attempt reserved nothing, not even an address.
	c, err := Allocate(root, "c", bridgeConfig("10.9.0.0/24"))
	require.NoError(t, err)
	assert.Equal(t, "10.9.0.3", c.Primary().IP.String())

	require.NoError(t, a.Release())
	b, err := Allocate(root, "b", cfg)
	require.NoError(t, err)
	assert.Equal(t, port, b.Ports[0].HostPort)
}

func TestAPortAHostProcessListensOnIsRefused(t *testing.T) {
	labtest.Privileged(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	cfg := bridgeConfig("10.9.0.0/24")
	cfg.Publish = []PortMapping{{HostPort: port, ContainerPort: 80, Protocol: "tcp"}}
	_, err = Allocate(t.TempDir(), "a", cfg)
	assert.ErrorContains(t, err, fmt.Sprintf("host port %d/tcp is in use by a process on the host", port))

	cfg.Publish[0].HostIP = netip.MustParseAddr("192.0.2.99")
	cfg.Publish[0].HostPort = freePort(t)
	_, err = Allocate(t.TempDir(), "a", cfg)
	assert.ErrorContains(t, err, "host IP 192.0.2.99 is not an address of this host")
}

func TestTheEndpointIsSavedForWhoeverReleasesIt(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	// A /30 has one address for containers: the next allocation can
	// only succeed if the release freed it.
	cfg := bridgeConfig("10.9.0.0/30")
	cfg.Publish = []PortMapping{{ContainerPort: 80, Protocol: "udp"}}
	ep, err := Allocate(root, "a", cfg)
	require.NoError(t, err)
	loaded, err := Load(root, "a")
	require.NoError(t, err)
	assert.Equal(t, ep, loaded)

	require.NoError(t, Release(root, "a"))
	_, err = Load(root, "a")
	assert.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, Release(root, "a"), "releasing twice is fine")
	require.NoError(t, Release(root, "never-allocated"))
	again, err := Allocate(root, "b", cfg)
	require.NoError(t, err)
	assert.Equal(t, ep.Primary().IP, again.Primary().IP)
}

// Addresses go round the subnet, even when every container has gone in
// between: a run after a run gets the next address, not the one just
// released (whose veth the kernel may still be tearing down, with the
// same MAC; see allocate).
func TestAddressesGoRoundWhenTheBridgeEmpties(t *testing.T) {
	root := t.TempDir()
	cfg := bridgeConfig("10.9.1.0/24")
	var got []string
	for _, id := range []string{"a", "b", "c"} {
		ep, err := Allocate(root, id, cfg)
		require.NoError(t, err)
		got = append(got, ep.Primary().IP.String())
		require.NoError(t, Release(root, id))
	}
	assert.Equal(t, []string{"10.9.1.2", "10.9.1.3", "10.9.1.4"}, got)

	// A subnet that changes while no one is on it starts afresh.
	cfg = bridgeConfig("10.9.2.0/24")
	ep, err := Allocate(root, "d", cfg)
	require.NoError(t, err)
	assert.Equal(t, "10.9.2.2", ep.Primary().IP.String())
}

func TestHostAndNoneReserveNothing(t *testing.T) {
	root := t.TempDir()
	for _, mode := range []Mode{ModeHost, ModeNone} {
		cfg := NewConfig()
		cfg.Mode = mode
		ep, err := Allocate(root, "a", cfg)
		require.NoError(t, err)
		assert.False(t, ep.Primary().IP.IsValid())
		assert.NoError(t, ep.Attach(os.Getpid()))
		assert.NoError(t, ep.Release())
	}
	assert.NoDirExists(t, stateDir(root))
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	require.NoError(t, err)
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// A crash of the machine may leave state.json empty, never written out
// (writeJSON). The state is then rebuilt from the endpoints: what they
// hold stays held, and a torn endpoint is dropped.
func TestATornStateIsRebuiltFromTheEndpoints(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	port := freePort(t)
	cfg := bridgeConfig("10.9.0.0/24")
	cfg.Publish = []PortMapping{{HostPort: port, ContainerPort: 80, Protocol: "tcp"}}
	a, err := Allocate(root, "a", cfg)
	require.NoError(t, err)
	torn, err := Allocate(root, "torn", bridgeConfig("10.9.0.0/24"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(stateDir(root), "state.json"), nil, 0o600))
	require.NoError(t, os.WriteFile(endpointPath(root, "torn"), []byte(`{"id":"to`), 0o600))

	_, err = Allocate(root, "b", cfg)
	assert.ErrorContains(t, err, fmt.Sprintf("host port %d/tcp is already published by container a", port), "a keeps its port")
	b, err := Allocate(root, "b", bridgeConfig("10.9.0.0/24"))
	require.NoError(t, err)
	assert.NotEqual(t, a.Primary().IP, b.Primary().IP, "a keeps its address")
	assert.Equal(t, torn.Primary().IP, b.Primary().IP, "the torn endpoint's address is free again")
	assert.NoFileExists(t, endpointPath(root, "torn"))
	require.NoError(t, a.Release())
	require.NoError(t, b.Release())
}

// Replacing the state leaves no file behind but the state itself.
func TestWriteJSONReplacesAndLeavesNothingAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	for i := range 3 {
		require.NoError(t, writeJSON(path, map[string]int{"v": i}))
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.JSONEq(t, fmt.Sprintf(`{"v": %d}`, i), string(b))
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}
