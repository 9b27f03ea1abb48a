package cli

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// The flags of run and create that write a container's /etc/hosts and
// /etc/resolv.conf. Each checks its value as it is parsed, so that a
// mistake is reported as docker reports it: `invalid argument "x" for
// "--dns" flag: ...`, with status 125, before anything is sent.

// hostGateway is the --add-host address that the daemon replaces with
// the host's address as the container sees it.
const hostGateway = "host-gateway"

// extraHostsValue is --add-host HOST:IP (or HOST=IP), repeatable. It
// keeps the docker CLI's wire form HOST:IP, the address without the
// brackets an IPv6 one may be given in.
type extraHostsValue []string

func (v *extraHostsValue) String() string { return listString(*v) }
func (v *extraHostsValue) Type() string   { return "list" }
func (v *extraHostsValue) list() []string { return append([]string(nil), *v...) }

func (v *extraHostsValue) Set(s string) error {
	host, addr, ok := strings.Cut(s, "=")
	if !ok {
		host, addr, ok = strings.Cut(s, ":") // an IPv6 address has colons of its own
	}
	if !ok || host == "" || strings.Contains(host, ":") {
		return fmt.Errorf("bad format for add-host: %q", s)
	}
	if addr != hostGateway {
		if len(addr) > 2 && addr[0] == '[' && addr[len(addr)-1] == ']' {
			addr = addr[1 : len(addr)-1]
		}
		if _, err := netip.ParseAddr(addr); err != nil {
			return fmt.Errorf("invalid IP address in add-host: %q", addr)
		}
	}
	*v = append(*v, host+":"+addr)
	return nil
}

// dnsValue is --dns IP, repeatable.
type dnsValue []netip.Addr

func (v *dnsValue) Type() string { return "list" }

func (v *dnsValue) String() string {
	s := make([]string, len(*v))
	for i, a := range *v {
		s[i] = a.String()
	}
	return listString(s)
}

func (v *dnsValue) Set(s string) error {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("IP address is not correctly formatted: %s", s)
	}
	*v = append(*v, a)
	return nil
}

// dnsSearchValue is --dns-search DOMAIN, repeatable; "." alone means no
// search domains at all.
type dnsSearchValue []string

func (v *dnsSearchValue) String() string { return listString(*v) }
func (v *dnsSearchValue) Type() string   { return "list" }

// domainName is a DNS name of letters, digits and inner hyphens,
// perhaps ending with a dot.
var domainName = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*\.?$`)

func (v *dnsSearchValue) Set(s string) error {
	s = strings.Trim(s, " ")
	if s != "." && (len(s) > 255 || !domainName.MatchString(s)) {
		return fmt.Errorf("%s is not a valid domain", s)
	}
	*v = append(*v, s)
	return nil
}

// listString shows a list flag's values as listValue does.
func listString(s []string) string {
	l := listValue(s)
	return l.String()
}
