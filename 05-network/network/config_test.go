package network

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

func TestParsePublish(t *testing.T) {
	all := netip.Addr{}
	lo := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		in   string
		want PortMapping
		str  string
	}{
		{"80", PortMapping{all, 0, 80, "tcp"}, "0.0.0.0:0->80/tcp"},
		{"8080:80", PortMapping{all, 8080, 80, "tcp"}, "0.0.0.0:8080->80/tcp"},
		{"127.0.0.1:8080:80", PortMapping{lo, 8080, 80, "tcp"}, "127.0.0.1:8080->80/tcp"},
		{"127.0.0.1::80", PortMapping{lo, 0, 80, "tcp"}, "127.0.0.1:0->80/tcp"},
		{"53:53/udp", PortMapping{all, 53, 53, "udp"}, "0.0.0.0:53->53/udp"},
		{"8080:80/TCP", PortMapping{all, 8080, 80, "tcp"}, "0.0.0.0:8080->80/tcp"},
		{"65535:1", PortMapping{all, 65535, 1, "tcp"}, "0.0.0.0:65535->1/tcp"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePublish(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.str, got.String())
		})
	}
}

func TestS38_PublishZeroAddressMeansEveryAddressOfTheHost(t *testing.T) {
	m, err := ParsePublish("0.0.0.0:8888:80")
	require.NoError(t, err)
	assert.Equal(t, uint16(8888), m.HostPort)
	assert.Equal(t, uint16(80), m.ContainerPort)
	assert.Equal(t, "tcp", m.Protocol)
	assert.True(t, m.AllAddresses())
	assert.Equal(t, "0.0.0.0:8888->80/tcp", m.String())
	// The same mapping as 8888:80, and it clashes with any other use of
	// host port 8888/tcp.
	plain, err := ParsePublish("8888:80")
	require.NoError(t, err)
	assert.True(t, plain.AllAddresses())
	assert.True(t, m.conflicts(PortMapping{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8888, ContainerPort: 81, Protocol: "tcp"}))
	assert.False(t, m.conflicts(PortMapping{HostPort: 8888, ContainerPort: 80, Protocol: "udp"}))
}

func TestParsePublishRejectsBadSpecs(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"99999:80", "host port 99999: out of range 1-65535"},
		{"8080:80000", "container port 80000: out of range"},
		{"abc", `container port "abc": not a number`},
		{"", `container port "": not a number`},
		{"8080:0", "container port 0: out of range"},
		{"-1:80", `host port "-1": not a number`},
		{"8080:80/sctp", `protocol "sctp": want tcp or udp`},
		{"1.2.3.4:5:6:7", "want [HOSTIP:][HOSTPORT:]CONTAINERPORT"},
		{"[::1]:80:80", "IPv6 host addresses are not supported"},
		{"localhost:80:80", `host IP "localhost": not an IPv4 address`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParsePublish(tc.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
			assert.Contains(t, err.Error(), `publish "`+tc.in+`"`, "the error names the value")
		})
	}
}

func parseFlags(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	var c Config
	fs := namespace.FlagSet("run")
	c.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// The chapter programs' defaults are the course's, not the engine's: a
// learner may run berthd (berth0, 10.88.0.0/16) beside them.
func TestFlagsHaveTheCoursesDefaultsNotTheEngines(t *testing.T) {
	c, err := parseFlags(t)
	require.NoError(t, err)
	assert.Equal(t, ModeBridge, c.Mode)
	assert.Equal(t, "course0", c.Bridge)
	assert.Equal(t, netip.MustParsePrefix("10.77.0.0/16"), c.Subnet)
	assert.Empty(t, c.Publish)
	assert.Equal(t, netip.MustParseAddr("10.77.0.1"), Gateway(c.Subnet))

	engine := NewConfig()
	assert.Equal(t, "berth0", engine.Bridge, "berthd's default bridge")
	assert.Equal(t, netip.MustParsePrefix("10.88.0.0/16"), engine.Subnet, "berthd's default subnet")
	assert.NotEqual(t, engine.Bridge, c.Bridge)
	assert.False(t, engine.Subnet.Overlaps(c.Subnet), "the course's subnet overlaps the engine's")
}

func TestFlagsParse(t *testing.T) {
	c, err := parseFlags(t, "--net", "bridge", "-p", "80", "-p", "127.0.0.1:8080:81", "--publish", "53:53/udp",
		"--bridge", "br-test", "--subnet", "10.9.0.0/24")
	require.NoError(t, err)
	assert.Equal(t, "br-test", c.Bridge)
	assert.Equal(t, netip.MustParsePrefix("10.9.0.0/24"), c.Subnet)
	require.Len(t, c.Publish, 3)
	assert.Equal(t, "127.0.0.1:8080->81/tcp", c.Publish[1].String())
	assert.Equal(t, "udp", c.Publish[2].Protocol)

	for arg, mode := range map[string]Mode{"host": ModeHost, "none": ModeNone, "default": ModeBridge} {
		c, err := parseFlags(t, "--network", arg)
		require.NoError(t, err)
		assert.Equal(t, mode, c.Mode)
	}
}

func TestBadFlagsAreRejected(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--net", "bo/gus"}, `network "bo/gus": want bridge, host, none or the name of a network`},
		{[]string{"--net", "host", "--net", "mynet"}, "--net host cannot be combined with networks (--network mynet)"},
		{[]string{"-p", "99999:80"}, "host port 99999: out of range 1-65535"},
		{[]string{"-p", "abc"}, `container port "abc": not a number`},
		{[]string{"--subnet", "10.9.0.5/16"}, "not a network address (did you mean 10.9.0.0/16?)"},
		{[]string{"--subnet", "10.9.0.0/31"}, "too small"},
		{[]string{"--subnet", "fd00::/64"}, "only IPv4"},
		{[]string{"--subnet", "10.9.0.0"}, "not in CIDR notation"},
		{[]string{"--bridge", "a-bridge-name-too-long"}, "longer than 15 bytes"},
		{[]string{"--bridge", "a/b"}, "must not contain"},
		{[]string{"-p", "8080:80", "-p", "8080:81"}, "host port 8080/tcp is already published by -p 0.0.0.0:8080->80/tcp"},
		{[]string{"-p", "127.0.0.1:8080:80", "-p", "8080:81"}, "host port 8080/tcp is already published"},
		{[]string{"--net", "host", "-p", "80"}, "publishing ports (-p 0.0.0.0:0->80/tcp) needs --net bridge, not --net host"},
		{[]string{"--net", "none", "-p", "8080:80"}, "needs --net bridge"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseFlags(t, tc.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestDifferentAddressesOrProtocolsMayShareAPort(t *testing.T) {
	_, err := parseFlags(t, "-p", "127.0.0.1:8080:80", "-p", "127.0.0.2:8080:81", "-p", "8080:80/udp", "-p", "80", "-p", "80")
	assert.NoError(t, err)
}
