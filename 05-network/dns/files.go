package dns

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// Config is a container's name-resolution settings: docker run's --dns,
// --dns-search, --dns-option and --add-host. The zero value uses the
// host's settings. It travels to the process that starts the container
// as JSON.
type Config struct {
	Nameservers []netip.Addr `json:"nameservers,omitempty"`
	Search      []string     `json:"search,omitempty"`
	Options     []string     `json:"options,omitempty"`
	ExtraHosts  []Host       `json:"extraHosts,omitempty"`
	// Embedded says that a Server (the daemon's) answers on the
	// gateway of each user network: a container on one gets it as its
	// nameserver. Not a flag: chapter 05's program runs no server.
	Embedded bool `json:"embedded,omitempty"`
}

// Host is an extra line of the container's /etc/hosts (--add-host).
type Host struct {
	Name string `json:"name"`
	// IP is the address, unless HostGateway: then the host's address
	// on the container's network (Container.HostGateway), known when
	// the files are made.
	IP          netip.Addr `json:"ip,omitzero"`
	HostGateway bool       `json:"hostGateway,omitempty"`
}

// HostGatewayName is the special address of --add-host NAME:host-gateway.
const HostGatewayName = "host-gateway"

// ParseHost parses an --add-host value: NAME:IP as the docker client
// sends it, or NAME=IP (Docker also takes that form). IP is an IPv4 or
// IPv6 address, an IPv6 one possibly in brackets, or host-gateway.
func ParseHost(s string) (Host, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok || name == "" || ip == "" {
		return Host{}, fmt.Errorf("extra host %q: want NAME:IP", s)
	}
	if strings.ContainsAny(name, " \t\n#") {
		return Host{}, fmt.Errorf("extra host %q: invalid name %q", s, name)
	}
	if ip == HostGatewayName {
		return Host{Name: name, HostGateway: true}, nil
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]"))
	if err != nil || addr.Zone() != "" {
		return Host{}, fmt.Errorf("extra host %q: invalid IP address %q", s, ip)
	}
	return Host{Name: name, IP: addr}, nil
}

// AddFlags registers chapter 05's name-resolution flags on fs.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.Func("dns", "a nameserver for the container's resolv.conf (repeatable)", func(s string) error {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("nameserver %q: not an IP address", s)
		}
		c.Nameservers = append(c.Nameservers, a)
		return nil
	})
	fs.Func("dns-search", "a search domain for the container's resolv.conf (repeatable)", func(s string) error {
		c.Search = append(c.Search, s)
		return nil
	})
	fs.Func("dns-option", "an option for the container's resolv.conf (repeatable)", func(s string) error {
		c.Options = append(c.Options, s)
		return nil
	})
	fs.Func("add-host", "a line of the container's /etc/hosts: NAME:IP (repeatable)", func(s string) error {
		h, err := ParseHost(s)
		c.ExtraHosts = append(c.ExtraHosts, h)
		return err
	})
}

// Validate reports settings that would make a broken resolv.conf.
func (c Config) Validate() error {
	for _, s := range c.Search {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			return fmt.Errorf("search domain %q: invalid", s)
		}
	}
	for _, o := range c.Options {
		if o == "" || strings.ContainsAny(o, " \t\n") {
			return fmt.Errorf("resolver option %q: invalid", o)
		}
	}
	for _, h := range c.ExtraHosts {
		if h.Name == "" || (!h.IP.IsValid() && !h.HostGateway) {
			return fmt.Errorf("extra host %q: no name or no address", h.Name)
		}
	}
	return nil
}

// ResolvConf is what a resolv.conf file says, the parts a container's
// resolver uses.
type ResolvConf struct {
	Nameservers []netip.Addr
	Search      []string
	Options     []string
}

// ParseResolvConf reads a resolv.conf (resolv.conf(5)): nameserver
// lines, the last search (or domain) line, and every options line.
// Comments, unknown lines and nameservers that are not IP addresses are
// skipped, as the C library's resolver skips them.
func ParseResolvConf(data []byte) ResolvConf {
	var rc ResolvConf
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil {
				rc.Nameservers = append(rc.Nameservers, a)
			}
		case "search", "domain":
			rc.Search = f[1:]
		case "options":
			rc.Options = append(rc.Options, f[1:]...)
		}
	}
	return rc
}

// ReadResolvConf reads the resolv.conf at path. A missing file is an
// empty one, as for the C library.
func ReadResolvConf(path string) (ResolvConf, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return ResolvConf{}, fmt.Errorf("reading %s: %w", path, err)
	}
	return ParseResolvConf(data), nil
}

// Upstreams are rc's nameservers on port 53: what the embedded server
// forwards to. The loopback ones work too, since the server runs in the
// host's network namespace.
func (rc ResolvConf) Upstreams() []netip.AddrPort {
	out := make([]netip.AddrPort, len(rc.Nameservers))
	for i, a := range rc.Nameservers {
		out[i] = netip.AddrPortFrom(a, Port)
	}
	return out
}
