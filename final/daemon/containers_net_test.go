package daemon

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/05-network/nettest"
)

// S26, S38: -p HOSTIP:HOSTPORT:CONTAINERPORT publishes a port of the
// container on the host: a server on port 80 of the container answers on
// the host's port. docker port and ps show the mapping.
func TestS26_S38_PublishedPort(t *testing.T) {
	l := newLab(t)
	port := nettest.FreePort(t)
	l.ok("run", "-d", "--name", "web", "-p", fmt.Sprintf("0.0.0.0:%d:80", port), "busybox",
		"sh", "-c", "mkdir /www && echo served-from-the-container > /www/index.html && httpd -f -p 80 -h /www")
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	assert.Equal(t, "served-from-the-container\n", body)
	assert.Equal(t, fmt.Sprintf("0.0.0.0:%d\n", port), l.ok("port", "web", "80"))
	assert.Contains(t, l.ok("ps", "--format", "{{.Ports}}"), fmt.Sprintf("0.0.0.0:%d->80/tcp", port))

	// The container has its own address on the lab's bridge.
	info := l.inspect("web")
	ep := info.NetworkSettings.Networks["bridge"]
	require.NotNil(t, ep)
	assert.True(t, ep.IPAddress.IsValid(), "an address")
	sub := l.opts.Subnet
	assert.True(t, strings.HasPrefix(ep.IPAddress.String(), sub[:strings.LastIndex(sub, ".")]), "%s in %s", ep.IPAddress, sub)

	// Only 127.0.0.1 on an explicit address; a port picked by the host.
	l.ok("run", "-d", "--name", "web2", "-p", "127.0.0.1::80", "busybox",
		"sh", "-c", "mkdir /www && echo second > /www/index.html && httpd -f -p 80 -h /www")
	mapping := strings.TrimSpace(l.ok("port", "web2", "80/tcp"))
	require.True(t, strings.HasPrefix(mapping, "127.0.0.1:"), mapping)
	assert.Equal(t, "second\n", httpGet(t, "http://"+mapping+"/"))

	// Taken: the second container cannot start, and says why.
	_, errOut, code := l.docker("", "run", "-d", "--name", "clash", "-p", fmt.Sprintf("%d:80", port), "busybox", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, fmt.Sprint(port))
}

// httpGet fetches url, retrying while the server in the container starts.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	var body string
	eventually(t, func() bool {
		c := http.Client{Timeout: time.Second}
		resp, err := c.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return err == nil && resp.StatusCode == http.StatusOK
	}, "GET %s", url)
	return body
}

// --network none: only lo. --network host: the host's interfaces.
// The default, bridge: lo and eth0.
func TestNetworkModes(t *testing.T) {
	l := newLab(t)
	assert.Equal(t, "lo\n", l.ok("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"))
	ifaces := l.ok("run", "--rm", "busybox", "ls", "/sys/class/net")
	assert.Equal(t, "eth0\nlo\n", ifaces)
	hostIfaces := l.ok("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net")
	assert.Contains(t, hostIfaces, l.opts.Bridge, "the host's interfaces, the lab's bridge among them")
	_, errOut, code := l.docker("", "run", "--rm", "--network", "no-such-net", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, "network no-such-net not found")
}
