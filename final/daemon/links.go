package daemon

import (
	"path"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/05-network/network"
)

// Links (docker run --link NAME[:ALIAS], Compose's links:).
//
// On a user network, which is where Compose puts every service, a link
// is a name for the linking container alone: ALIAS (NAME when there is
// none) resolves to the container NAME through the network's DNS
// server, for queries from the linking container; other containers do
// not see the alias. dockerd does the same, and moves the links of
// HostConfig to the network's endpoint, where inspect shows them
// (NetworkSettings.Networks.NET.Links, HostConfig.Links null): so does
// berthd. As under dockerd the target need not exist, run, nor be on
// the network at create: the name is looked up at each query.
//
// On the default bridge a link is a legacy link: /etc/hosts lines for
// the target's name, alias and ID, and environment variables with its
// address and ports, which berth does not write. Such a link is refused
// by name rather than dropped.

// links checks the request's links and moves them to the container's
// first user network.
func (d *Daemon) links(h *container.HostConfig, n *network.Config) error {
	var all []string
	all = append(all, h.Links...)
	for _, a := range n.Networks {
		all = append(all, a.Links...)
	}
	if len(all) == 0 {
		return nil
	}
	switch {
	case h.NetworkMode.IsHost():
		return invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
	case h.NetworkMode.IsContainer():
		return invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior")
	}
	for _, l := range all {
		if _, _, err := splitLink(l); err != nil {
			return err
		}
	}
	if n.Mode != network.ModeBridge || len(n.Networks) == 0 {
		// --network none: nothing to resolve with, as under dockerd,
		// which takes the links and does nothing with them.
		h.Links = nil
		return nil
	}
	first := &n.Networks[0]
	for _, a := range n.Networks {
		if a.Network == network.DefaultNetwork && len(a.Links) > 0 {
			return invalid("--link on the default bridge network (legacy links: /etc/hosts lines and variables) is not supported: put the containers on a user network, where a link is a DNS alias")
		}
	}
	if len(h.Links) > 0 && first.Network == network.DefaultNetwork {
		return invalid("--link on the default bridge network (legacy links: /etc/hosts lines and variables) is not supported: put the containers on a user network, where a link is a DNS alias")
	}
	// The docker CLI sends a user network's links twice, in HostConfig
	// and in the network's endpoint: kept once, in order.
	for _, l := range h.Links {
		if !slices.Contains(first.Links, l) {
			first.Links = append(first.Links, l)
		}
	}
	h.Links = nil
	return nil
}

// splitLink reads NAME[:ALIAS] (a leading / on either, as the API
// writes names, is dropped).
func splitLink(l string) (name, alias string, err error) {
	name, alias, ok := strings.Cut(l, ":")
	// "/db:/me/database", dockerd's own form: the last element.
	name, alias = strings.TrimPrefix(name, "/"), path.Base("/"+alias)
	if !ok {
		alias = name
	}
	if name == "" {
		return "", "", invalid("invalid link %q", l)
	}
	return name, alias, nil
}

// linkAliases are links (NAME:ALIAS) as the DNS server takes them:
// alias -> name.
func linkAliases(links []string) map[string]string {
	if len(links) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, l := range links {
		if name, alias, err := splitLink(l); err == nil {
			out[alias] = name
		}
	}
	return out
}
