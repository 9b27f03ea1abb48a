// Package dns is how a container finds things by name: the three files
// a container's resolver reads (/etc/hosts, /etc/resolv.conf,
// /etc/hostname), and the DNS server that answers, on a user network,
// for the names of the containers on it.
//
// # How a container resolves a name
//
// A program calls getaddrinfo("db"). The C library (glibc, musl) first
// reads /etc/hosts, then asks the nameservers of /etc/resolv.conf, over
// UDP port 53, falling back to TCP when an answer is truncated. Nothing
// else: no daemon to ask, no socket to the host. So what a container can
// resolve is what these files say, and what the nameservers they name
// answer. An image has files of its own, or none; berth writes a
// container's own at each start, and bind-mounts them over the image's:
//
//	<root>/containers/<id>/hostname     -> /etc/hostname     its hostname
//	<root>/containers/<id>/hosts        -> /etc/hosts        localhost, --add-host,
//	                                                         its own address
//	<root>/containers/<id>/resolv.conf  -> /etc/resolv.conf  nameservers, search, options
//
// Bind mounts rather than files written into the root filesystem: the
// image stays as it was, what the container writes there goes to the
// container's directory, and a commit of the container does not capture
// them (they are not in its writable layer). Docker does the same. A
// bind mount needs a file to mount on; MountPointLayer is a layer with
// three empty ones, stacked on the image, so that an image without them
// does not get them made in the container's own layer.
//
// Which nameservers resolv.conf names depends on the network:
//
//   - default bridge: the host's, less the loopback ones. 127.0.0.53
//     (systemd-resolved) is the host's loopback; in the container it
//     would be the container's own, where nothing listens. If nothing
//     is left, Docker's fallback, 8.8.8.8 and 8.8.4.4.
//   - a user network, when a Server serves it (Config.Embedded: berthd):
//     one nameserver, the embedded server below, and "options ndots:0",
//     so that "db" is asked as it is first.
//   - --net host: the host's files, as they are.
//
// --dns, --dns-search and --dns-option replace the host's nameservers,
// search domains and options.
//
// # The embedded server, and where it listens
//
// On a user network containers find each other by name: a container's
// name, its network aliases, its Compose service. Those come and go as
// containers connect and disconnect, and a file written at start cannot
// follow them: a DNS server must answer. Docker answers at 127.0.0.11,
// inside every container: a socket in each container's network
// namespace, plus NAT rules there to reach it. berth does as podman's
// aardvark-dns: one Server in the daemon, in the host's namespace,
// listening on each network's gateway, the bridge's own address, which
// every container on that network already reaches:
//
//	                host network namespace: berthd's dns.Server
//	+------------------------------------------------------------------+
//	|   listens on 10.89.0.1:53           listens on 10.90.0.1:53      |
//	|   records of "front":               records of "back":           |
//	|     web   -> 10.89.0.2                db  -> 10.90.0.2           |
//	|     cache -> 10.89.0.3                web -> 10.90.0.3           |
//	|                                                   other names:   |
//	|   br-front 10.89.0.1/24             br-back 10.90.0.1/24  the    |
//	+------|-----------|--------------------|---------|-- host's ------+
//	       |           |                    |         |   resolvers
//	   +---+----+  +---+----+           +---+----+    |
//	   | web    |  | cache  |           | db     |    +-- web again, its
//	   +--------+  +--------+           +--------+        second interface
//	   resolv.conf: nameserver 10.89.0.1   resolv.conf: nameserver 10.90.0.1
//
// Why there:
//
//   - one socket pair per network, not per container, and no rule
//     inside any container: connecting a container costs a map update;
//   - which network a query belongs to is which listener it arrived on,
//     so a container is answered from its own network's records only:
//     "db" resolves on back, not on front. A container on both networks
//     has one nameserver, its first network's gateway; asked there by
//     that container (known by its address), the server also answers
//     from the records of the container's other networks, as Docker's
//     resolver does, and never gives a container a name of a network
//     it is not on. A container's first query can come before the
//     daemon has told the server of it (the daemon learns its addresses
//     from its start, and it runs at once): a query from an address the
//     network does not know waits for it, up to NewClientWait, before
//     it is answered as a stranger's;
//   - the server forwards from the host's namespace, so the host's
//     loopback resolvers (127.0.0.53) work as upstreams as they are;
//   - the gateway must exist before the server may bind it: the daemon
//     calls AddNetwork once the network's bridge has its address;
//   - the queries enter the host (its input hook), not a container: a
//     host firewall that drops what comes in from the bridges must let
//     port 53 through. Docker's 127.0.0.11 never enters the host. And
//     only the bridge may bring them: chapter 05's table for the bridge
//     drops port 53 to its subnet from any other interface, so that the
//     server is no open resolver for the host's other neighbours.
//
// Names are matched without regard to case, with or without the root's
// trailing dot, and without the server's Domain if one is set. A name
// that several containers answer to gets all their addresses, in a random
// order. A container's name answers AAAA (and any type but A) with no
// record and NOERROR, so that a client asking A and AAAA at once takes
// the A. PTR queries of the containers' addresses give their first name.
//
// Every other name is forwarded: to the container's own --dns servers
// if it has some (Endpoint.Upstreams, chosen by the query's source
// address), else the server's, in order, over the transport the query
// came on, with a timeout per upstream. A truncated UDP answer is asked
// again over TCP. If no upstream answers, SERVFAIL. On an internal
// network (--internal) nothing is forwarded, and unknown names get
// SERVFAIL, as Docker answers them.
//
// Updates (SetEndpoint, RemoveEndpoint) build the network's records anew
// and swap them in at once: the next query sees them, and a query never
// waits for an update.
//
// # Why a library
//
// The DNS wire format looks simple and is not: name compression with
// pointers (and loops made of them), EDNS0 and its UDP sizes,
// truncation that must drop whole records and set TC, TCP's length
// prefix, a dozen record types that an upstream may answer with. The
// server must pass any of them through intact. github.com/miekg/dns
// (what Docker's, CoreDNS's and many other servers are built on) parses
// and writes all of it, and its Server runs the UDP and TCP loops; this
// package keeps only the decisions: which records, which network, where
// to forward.
package dns
