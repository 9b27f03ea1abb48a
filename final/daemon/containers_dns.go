package daemon

import (
	"slices"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/05-network/dns"
)

// nameConfig is chapter 05's name resolution: --dns, --dns-search,
// --dns-option and --add-host, which become the container's
// /etc/resolv.conf and /etc/hosts at each start (the dns package says
// how). --domainname is refused: it sets the domain name of the
// container's UTS namespace, which berth's init does not set.
func nameConfig(cfg *container.Config, h *container.HostConfig) (dns.Config, error) {
	c := dns.Config{Embedded: true}
	if cfg.Domainname != "" {
		return c, invalid("--domainname is not supported: berth sets only the hostname of a container")
	}
	c.Nameservers = slices.Clone(h.DNS)
	c.Search = slices.Clone(h.DNSSearch)
	c.Options = slices.Clone(h.DNSOptions)
	for _, s := range h.ExtraHosts {
		host, err := dns.ParseHost(s)
		if err != nil {
			return c, invalid("invalid --add-host: %v", err)
		}
		c.ExtraHosts = append(c.ExtraHosts, host)
	}
	if err := c.Validate(); err != nil {
		return c, invalid("%v", err)
	}
	return c, nil
}
