package dns

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// HostPaths are the host's files that a container's are made from.
type HostPaths struct {
	Hosts      string
	ResolvConf string
}

// DefaultHostPaths are the host's own.
var DefaultHostPaths = HostPaths{Hosts: "/etc/hosts", ResolvConf: "/etc/resolv.conf"}

// FallbackNameservers are what a container on the default bridge gets
// when the host's resolv.conf names no nameserver it can reach (only
// loopback ones, such as systemd-resolved's 127.0.0.53): Docker's.
var FallbackNameservers = []netip.Addr{netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("8.8.4.4")}

// Container is what a container's files say about the container.
type Container struct {
	Hostname string
	// Addrs are the container's addresses, each written with its
	// hostname in /etc/hosts.
	Addrs []netip.Addr
	// HostNetwork: --net host, the host's /etc/hosts and resolv.conf.
	HostNetwork bool
	// Nameserver is the embedded DNS server's address, on a user
	// network (its gateway): the only nameserver of the container's
	// resolv.conf. Zero on the default bridge, which has none.
	Nameserver netip.Addr
	// HostGateway is the address --add-host NAME:host-gateway stands
	// for: the host's, on the default bridge (its gateway).
	HostGateway netip.Addr
}

// Files are the contents of a container's /etc/hosts, /etc/resolv.conf
// and /etc/hostname.
type Files struct {
	Hosts, ResolvConf, Hostname []byte
}

// Files makes the files of container ct from c and the host's files.
func (c Config) Files(ct Container, host HostPaths) (Files, error) {
	if err := c.Validate(); err != nil {
		return Files{}, err
	}
	hosts, err := c.hosts(ct, host.Hosts)
	if err != nil {
		return Files{}, err
	}
	rc, err := ReadResolvConf(host.ResolvConf)
	if err != nil {
		return Files{}, err
	}
	return Files{
		Hosts:      hosts,
		ResolvConf: c.resolvConf(ct, rc, host.ResolvConf),
		Hostname:   []byte(ct.Hostname + "\n"),
	}, nil
}

// defaultHosts are the lines every container's /etc/hosts starts with,
// as Docker writes them: localhost, and the IPv6 names that a Debian
// host's /etc/hosts has.
const defaultHosts = "127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"ff00::0\tip6-mcastprefix\n" +
	"ff02::1\tip6-allnodes\n" +
	"ff02::2\tip6-allrouters\n"

// hosts is /etc/hosts: the defaults (or the host's, with --net host),
// the --add-host lines, and the container's own addresses with its
// hostname, last. Names of other containers are not here: on a user
// network the embedded server answers for them, and sees them come and
// go, which a file written at start cannot.
func (c Config) hosts(ct Container, hostFile string) ([]byte, error) {
	var b bytes.Buffer
	if ct.HostNetwork {
		data, err := os.ReadFile(hostFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading %s: %w", hostFile, err)
		}
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString(defaultHosts)
	}
	for _, h := range c.ExtraHosts {
		ip := h.IP
		if h.HostGateway {
			if !ct.HostGateway.IsValid() {
				return nil, fmt.Errorf("extra host %s:%s: no host gateway address known", h.Name, HostGatewayName)
			}
			ip = ct.HostGateway
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, h.Name)
	}
	if !ct.HostNetwork {
		for _, a := range ct.Addrs {
			fmt.Fprintf(&b, "%s\t%s\n", a, hostNames(ct.Hostname))
		}
	}
	return b.Bytes(), nil
}

// hostNames are the names of a container's own lines in /etc/hosts: its
// hostname, and if that is a full name (with dots), the short one after
// it, as Docker writes them.
func hostNames(hostname string) string {
	if short, _, ok := strings.Cut(hostname, "."); ok && short != "" {
		return hostname + " " + short
	}
	return hostname
}

// UpdateHosts makes the container's own lines of the /etc/hosts data
// (its addresses with its hostname, as Files writes them) be addrs:
// the lines of addresses it no longer has go, lines for new ones are
// added at the end, and every other line stays, the container's own
// edits included. For a container that is connected to a network, or
// disconnected, while it runs, as Docker updates it.
func UpdateHosts(data []byte, hostname string, addrs []netip.Addr) []byte {
	names := hostNames(hostname)
	seen := map[netip.Addr]bool{}
	var b bytes.Buffer
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.Join(f[1:], " ") == names {
			if a, err := netip.ParseAddr(f[0]); err == nil {
				if !slices.Contains(addrs, a) || seen[a] {
					continue
				}
				seen[a] = true
			}
		}
		b.WriteString(line)
	}
	if b.Len() > 0 && !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	for _, a := range addrs {
		if !seen[a] {
			fmt.Fprintf(&b, "%s\t%s\n", a, names)
		}
	}
	return b.Bytes()
}

// resolvConf is /etc/resolv.conf: the host's, with --dns, --dns-search
// and --dns-option each replacing the host's line, then
//
//   - with --net host: as it is;
//   - on a user network: the embedded server as the only nameserver,
//     and ndots:0 unless an ndots option is given (Docker's);
//   - otherwise (the default bridge, none): the host's nameservers
//     but the loopback ones, which would be the container's own
//     loopback, and the IPv6 ones (berth's networks are IPv4). If none
//     is left, FallbackNameservers.
func (c Config) resolvConf(ct Container, rc ResolvConf, from string) []byte {
	how := "host network"
	if len(c.Nameservers) > 0 {
		rc.Nameservers = c.Nameservers
	}
	if len(c.Search) > 0 {
		// "--dns-search ." asks for no search domain at all.
		rc.Search = slices.DeleteFunc(slices.Clone(c.Search), func(s string) bool { return s == "." })
	}
	if len(c.Options) > 0 {
		rc.Options = c.Options
	}
	switch {
	case ct.HostNetwork:
	case ct.Nameserver.IsValid():
		how = fmt.Sprintf("embedded DNS server; it forwards to %v", rc.Nameservers)
		rc.Nameservers = []netip.Addr{ct.Nameserver}
		if !slices.ContainsFunc(rc.Options, func(o string) bool { return strings.HasPrefix(o, "ndots:") }) {
			rc.Options = append(slices.Clone(rc.Options), "ndots:0")
		}
	default:
		how = "default bridge: the nameservers of --dns"
		if len(c.Nameservers) == 0 {
			how = "default bridge: loopback and IPv6 nameservers left out"
			rc.Nameservers = slices.DeleteFunc(slices.Clone(rc.Nameservers), func(a netip.Addr) bool {
				return a.IsLoopback() || !a.Is4()
			})
		}
		if len(rc.Nameservers) == 0 {
			how = "default bridge: no usable nameserver on the host, fallback ones"
			rc.Nameservers = FallbackNameservers
		}
	}
	var b bytes.Buffer
	for _, a := range rc.Nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", a)
	}
	if len(rc.Search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.Search, " "))
	}
	if len(rc.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.Options, " "))
	}
	fmt.Fprintf(&b, "\n# Written by berth from the host's %s (%s).\n", from, how)
	return b.Bytes()
}

// File names in the container's directory, and where they are mounted.
var fileTargets = []struct{ name, target string }{
	{"hostname", "/etc/hostname"},
	{"hosts", "/etc/hosts"},
	{"resolv.conf", "/etc/resolv.conf"},
}

// Write writes the files into dir (the container's directory on the
// host) and returns the bind mounts that put them at /etc/hostname,
// /etc/hosts and /etc/resolv.conf in the container. Bind mounts, not
// copies in the root filesystem: the image stays untouched, a change the
// container makes goes to dir, and a commit of the container does not
// capture them.
func (f Files) Write(dir string) ([]rootfs.Volume, error) {
	contents := [][]byte{f.Hostname, f.Hosts, f.ResolvConf}
	vols := Volumes(dir)
	for i, v := range vols {
		// A new file each time, not the last start's truncated: ext4
		// flushes a file that was truncated and written again to the
		// disk when it is closed (auto_da_alloc), 0.3 ms or more on
		// the path of every start. Nothing has the old one mounted:
		// the container is not running.
		if err := os.Remove(v.Source); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("writing the container's %s: %w", v.Target, err)
		}
		if err := os.WriteFile(v.Source, contents[i], 0o644); err != nil {
			return nil, fmt.Errorf("writing the container's %s: %w", v.Target, err)
		}
	}
	return vols, nil
}

// Volumes are the bind mounts of the files that Write puts in dir: what
// mounts them in the container, for whoever mounts a container's root
// without starting it (docker cp of a stopped container).
func Volumes(dir string) []rootfs.Volume {
	vols := make([]rootfs.Volume, len(fileTargets))
	for i, ft := range fileTargets {
		vols[i] = rootfs.Volume{Source: filepath.Join(dir, ft.name), Target: ft.target}
	}
	return vols
}

// Paths are where Files.Write puts the files in dir, as docker inspect
// shows them (HostnamePath, HostsPath, ResolvConfPath).
func Paths(dir string) (hostname, hosts, resolvConf string) {
	v := Volumes(dir)
	return v[0].Source, v[1].Source, v[2].Source
}

// MountPointLayer returns a directory under root, made on first use,
// that holds empty etc/hostname, etc/hosts and etc/resolv.conf: a layer
// to stack on top of a container's image (chapter 04's lower layers),
// as Docker's init layer. The bind mounts of Files.Write need a file to
// mount on; an image without one would get it made in the container's
// writable layer, and docker diff and docker commit would show it as the
// container's change. Here it is not the container's: a lower layer is
// never written to, and the mount covers it.
func MountPointLayer(root string) (string, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("mount point layer: %w", err)
	}
	dir := filepath.Join(root, "dns", "mountpoints")
	if _, err := os.Stat(filepath.Join(dir, "etc")); err == nil {
		return dir, nil
	}
	// Made beside and renamed into place, so that a layer is complete
	// or absent, whoever makes it at the same moment.
	if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
		return "", fmt.Errorf("mount point layer: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".mountpoints-")
	if err != nil {
		return "", fmt.Errorf("mount point layer: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	err = os.Chmod(tmp, 0o755)
	if err == nil {
		err = os.Mkdir(filepath.Join(tmp, "etc"), 0o755)
	}
	for _, ft := range fileTargets {
		if err == nil {
			err = os.WriteFile(filepath.Join(tmp, ft.target), nil, 0o644)
		}
	}
	if err == nil {
		err = os.Chmod(filepath.Join(tmp, "etc"), 0o755) // whatever the umask
	}
	if err != nil {
		return "", fmt.Errorf("mount point layer: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "etc")); statErr == nil {
			return dir, nil // made by another at the same moment
		}
		return "", fmt.Errorf("mount point layer: %w", err)
	}
	return dir, nil
}
