package daemon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every container gets its own /etc/hosts, /etc/resolv.conf and
// /etc/hostname, with the docker CLI's --add-host, --dns, --dns-search,
// --dns-option and --hostname applied, as bind mounts that docker
// commit does not capture.
func TestNameFilesThroughTheCLI(t *testing.T) {
	l := newLab(t)

	out := l.ok("run", "--rm", "--add-host", "a:1.2.3.4", "--add-host", "b=5.6.7.8", "--add-host", "gw:host-gateway", "busybox", "cat", "/etc/hosts")
	assert.True(t, strings.HasPrefix(out, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"), out)
	assert.Contains(t, out, "1.2.3.4\ta\n5.6.7.8\tb\n")
	assert.Regexp(t, `\n10\.201\.\d+\.1\tgw\n`, out, "host-gateway is the bridge's address")

	out = l.ok("run", "--rm", "--dns", "127.0.0.53", "--dns-search", "example.test", "--dns-option", "ndots:3", "busybox", "cat", "/etc/resolv.conf")
	assert.True(t, strings.HasPrefix(out, "nameserver 127.0.0.53\nsearch example.test\noptions ndots:3\n"), out)

	out = l.ok("run", "--rm", "--hostname", "web", "busybox", "sh", "-c", "hostname; cat /etc/hostname; tail -n 1 /etc/hosts")
	assert.Regexp(t, `^web\nweb\n10\.201\.\d+\.\d+\tweb\n$`, out)

	_, stderr, code := l.docker("", "run", "--rm", "--add-host", "a:not-an-ip", "busybox", "true")
	assert.NotZero(t, code)
	assert.Contains(t, stderr, "invalid IP address")
	_, stderr, code = l.docker("", "run", "--rm", "--domainname", "example.test", "busybox", "true")
	assert.NotZero(t, code)
	assert.Contains(t, stderr, "--domainname is not supported")

	// The files are the container's, not the image's: a commit of a
	// container that wrote to them has none of it.
	l.ok("run", "--name", "writer", "--add-host", "a:1.2.3.4", "busybox", "sh", "-c", "echo changed >> /etc/hosts; echo changed > /etc/resolv.conf; echo hi > /new")
	info := l.inspect("writer")
	assert.NotEmpty(t, info.HostsPath)
	assert.NotEmpty(t, info.ResolvConfPath)
	assert.NotEmpty(t, info.HostnamePath)
	l.ok("commit", "writer", "dnstest:committed")
	out = l.ok("run", "--rm", "dnstest:committed", "sh", "-c", "cat /new; grep -c changed /etc/hosts /etc/resolv.conf; true")
	assert.Equal(t, "hi\n/etc/hosts:0\n/etc/resolv.conf:0\n", out)
	diff := l.ok("diff", "writer")
	assert.NotContains(t, diff, "/etc/hosts")
	assert.NotContains(t, diff, "/etc/resolv.conf")
	assert.NotContains(t, diff, "/etc/hostname")
	l.ok("rm", "writer")
	l.ok("rmi", "dnstest:committed")
	require.True(t, true)
}
