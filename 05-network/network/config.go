package network

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Mode is how a container is networked (docker run --net).
type Mode string

const (
	// ModeBridge gives the container its own network namespace with an
	// eth0 on the host's bridge, an IP address of the bridge's subnet and
	// a route out through the host. Docker's default.
	ModeBridge Mode = "bridge"
	// ModeHost leaves the container in the host's network namespace: it
	// sees and binds the host's interfaces, and nothing is isolated.
	ModeHost Mode = "host"
	// ModeNone gives the container its own network namespace with only
	// lo in it: no way in or out.
	ModeNone Mode = "none"
)

// Defaults of the engine (berthd), as Docker names them for docker0 and
// as podman and CNI use for their bridge: a /16 from the private 10/8
// range leaves room for 65533 containers.
const (
	DefaultBridge = "berth0"
	DefaultSubnet = "10.88.0.0/16"
)

// The course's defaults, the chapter programs' flags (AddFlags): a bridge
// and a subnet of their own. A learner who also runs berthd
// (scripts/setup) has two allocators, each with its own state; on one
// bridge and subnet they would hand out the same address twice.
const (
	CourseBridge = "course0"
	CourseSubnet = "10.77.0.0/16"
)

// Config is a container's network configuration: the chapter 05 flags.
// The zero value is not ready to use; NewConfig or AddFlags fill in the
// defaults.
type Config struct {
	Mode    Mode
	Bridge  string       // the bridge's device name, at most 15 bytes
	Subnet  netip.Prefix // the bridge's subnet; its first address is the gateway
	Publish []PortMapping
	// Networks are the networks of a bridge-mode container (--network
	// NAME); none means the default bridge alone.
	Networks []Attachment `json:",omitempty"`
	// Recorded says that the networks are not Networks but the
	// container's record under the root (SetAttachments), which a
	// daemon changes between starts (docker network connect).
	Recorded bool `json:",omitempty"`
}

// NewConfig returns the engine's default configuration: bridge mode on
// berth0 with 10.88.0.0/16, nothing published. The chapter programs'
// flags start from the course's bridge and subnet instead (AddFlags).
func NewConfig() Config {
	return Config{Mode: ModeBridge, Bridge: DefaultBridge, Subnet: netip.MustParsePrefix(DefaultSubnet)}
}

// AddFlags registers the chapter 05 flags on fs and sets c to the
// course's defaults first (CourseBridge, CourseSubnet). Every value is
// checked as it is parsed, so a bad one is reported before anything is
// created.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	*c = NewConfig()
	c.Bridge, c.Subnet = CourseBridge, netip.MustParsePrefix(CourseSubnet)
	mode := func(s string) (err error) {
		if m, err := ParseMode(s); err == nil {
			c.Mode = m
			return nil
		}
		if err := validNetworkRef(s); err != nil {
			return err
		}
		c.Networks = append(c.Networks, Attachment{Network: s})
		return nil
	}
	fs.Func("net", "network mode: bridge, host, none, or a network's name (repeatable; default bridge)", mode)
	fs.Func("network", "same as --net", mode)
	publish := func(s string) error {
		m, err := parsePublish(s) // the flag package quotes s itself
		if err != nil {
			return err
		}
		c.Publish = append(c.Publish, m)
		return nil
	}
	const usage = "publish a container port on the host: [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp] (repeatable)"
	fs.Func("p", usage, publish)
	fs.Func("publish", usage, publish)
	fs.Func("bridge", "the bridge device for --net bridge (default "+CourseBridge+")", func(s string) error {
		if err := validBridgeName(s); err != nil {
			return err
		}
		c.Bridge = s
		return nil
	})
	fs.Func("subnet", "the bridge's subnet, CIDR (default "+CourseSubnet+")", func(s string) (err error) {
		c.Subnet, err = ParseSubnet(s)
		return err
	})
}

// ParseMode parses a --net value. "default" is Docker's other name for
// bridge.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case ModeBridge, ModeHost, ModeNone:
		return Mode(s), nil
	case "default":
		return ModeBridge, nil
	}
	return "", fmt.Errorf("network mode %q: want bridge, host or none", s)
}

func validNetworkRef(s string) error {
	if !validName.MatchString(s) {
		return fmt.Errorf("network %q: want bridge, host, none or the name of a network", s)
	}
	return nil
}

// ParseSubnet parses an IPv4 subnet in CIDR notation. It must be the
// network's own address (10.88.0.0/16, not 10.88.0.5/16) and leave room
// for a gateway and at least one container: /30 at the smallest.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("subnet %q: not in CIDR notation (like %s)", s, DefaultSubnet)
	}
	return p, checkSubnet(p)
}

func checkSubnet(p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().Is4() {
		return fmt.Errorf("subnet %s: only IPv4 subnets are supported", p)
	}
	if p.Masked() != p {
		return fmt.Errorf("subnet %s: not a network address (did you mean %s?)", p, p.Masked())
	}
	if p.Bits() > 30 {
		return fmt.Errorf("subnet %s: too small, /30 leaves the least room (a gateway and one container)", p)
	}
	if p.Bits() < 8 {
		return fmt.Errorf("subnet %s: larger than /8", p)
	}
	return nil
}

// validBridgeName checks the kernel's rules for a network device name.
func validBridgeName(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return fmt.Errorf("bridge name %q: not a valid device name", s)
	case len(s) > 15:
		return fmt.Errorf("bridge name %q: longer than 15 bytes, the kernel's limit", s)
	case strings.ContainsAny(s, "/: \t\n"):
		return fmt.Errorf("bridge name %q: must not contain '/', ':' or spaces", s)
	}
	return nil
}

// Validate reports a config that cannot work, before anything is created:
// ports published twice, or published in a mode that has no ports to
// publish.
func (c *Config) Validate() error {
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return err
	}
	if c.Mode != ModeBridge {
		if len(c.Networks) > 0 {
			return fmt.Errorf("--net %s cannot be combined with networks (--network %s)", c.Mode, c.Networks[0].Network)
		}
		if len(c.Publish) > 0 {
			return fmt.Errorf("publishing ports (-p %s) needs --net bridge, not --net %s", c.Publish[0], c.Mode)
		}
		return nil
	}
	if err := validBridgeName(c.Bridge); err != nil {
		return err
	}
	if err := checkSubnet(c.Subnet); err != nil {
		return err
	}
	for i, m := range c.Publish {
		if err := m.validate(); err != nil {
			return err
		}
		for _, other := range c.Publish[:i] {
			if m.conflicts(other) {
				return fmt.Errorf("-p %s: host port %d/%s is already published by -p %s", m, m.HostPort, m.Protocol, other)
			}
		}
	}
	return nil
}

// PortMapping is one published port: connections to HostIP:HostPort on
// the host are forwarded to ContainerPort in the container.
type PortMapping struct {
	// HostIP restricts the mapping to one address of the host; the zero
	// value (or 0.0.0.0) means every address.
	HostIP netip.Addr `json:"hostIP,omitzero"`
	// HostPort 0 asks for any free port; Allocate picks one.
	HostPort      uint16 `json:"hostPort"`
	ContainerPort uint16 `json:"containerPort"`
	Protocol      string `json:"protocol"` // "tcp" or "udp"
}

// String writes m the way `docker ps` does: 0.0.0.0:8080->80/tcp.
func (m PortMapping) String() string {
	host := "0.0.0.0"
	if m.HostIP.IsValid() {
		host = m.HostIP.String()
	}
	return fmt.Sprintf("%s:%d->%d/%s", host, m.HostPort, m.ContainerPort, m.Protocol)
}

// AllAddresses reports whether m is published on every host address.
func (m PortMapping) AllAddresses() bool {
	return !m.HostIP.IsValid() || m.HostIP.IsUnspecified()
}

// conflicts reports whether m and o would claim the same host port: same
// protocol and port, and host addresses that overlap (0.0.0.0 overlaps
// every address).
func (m PortMapping) conflicts(o PortMapping) bool {
	if m.Protocol != o.Protocol || m.HostPort == 0 || m.HostPort != o.HostPort {
		return false
	}
	return m.AllAddresses() || o.AllAddresses() || m.HostIP == o.HostIP
}

func (m PortMapping) validate() error {
	if m.Protocol != "tcp" && m.Protocol != "udp" {
		return fmt.Errorf("port mapping %s: protocol %q: want tcp or udp", m, m.Protocol)
	}
	if m.ContainerPort == 0 {
		return fmt.Errorf("port mapping %s: container port 0", m)
	}
	if m.HostIP.IsValid() && !m.HostIP.Is4() {
		return fmt.Errorf("port mapping %s: only IPv4 host addresses are supported", m)
	}
	return nil
}

// ParsePublish parses a -p value, Docker's syntax:
//
//	CONTAINERPORT                       80        any free host port
//	HOSTPORT:CONTAINERPORT              8080:80
//	HOSTIP:HOSTPORT:CONTAINERPORT       127.0.0.1:8080:80
//	HOSTIP::CONTAINERPORT               127.0.0.1::80
//
// each optionally followed by /tcp (the default) or /udp.
func ParsePublish(s string) (PortMapping, error) {
	m, err := parsePublish(s)
	if err != nil {
		return m, fmt.Errorf("publish %q: %w", s, err)
	}
	return m, nil
}

func parsePublish(s string) (PortMapping, error) {
	m := PortMapping{Protocol: "tcp"}
	spec, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		switch strings.ToLower(proto) {
		case "tcp", "udp":
			m.Protocol = strings.ToLower(proto)
		default:
			return m, fmt.Errorf("protocol %q: want tcp or udp", proto)
		}
	}
	if strings.HasPrefix(spec, "[") {
		return m, errors.New("IPv6 host addresses are not supported")
	}
	parts := strings.Split(spec, ":")
	var hostIP, hostPort, containerPort string
	switch len(parts) {
	case 1:
		containerPort = parts[0]
	case 2:
		hostPort, containerPort = parts[0], parts[1]
	case 3:
		hostIP, hostPort, containerPort = parts[0], parts[1], parts[2]
	default:
		return m, errors.New("want [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]")
	}
	var err error
	if hostIP != "" {
		if m.HostIP, err = netip.ParseAddr(hostIP); err != nil || !m.HostIP.Is4() {
			return m, fmt.Errorf("host IP %q: not an IPv4 address", hostIP)
		}
	}
	if hostPort != "" {
		if m.HostPort, err = parsePort(hostPort, true); err != nil {
			return m, fmt.Errorf("host port %w", err)
		}
	}
	if m.ContainerPort, err = parsePort(containerPort, false); err != nil {
		return m, fmt.Errorf("container port %w", err)
	}
	return m, nil
}

var errPortRange = errors.New("out of range 1-65535")

func parsePort(s string, zeroOK bool) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: not a number", s)
	}
	if n > 65535 || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("%d: %w", n, errPortRange)
	}
	return uint16(n), nil
}
