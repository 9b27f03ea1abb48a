// Package network gives a container a network of its own: an interface
// with an IP address in its network namespace, a way out to the world
// through the host, and ports that the world can reach.
//
// # Why more than a namespace
//
// Since chapter 01 every container has a network namespace of its own:
// its own interfaces, addresses, routes and ports. But a new namespace
// holds only lo. The container is isolated, and also deaf and mute: it can
// talk to nobody but itself. Docker's default network, which this package
// rebuilds, connects it with four pieces, each a plain Linux feature.
//
//	                 host: the root network namespace
//	+-----------------------------------------------------------------+
//	|  eth0 192.0.2.2          nftables: DNAT :8080 -> 10.88.0.2:80   |
//	|     |                              masquerade 10.88.0.0/16 out  |
//	|     +------ routing, ip_forward=1 ------ berth0 10.88.0.1/16    |
//	|     |                                    (a bridge: a switch)   |
//	|     |                                     |               |     |
//	|     |                               vethee1e274    veth3a90c1d  |
//	+-----|-------------------------------------|---------------|-----+
//	      |                         veth pairs: |               |
//	  the world                    +------------+-----+ +-------+----------+
//	                               | eth0 10.88.0.2   | | eth0 10.88.0.3   |
//	                               | lo   127.0.0.1   | | lo   127.0.0.1   |
//	                               +-- container A ---+ +-- container B ---+
//
// A veth pair is a virtual cable: two interfaces, and what is sent into
// one comes out of the other. One end is created inside the container's
// namespace as eth0, the other stays on the host.
//
// A bridge is a virtual switch. The host ends of all the containers'
// cables are plugged into it, so containers on the same bridge reach each
// other directly by IP, as machines on one LAN do. The bridge also has an
// address of its own, the subnet's first (10.88.0.1): that is the host's
// side of the LAN, and the containers' default gateway.
//
// Routing: a container sends everything that is not on its subnet to the
// gateway. For the host to pass it on, IP forwarding must be on
// (net.ipv4.ip_forward=1); it is off by default, and then a host is a dead
// end. Outside, nobody knows where 10.88.0.0/16 is, so packets leaving the
// host get the host's own address as their source: masquerading, a form
// of source NAT. Conntrack remembers each rewrite and undoes it on the
// replies.
//
// Published ports (-p 8080:80): a destination NAT rule rewrites
// connections to the host's port 8080 into connections to the
// container's port 80.
//
// # Published ports, and why S39 holds
//
// DNAT happens in two places, because packets take two roads (pitfall 10).
// A packet from another machine enters through PREROUTING. A connection
// made on the host itself (wget http://127.0.0.1:8080) never passes
// PREROUTING; it starts in OUTPUT, so the same rules are jumped to from
// there. Both jumps only happen for packets addressed to the host itself
// (fib daddr type local): a container's connection to some remote server's
// port 8080 must go to that server.
//
// 127.0.0.1 needs two more things. After the rewrite the packet still
// says "from 127.0.0.1", and leaves through the bridge: the kernel drops
// loopback addresses on a real interface as martians unless
// route_localnet=1 is set on it, and the container would answer its own
// 127.0.0.1 anyway. So the bridge gets route_localnet=1, and a second
// masquerade rule gives such packets the gateway's address.
//
// The rewritten connection arrives at the container's eth0 address,
// 10.88.0.2:80. A server that listens on 0.0.0.0 accepts it. A server
// that listens on 127.0.0.1 only accepts connections to 127.0.0.1, the
// container's own loopback, which nothing outside can reach: the kernel
// answers with a reset, and the client sees "connection refused" (S39).
//
// # The rules
//
// Each bridge has an nftables table of its own (TableName): the jumps and
// masquerade rules, written once per bridge, and one DNAT rule per
// published port, tagged with the container's ID in its comment so that it
// can be found and deleted alone. nft shows it as:
//
//	table ip berth-berth0 {
//	  chain publish {
//	    tcp dport 8080 dnat to 10.88.0.2:80 comment "<container id>"
//	  }
//	  chain prerouting {
//	    type nat hook prerouting priority dstnat; policy accept;
//	    fib daddr type local jump publish
//	  }
//	  chain output {
//	    type nat hook output priority -100; policy accept;
//	    fib daddr type local jump publish
//	  }
//	  chain postrouting {
//	    type nat hook postrouting priority srcnat; policy accept;
//	    ip saddr 10.88.0.0/16 oifname != "berth0" masquerade
//	    ip saddr 127.0.0.0/8 oifname "berth0" masquerade
//	    ip saddr 10.88.0.0/16 oifname "berth0" ct status dnat masquerade
//	  }
//	  chain forward {
//	    type filter hook forward priority filter; policy accept;
//	    oifname "berth0" iifname != "berth0" ct state established,related accept
//	    oifname "berth0" iifname != "berth0" ct status dnat accept
//	    oifname "berth0" iifname != "berth0" drop
//	  }
//	}
//
// The third masquerade rule is for hairpin connections: a container's
// connection to a port published by a container of the same bridge,
// which DNAT sends back where it came from (see addMasquerade). The
// forward chain keeps bridges apart (see User networks below).
//
// The package speaks to the kernel directly, through netlink
// (github.com/vishvananda/netlink for links, addresses and routes,
// github.com/google/nftables for the rules), and runs no ip, iptables or
// nft command.
//
// # Addresses and ports: reserve first, create second
//
// Allocate hands out a free address of the subnet (in turn, going round
// the subnet before an address is reused) and reserves
// the published host ports, in a state file under the root directory,
// locked with flock(2) so that containers started at the same moment
// never get the same address or port. It creates nothing on the host,
// which is why a port that is already published, or that a host process
// listens on, is a clear error before anything exists. Attach then
// creates the bridge (on first use), the veth pair, the container's
// address and route, and the rules; Release removes them and the
// reservation. The Endpoint is saved as JSON meanwhile, so that a program
// that did not create it (a daemon after a restart) can release it. A
// container whose program was killed before it could call Release is
// noticed by the next Allocate (its recorded process is gone from its
// network namespace), which releases it then (pitfall 8).
//
//	Allocate(root, id, cfg)  ->  state.json: lease 10.88.0.2, port 8080
//	namespace.Start          ->  init waits in its new namespaces
//	Endpoint.Attach(pid)     ->  bridge, veth, eth0 address + route, DNAT
//	... the command runs ...
//	Endpoint.Release()       ->  rules, veth, lease, port: all gone
//
// # User networks
//
// One bridge for every container is one flat LAN. A user-defined network
// (CreateNetwork, docker network create) is another bridge with a subnet
// of its own, recorded under the root with a name and an ID, created with
// its table when the network is, so that its route claims the subnet for
// every later pick (which holds a host-wide lock: LockSubnets). A
// container may be on several networks, one interface each (eth0, eth1,
// ...: Endpoint.Interfaces); a daemon records a container's networks
// apart from its start options (SetAttachments), so that docker network
// connect and disconnect change them between starts (JoinNetwork,
// LeaveNetwork), and for a running container at once: a veth created
// into the namespace of its process, as at its start.
//
//	 br-1a2b (172.18.0.0/16)       br-3c4d (172.19.0.0/16)
//	  |            |                  |           |
//	web:eth0    api:eth0  -- X --  db:eth0    api:eth1
//
// Containers on one bridge are switched by it and never meet the rules.
// Between bridges the host routes, and each bridge's forward chain lets
// in only answers (ct state established) and published ports (ct status
// dnat): no table needs to know the others. An Internal network also
// drops what its containers send elsewhere, and has no masquerade and no
// default route.
//
// # Threads and namespaces
//
// The container's eth0 is configured from the host, with no help from
// inside: a netlink socket belongs to the network namespace it was
// created in, so a socket created in the container's namespace configures
// the container from any thread. Creating it means entering the namespace
// with setns(2), which moves one thread, not the process; InNetns does
// that on a locked thread and makes sure the thread is back in the host's
// namespace before the Go runtime may use it for anything else (pitfall
// 4). See InNetns for why the thread is not simply left to die.
package network
