package cli

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/final/daemon"
	"github.com/berth-project/berth/final/daemon/daemontest"
)

// Tests against a real berthd: a daemon in this process, over a data
// root of its own with busybox imported, its default network on a
// bridge and subnet of nettest's, served on a unix socket.

// underBerthdEnv marks the processes of a test's berthd.
const underBerthdEnv = "BERTH_CLI_TEST_UNDER_BERTHD"

// newBerthd starts the daemon and returns an engine whose fake is nil.
// What the test leaves behind (containers, then user networks) is
// removed through berth before the daemon stops.
func newBerthd(t *testing.T) *engine {
	t.Helper()
	labtest.Privileged(t)
	// Seen by the processes the daemon re-executes this binary as (see
	// TestMain): none of them may run the tests.
	t.Setenv(underBerthdEnv, "1")
	e := &engine{}
	e.host = daemontest.Serve(t, daemon.Options{}, []string{"sh"}, func() { e.removeAll(t) })
	return e
}

// removeAll removes every container and user network of the daemon.
func (e *engine) removeAll(t *testing.T) {
	if ids := strings.Fields(e.ok(t, "ps", "-aq")); len(ids) > 0 {
		e.ok(t, append([]string{"rm", "-f"}, ids...)...)
	}
	if nets := strings.Fields(e.ok(t, "network", "ls", "-q", "--filter", "type=custom")); len(nets) > 0 {
		e.ok(t, append([]string{"network", "rm"}, nets...)...)
	}
}

// userNetwork creates a network with a free subnet of nettest's range
// and the given flags, and returns the subnet.
func (e *engine) userNetwork(t *testing.T, name string, flags ...string) netip.Prefix {
	t.Helper()
	return nettest.Subnet(t, func(s netip.Prefix) error {
		args := append([]string{"network", "create", "--subnet", s.String()}, flags...)
		_, errOut, code := e.berth(t, "", append(args, name)...)
		if code != 0 {
			return errors.New(errOut)
		}
		return nil
	})
}

// hostAddr is the address host of subnet.
func hostAddr(subnet netip.Prefix, host byte) netip.Addr {
	a := subnet.Addr().As4()
	a[3] = host
	return netip.AddrFrom4(a)
}

// TestBerthdNetworks: two networks; a container on one with an alias, a
// static address and a MAC, connected to the other; ls, inspect, ps --filter,
// disconnect, rm and prune, against a real berthd.
func TestBerthdNetworks(t *testing.T) {
	e := newBerthd(t)
	label := labtest.Unique("test")
	front := e.userNetwork(t, "front", "--label", label)
	back := e.userNetwork(t, "back", "--label", label, "--internal")
	assert.Equal(t, "back\nfront\n", e.ok(t, "network", "ls", "--filter", "label="+label, "--format", "{{.Name}}"))
	assert.Equal(t, front.String()+" true\n",
		e.ok(t, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}} {{not .Internal}}", "front"))

	ip := hostAddr(front, 9)
	id := strings.TrimSpace(e.ok(t, "run", "-d", "--name", "web", "--network", "front", "--network-alias", "www",
		"--ip", ip.String(), "--mac-address", "02:42:0a:c9:00:09", "busybox", "sleep", "600"))
	require.Regexp(t, `^[0-9a-f]{64}$`, id)
	assert.Equal(t, ip.String()+` ["www"] 02:42:0a:c9:00:09`+"\n", e.ok(t, "inspect", "-f",
		`{{.NetworkSettings.Networks.front.IPAddress}} {{json .NetworkSettings.Networks.front.Aliases}} {{.NetworkSettings.Networks.front.MacAddress}}`, "web"))

	e.ok(t, "network", "connect", "--alias", "api", "back", "web")
	assert.Equal(t, "back front \n", e.ok(t, "inspect", "-f",
		"{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}", "web"))
	assert.Equal(t, "web\n", e.ok(t, "network", "inspect", "-f", "{{range .Containers}}{{.Name}}{{end}}", "back"))
	assert.Equal(t, id[:12]+"\n", e.ok(t, "ps", "-q", "--filter", "network=back"))
	assert.Empty(t, e.ok(t, "ps", "-q", "--filter", "network=bridge"))
	onBack := " inet " + strings.TrimSuffix(back.Addr().String(), "0") // "10.201.7."
	addrs := e.ok(t, "exec", "web", "ip", "-4", "-o", "addr")
	assert.Contains(t, addrs, " inet "+ip.String()+"/24 ", "the static address on front")
	assert.Contains(t, addrs, onBack, "an address on back")

	// Two networks at create, one in the long syntax.
	e.ok(t, "create", "--name", "both", "--network", "name=front,alias=b1", "--network", "back", "busybox")
	assert.Equal(t, `back null front ["b1"] `+"\n", e.ok(t, "inspect", "-f",
		"{{range $name, $ep := .NetworkSettings.Networks}}{{$name}} {{json $ep.Aliases}} {{end}}", "both"))
	e.ok(t, "rm", "both")

	_, errOut, code := e.berth(t, "", "network", "rm", "back")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "exit status 1")
	e.ok(t, "network", "disconnect", "back", "web")
	assert.NotContains(t, e.ok(t, "exec", "web", "ip", "-4", "-o", "addr"), onBack)
	assert.Equal(t, "back\n", e.ok(t, "network", "rm", "back"))

	e.ok(t, "rm", "-f", "web")
	assert.Equal(t, "Deleted Networks:\nfront\n\n", e.ok(t, "network", "prune", "-f", "--filter", "label="+label))
	assert.Empty(t, e.ok(t, "network", "ls", "-q", "--filter", "type=custom"))
}

// TestBerthdHardening: the berth CLI's --ulimit, --oom-score-adj,
// --sysctl and --group-add act inside the container; what the daemon
// does not allow is refused with a message that names it (the docker
// CLI refuses some of these itself, berth leaves them to berthd).
func TestBerthdHardening(t *testing.T) {
	e := newBerthd(t)
	out := e.ok(t, "run", "--rm", "--ulimit", "nofile=64:128", "--oom-score-adj", "200",
		"--sysctl", "kernel.msgmax=999", "--sysctl", "net.ipv4.ip_forward=1", "--group-add", "tty", "--group-add", "77",
		"busybox", "sh", "-c", "ulimit -Sn; ulimit -Hn; cat /proc/self/oom_score_adj /proc/sys/kernel/msgmax /proc/sys/net/ipv4/ip_forward; id -G")
	assert.Equal(t, "64\n128\n200\n999\n1\n0 5 77\n", out)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sysctl", "vm.swappiness=1"}, `sysctl "vm.swappiness" is not in a separate kernel namespace`},
		{[]string{"--sysctl", "kernel.hostname=x"}, `sysctl "kernel.hostname" is not allowed as it conflicts with the container's hostname`},
		{[]string{"--network", "host", "--sysctl", "net.core.somaxconn=1"}, `sysctl "net.core.somaxconn" is not allowed in the host's network namespace`},
		{[]string{"--cgroupns", "weird"}, "invalid cgroup namespace mode: weird"},
		{[]string{"--oom-score-adj", "-1001"}, "Invalid value -1001, range for oom score adj is [-1000, 1000]"},
	} {
		_, errOut, code := e.berth(t, "", append(append([]string{"create"}, tc.args...), "busybox", "true")...)
		assert.NotEqual(t, 0, code, "%v", tc.args)
		assert.Contains(t, errOut, tc.want, "%v", tc.args)
	}
	assert.Empty(t, strings.TrimSpace(e.ok(t, "ps", "-aq")), "nothing was created")
}
