package cli

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
)

// Output for people, the way docker prints it.

// shortIDLength is how much of a 64-hex-digit ID docker shows.
const shortIDLength = 12

// truncateID shortens an ID ("sha256:" prefix and all) to 12 digits.
func truncateID(id string) string {
	if i := strings.IndexRune(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > shortIDLength {
		id = id[:shortIDLength]
	}
	return id
}

// ellipsis cuts s to max characters, the last being "…".
func ellipsis(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	if max <= 1 {
		return string(r[:max])
	}
	return string(r[:max-1]) + "…"
}

// humanSize is "1.2MB", "512kB", "0B": decimal units, 3 significant
// digits, as docker's SIZE columns.
func humanSize(n int64) string {
	return units.HumanSizeWithPrecision(float64(n), 3)
}

// timeAgo is "3 seconds ago", "2 minutes ago", "About an hour ago".
func timeAgo(t time.Time, now time.Time) string {
	return units.HumanDuration(now.Sub(t)) + " ago"
}

// displayPorts renders a container's ports as docker ps does. Ports
// published on the same host port as the container's, and ports only
// exposed, are grouped into ranges per address and protocol:
// "0.0.0.0:8000-8001->8000-8001/tcp", "53/udp". Ports published on
// another host port are listed one by one, after the groups:
// "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp".
func displayPorts(ports []container.PortSummary) string {
	ps := append([]container.PortSummary(nil), ports...)
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		switch {
		case a.PrivatePort != b.PrivatePort:
			return a.PrivatePort < b.PrivatePort
		case a.IP != b.IP:
			return a.IP.Less(b.IP)
		case a.PublicPort != b.PublicPort:
			return a.PublicPort < b.PublicPort
		}
		return a.Type < b.Type
	})

	type group struct {
		ip          netip.Addr
		proto       string
		first, last uint16
	}
	render := func(g group) string {
		ports := fmt.Sprint(g.first)
		if g.last != g.first {
			ports = fmt.Sprintf("%d-%d", g.first, g.last)
		}
		if !g.ip.IsValid() {
			return ports + "/" + g.proto
		}
		return fmt.Sprintf("%s->%s/%s", net.JoinHostPort(g.ip.String(), ports), ports, g.proto)
	}

	var groups []string
	var mappings []string
	open := map[string]*group{} // the group being extended, by address and protocol
	var order []string
	for _, p := range ps {
		if p.IP.IsValid() && p.PublicPort != p.PrivatePort {
			host := net.JoinHostPort(p.IP.String(), fmt.Sprint(p.PublicPort))
			mappings = append(mappings, fmt.Sprintf("%s->%d/%s", host, p.PrivatePort, p.Type))
			continue
		}
		key := p.IP.String() + "/" + p.Type
		g := open[key]
		switch {
		case g == nil:
			open[key] = &group{ip: p.IP, proto: p.Type, first: p.PrivatePort, last: p.PrivatePort}
			order = append(order, key)
		case p.PrivatePort == g.last+1:
			g.last = p.PrivatePort
		default:
			groups = append(groups, render(*g))
			open[key] = &group{ip: p.IP, proto: p.Type, first: p.PrivatePort, last: p.PrivatePort}
		}
	}
	for _, key := range order {
		groups = append(groups, render(*open[key]))
	}
	return strings.Join(append(groups, mappings...), ", ")
}
