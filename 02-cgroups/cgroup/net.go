package cgroup

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Network class and priority
//
// Two v1 controllers limit nothing: they tag. net_cls gives every
// packet the cgroup's processes send a class ID, which tc(8) filters
// ("cgroup") and iptables ("-m cgroup --cgroup 0x100001") can match;
// net_prio sets the priority (SO_PRIORITY) of their sockets per
// interface:
//
//	net_cls.classid     1048577          0xAAAABBBB: tc class AAAA:BBBB, here 10:1
//	net_prio.ifpriomap  "eth0 5"         one interface per write(2)
//
// v2 has neither: there, a socket's cgroup is matched directly
// (iptables -m cgroup --path, nftables "socket cgroupv2"), and New
// refuses the fields by name.

// NetPriority is the priority of a cgroup's traffic on one interface.
type NetPriority struct {
	Interface string
	Priority  uint32
}

// ErrNoNetV2 refuses NetClassID and NetPriorities on cgroup v2.
var ErrNoNetV2 = errors.New("network class and priority (net_cls, net_prio) cannot be set on cgroup v2: it has no such controllers")

func (r Resources) validateNet() error {
	for _, p := range r.NetPriorities {
		if p.Interface == "" || strings.ContainsAny(p.Interface, " \t\n/") {
			return fmt.Errorf("network priority: invalid interface name %q", p.Interface)
		}
	}
	return nil
}

// setNetV1 writes the class ID and the priorities that are set.
func (c *Cgroup) setNetV1(r Resources) error {
	if r.NetClassID != 0 {
		if err := setLimit(c.paths["net_cls"], "net_cls.classid", strconv.FormatUint(uint64(r.NetClassID), 10), true); err != nil {
			return fmt.Errorf("set network class: %w", err)
		}
	}
	for _, p := range r.NetPriorities {
		if err := setLimit(c.paths["net_prio"], "net_prio.ifpriomap", p.Interface+" "+strconv.FormatUint(uint64(p.Priority), 10), true); err != nil {
			return fmt.Errorf("set network priority: %w", err)
		}
	}
	return nil
}
