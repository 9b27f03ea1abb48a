package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
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

// networkValue is --network, repeatable: a network's name (or bridge,
// host, none, container:NAME|ID), or docker's long syntax
// name=NET,alias=A,ip=IP,ip6=IP,mac-address=MAC,link-local-ip=IP,
// driver-opt=K=V,gw-priority=N,link=CTR:ALIAS, which also says what the
// container's endpoint on that network should have.
type networkValue []networkAttachment

type networkAttachment struct {
	target string
	ep     network.EndpointSettings
}

func (v *networkValue) Type() string { return "network" }

func (v *networkValue) String() string {
	s := make([]string, len(*v))
	for i, a := range *v {
		s[i] = a.target
	}
	return listString(s)
}

// longSyntax tells name=NET,... from a network's name.
var longSyntax = regexp.MustCompile(`\w+=\w+(,\w+=\w+)*`)

func (v *networkValue) Set(s string) error {
	if !longSyntax.MatchString(s) {
		*v = append(*v, networkAttachment{target: s})
		return nil
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return err
	}
	var a networkAttachment
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		if !ok || key == "" {
			return fmt.Errorf("invalid field %s", field)
		}
		if err := a.set(key, val); err != nil {
			return err
		}
	}
	if a.target == "" {
		return errors.New("network name/id is not specified")
	}
	*v = append(*v, a)
	return nil
}

// set sets one field of the long syntax.
func (a *networkAttachment) set(key, val string) error {
	ipam := func() *network.EndpointIPAMConfig {
		if a.ep.IPAMConfig == nil {
			a.ep.IPAMConfig = &network.EndpointIPAMConfig{}
		}
		return a.ep.IPAMConfig
	}
	var err error
	switch key {
	case "name":
		a.target = val
	case "alias":
		a.ep.Aliases = append(a.ep.Aliases, val)
	case "ip":
		var ip ipv4Value
		err = ip.Set(val)
		ipam().IPv4Address = netip.Addr(ip)
	case "ip6":
		ipam().IPv6Address, err = netip.ParseAddr(val)
	case "link-local-ip":
		var ip netip.Addr
		ip, err = netip.ParseAddr(val)
		ipam().LinkLocalIPs = append(ipam().LinkLocalIPs, ip)
	case "mac-address":
		var mac net.HardwareAddr
		if mac, err = net.ParseMAC(val); err != nil {
			return fmt.Errorf("%s is not a valid mac address", val)
		}
		a.ep.MacAddress = network.HardwareAddr(mac)
	case "link":
		a.ep.Links = append(a.ep.Links, val)
	case "driver-opt":
		k, v, ok := strings.Cut(val, "=")
		if !ok {
			return errors.New("invalid key value pair format in driver options")
		}
		if a.ep.DriverOpts == nil {
			a.ep.DriverOpts = map[string]string{}
		}
		a.ep.DriverOpts[k] = v
	case "gw-priority":
		a.ep.GwPriority, err = strconv.Atoi(val)
	default:
		return errors.New("invalid field key " + key)
	}
	return err
}
