package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/05-network/nettest"
)

// Chapter 05's steps are the host's, from its OnRelease hook, while
// init mounts: so they follow the clone, and keep their own order (the
// bridge, the veth, the container's side, the rules), whatever init
// writes between them.
func TestExplainShowsTheNetworkBeingWired(t *testing.T) {
	l := newLab(t)
	port := nettest.FreePort(t)
	_, errOut, status := l.run(t, "true", "--explain", "-p", fmt.Sprintf("127.0.0.1:%d:80", port))
	require.Equal(t, 0, status, "stderr: %s", errOut)
	var network []explain.Line
	for _, line := range explain.Lines(errOut) {
		if line.Section.Chapter() == "05" {
			network = append(network, line)
		}
	}
	assert.Empty(t, explain.FirstMissing(explain.Lines(errOut), "clone", "netlink:bridge "+l.cfg.Bridge), "stderr:\n%s", errOut)
	assert.Empty(t, explain.FirstMissing(network,
		"netlink:bridge", "netlink:RTM_NEWLINK veth", "netlink:hairpin", "write:disable_ipv6",
		"netlink:RTM_NEWADDR", "netlink:eth0 up", "netlink:RTM_NEWROUTE default", "nft:1 DNAT"), "stderr:\n%s", errOut)
}
