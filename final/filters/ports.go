package filters

import (
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	apinet "github.com/moby/moby/api/types/network"
)

// Ports are docker ps's publish and expose filters: the ports asked for
// ("80", "80/udp", "8000-8080/tcp"), matched against a container's PORTS
// column. publish matches the host's side of a published port, expose
// the container's side of any; one match of either will do, as dockerd
// 20.10 lists them.
type Ports struct {
	publish, expose map[apinet.Port]bool
}

// Ports reads the publish and expose filters of a.
func (a Args) Ports() (Ports, error) {
	var p Ports
	for key, set := range map[string]*map[apinet.Port]bool{"publish": &p.publish, "expose": &p.expose} {
		for _, v := range a[key] {
			if strings.Contains(v, ":") {
				return p, invalid("filter for '%s' should not contain ':': %s", key, v)
			}
			pr, err := apinet.ParsePortRange(v)
			if err != nil {
				return p, invalid("invalid filter '%s=%s': %v", key, v, err)
			}
			if *set == nil {
				*set = map[apinet.Port]bool{}
			}
			for port := range pr.All() {
				(*set)[port] = true
			}
		}
	}
	return p, nil
}

// Match says whether a container with ports passes: always, when
// neither filter is set.
func (p Ports) Match(ports []container.PortSummary) bool {
	if p.publish == nil && p.expose == nil {
		return true
	}
	return slices.ContainsFunc(ports, func(s container.PortSummary) bool {
		public, _ := apinet.PortFrom(s.PublicPort, apinet.IPProtocol(s.Type))
		private, _ := apinet.PortFrom(s.PrivatePort, apinet.IPProtocol(s.Type))
		return (s.PublicPort != 0 && p.publish[public]) || p.expose[private]
	})
}
