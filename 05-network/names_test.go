package main

import (
	"bytes"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/05-network/network"
)

// A container gets its own /etc/hostname, /etc/hosts and
// /etc/resolv.conf, with --add-host, --dns, --dns-search and
// --dns-option applied, bind-mounted over the image's.
func TestNameFiles(t *testing.T) {
	l := newLab(t)
	gw := network.Gateway(l.cfg.Subnet)
	out, stderr, status := l.run(t, "cat /etc/hostname; echo --; cat /etc/hosts; echo --; cat /etc/resolv.conf; echo --; grep -c ' /etc/hosts ' /proc/self/mountinfo",
		"--hostname", "web", "--add-host", "a:1.2.3.4", "--add-host", "gw:host-gateway",
		"--dns", "10.0.0.53", "--dns-search", "example.test", "--dns-option", "ndots:2")
	require.Equal(t, 0, status, stderr)
	parts := strings.Split(out, "--\n")
	require.Len(t, parts, 4, out)
	assert.Equal(t, "web\n", parts[0])
	hosts := parts[1]
	assert.True(t, strings.HasPrefix(hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"), hosts)
	assert.Contains(t, hosts, "1.2.3.4\ta\n"+gw.String()+"\tgw\n")
	lines := strings.Split(strings.TrimSpace(hosts), "\n")
	own := strings.Fields(lines[len(lines)-1])
	require.Len(t, own, 2, hosts)
	addr, err := netip.ParseAddr(own[0])
	require.NoError(t, err, hosts)
	assert.True(t, l.cfg.Subnet.Contains(addr), "the container's own address last: %s", hosts)
	assert.Equal(t, "web", own[1])
	assert.True(t, strings.HasPrefix(parts[2], "nameserver 10.0.0.53\nsearch example.test\noptions ndots:2\n"), parts[2])
	assert.Equal(t, "1\n", parts[3], "/etc/hosts is a mount of its own")

	// --net host: the host's resolv.conf.
	hostFile, err := os.ReadFile("/etc/resolv.conf")
	require.NoError(t, err)
	out, stderr, status = l.run(t, "cat /etc/resolv.conf", "--net", "host")
	require.Equal(t, 0, status, stderr)
	for _, line := range strings.Split(string(hostFile), "\n") {
		if strings.HasPrefix(line, "nameserver ") {
			assert.Contains(t, out, line+"\n")
		}
	}

	// They are not the container's changes: a container that wrote to
	// them has nothing to show in its diff.
	_, stderr, status = l.run(t, "echo x >> /etc/hosts; echo x > /etc/hostname", "--keep", "--net", "none")
	require.Equal(t, 0, status, stderr)
	id := strings.TrimSpace(stderr[strings.LastIndex(strings.TrimSpace(stderr), "\n")+1:])
	var out2, errOut bytes.Buffer
	require.Equal(t, 0, program.Run([]string{"diff", "--root", l.root, id}, namespace.Stdio{Out: &out2, Err: &errOut}), errOut.String())
	assert.Empty(t, out2.String())
	require.Equal(t, 0, program.Run([]string{"rm", "--root", l.root, id}, namespace.Stdio{Out: &out2, Err: &errOut}), errOut.String())
}
