package dns

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// The host's files are fakes in testdata: resolv.conf as a DHCP client
// writes it, resolv.conf.stub as systemd-resolved's (a loopback
// nameserver only), and a Debian hosts.
var (
	hostPaths = HostPaths{Hosts: "testdata/hosts", ResolvConf: "testdata/resolv.conf"}
	stubPaths = HostPaths{Hosts: "testdata/hosts", ResolvConf: "testdata/resolv.conf.stub"}
)

func TestParseHost(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Host
		err  string
	}{
		{in: "a:1.2.3.4", want: Host{Name: "a", IP: netip.MustParseAddr("1.2.3.4")}},
		{in: "a=1.2.3.4", want: Host{Name: "a", IP: netip.MustParseAddr("1.2.3.4")}},
		{in: "v6:::1", want: Host{Name: "v6", IP: netip.MustParseAddr("::1")}},
		{in: "v6=[2001:db8::1]", want: Host{Name: "v6", IP: netip.MustParseAddr("2001:db8::1")}},
		{in: "v6:[2001:db8::1]", want: Host{Name: "v6", IP: netip.MustParseAddr("2001:db8::1")}},
		{in: "gw:host-gateway", want: Host{Name: "gw", HostGateway: true}},
		{in: "a.example.com:10.0.0.1", want: Host{Name: "a.example.com", IP: netip.MustParseAddr("10.0.0.1")}},
		{in: "a", err: "want NAME:IP"},
		{in: ":1.2.3.4", err: "want NAME:IP"},
		{in: "a:", err: "want NAME:IP"},
		{in: "a:1.2.3", err: "invalid IP address"},
		{in: "a:localhost", err: "invalid IP address"},
		{in: "a b:1.2.3.4", err: "invalid name"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			h, err := ParseHost(tc.in)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, h)
		})
	}
}

func TestParseResolvConf(t *testing.T) {
	rc, err := ReadResolvConf("testdata/resolv.conf")
	require.NoError(t, err)
	assert.Equal(t, ResolvConf{
		Nameservers: []netip.Addr{
			netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("127.0.0.1"),
			netip.MustParseAddr("::1"), netip.MustParseAddr("2001:db8::53"),
		},
		Search:  []string{"lan", "example.com"},
		Options: []string{"edns0", "timeout:2"},
	}, rc)
	assert.Equal(t, "127.0.0.1:53", rc.Upstreams()[1].String(), "loopback nameservers are upstreams too: the server runs on the host")

	rc, err = ReadResolvConf("testdata/no-such-file")
	require.NoError(t, err, "no resolv.conf: an empty one")
	assert.Empty(t, rc.Nameservers)
}

func TestHosts(t *testing.T) {
	const defaults = "127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"ff00::0\tip6-mcastprefix\n" +
		"ff02::1\tip6-allnodes\n" +
		"ff02::2\tip6-allrouters\n"
	hostFile, err := os.ReadFile("testdata/hosts")
	require.NoError(t, err)
	extra := []Host{{Name: "a", IP: netip.MustParseAddr("1.2.3.4")}, {Name: "gw", HostGateway: true}}
	gw := netip.MustParseAddr("10.88.0.1")
	for _, tc := range []struct {
		name  string
		cfg   Config
		ct    Container
		want  string
		error string
	}{
		{"bridge", Config{}, Container{Hostname: "0123456789ab", Addrs: []netip.Addr{netip.MustParseAddr("10.88.0.2")}},
			defaults + "10.88.0.2\t0123456789ab\n", ""},
		{"bridge, --add-host", Config{ExtraHosts: extra}, Container{Hostname: "web", Addrs: []netip.Addr{netip.MustParseAddr("10.88.0.2")}, HostGateway: gw},
			defaults + "1.2.3.4\ta\n10.88.0.1\tgw\n10.88.0.2\tweb\n", ""},
		{"none: no address", Config{}, Container{Hostname: "web"}, defaults, ""},
		{"a full name, and the short one", Config{}, Container{Hostname: "web.example.test", Addrs: []netip.Addr{netip.MustParseAddr("10.88.0.2"), netip.MustParseAddr("10.89.0.2")}},
			defaults + "10.88.0.2\tweb.example.test web\n10.89.0.2\tweb.example.test web\n", ""},
		{"host network: the host's", Config{ExtraHosts: extra[:1]}, Container{Hostname: "web", HostNetwork: true, Addrs: []netip.Addr{netip.MustParseAddr("10.88.0.2")}},
			string(hostFile) + "\n1.2.3.4\ta\n", ""},
		{"host-gateway unknown", Config{ExtraHosts: extra}, Container{Hostname: "web"}, "", "no host gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := tc.cfg.Files(tc.ct, hostPaths)
			if tc.error != "" {
				assert.ErrorContains(t, err, tc.error)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(f.Hosts))
			assert.Equal(t, tc.ct.Hostname+"\n", string(f.Hostname))
		})
	}
}

func TestResolvConf(t *testing.T) {
	ns := netip.MustParseAddr
	bridge := Container{Hostname: "web", Addrs: []netip.Addr{ns("10.88.0.2")}}
	user := Container{Hostname: "web", Addrs: []netip.Addr{ns("10.89.0.2")}, Nameserver: ns("10.89.0.1")}
	for _, tc := range []struct {
		name string
		cfg  Config
		ct   Container
		host HostPaths
		want string // the file without its closing comment
	}{
		{"default bridge: loopback and IPv6 nameservers left out", Config{}, bridge, hostPaths,
			"nameserver 192.168.1.1\nsearch lan example.com\noptions edns0 timeout:2\n"},
		{"default bridge, only a loopback nameserver: fallback", Config{}, bridge, stubPaths,
			"nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch .\noptions edns0 trust-ad\n"},
		{"--dns, --dns-search, --dns-option replace the host's", Config{
			Nameservers: []netip.Addr{ns("127.0.0.53"), ns("10.0.0.1")}, Search: []string{"example.test"}, Options: []string{"ndots:2"},
		}, bridge, hostPaths,
			"nameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch example.test\noptions ndots:2\n"},
		{"--dns-search . : no search domain", Config{Search: []string{"."}}, bridge, hostPaths,
			"nameserver 192.168.1.1\noptions edns0 timeout:2\n"},
		{"user network: the embedded server, ndots:0", Config{}, user, hostPaths,
			"nameserver 10.89.0.1\nsearch lan example.com\noptions edns0 timeout:2 ndots:0\n"},
		{"user network, --dns: still the embedded server", Config{Nameservers: []netip.Addr{ns("10.0.0.1")}, Options: []string{"ndots:3"}}, user, hostPaths,
			"nameserver 10.89.0.1\nsearch lan example.com\noptions ndots:3\n"},
		{"host network: the host's, loopback included", Config{}, Container{Hostname: "web", HostNetwork: true}, stubPaths,
			"nameserver 127.0.0.53\nsearch .\noptions edns0 trust-ad\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := tc.cfg.Files(tc.ct, tc.host)
			require.NoError(t, err)
			body, comment, ok := strings.Cut(string(f.ResolvConf), "\n#")
			require.True(t, ok, "a closing comment says where the file comes from")
			assert.Equal(t, tc.want, body)
			assert.Contains(t, comment, tc.host.ResolvConf)
		})
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	f, err := Config{}.Files(Container{Hostname: "web"}, hostPaths)
	require.NoError(t, err)
	vols, err := f.Write(dir)
	require.NoError(t, err)
	assert.Equal(t, []rootfs.Volume{
		{Source: filepath.Join(dir, "hostname"), Target: "/etc/hostname"},
		{Source: filepath.Join(dir, "hosts"), Target: "/etc/hosts"},
		{Source: filepath.Join(dir, "resolv.conf"), Target: "/etc/resolv.conf"},
	}, vols)
	for i, want := range [][]byte{f.Hostname, f.Hosts, f.ResolvConf} {
		got, err := os.ReadFile(vols[i].Source)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	}
}

func TestMountPointLayer(t *testing.T) {
	root := t.TempDir()
	dirs := make(chan string, 4)
	for range cap(dirs) {
		go func() {
			dir, err := MountPointLayer(root)
			assert.NoError(t, err)
			dirs <- dir
		}()
	}
	want := filepath.Join(root, "dns", "mountpoints")
	for range cap(dirs) {
		assert.Equal(t, want, <-dirs, "made once, whoever asks at the same moment")
	}
	for _, name := range []string{"etc/hostname", "etc/hosts", "etc/resolv.conf"} {
		fi, err := os.Stat(filepath.Join(want, name))
		require.NoError(t, err)
		assert.True(t, fi.Mode().IsRegular() && fi.Size() == 0, name)
	}
	entries, err := os.ReadDir(filepath.Join(root, "dns"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary directory left")
}

func TestUpdateHosts(t *testing.T) {
	ip := netip.MustParseAddr
	const start = "127.0.0.1\tlocalhost\n1.2.3.4\ta\n10.88.0.2\tweb\n# the user's\n10.9.9.9\tweb-not\n"
	for _, tc := range []struct {
		name     string
		data     string
		hostname string
		addrs    []netip.Addr
		want     string
	}{
		{"connected: a line added", start, "web", []netip.Addr{ip("10.88.0.2"), ip("10.89.0.5")},
			start + "10.89.0.5\tweb\n"},
		{"disconnected: its line gone", start + "10.89.0.5\tweb\n", "web", []netip.Addr{ip("10.88.0.2")}, start},
		{"nothing changed", start, "web", []netip.Addr{ip("10.88.0.2")}, start},
		{"the last address gone", start, "web", nil,
			"127.0.0.1\tlocalhost\n1.2.3.4\ta\n# the user's\n10.9.9.9\tweb-not\n"},
		{"a full hostname", "10.88.0.2\tweb.example.test web\n", "web.example.test", []netip.Addr{ip("10.89.0.5")},
			"10.89.0.5\tweb.example.test web\n"},
		{"no final newline", "127.0.0.1\tlocalhost", "web", []netip.Addr{ip("10.88.0.2")},
			"127.0.0.1\tlocalhost\n10.88.0.2\tweb\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(UpdateHosts([]byte(tc.data), tc.hostname, tc.addrs)))
		})
	}
}
