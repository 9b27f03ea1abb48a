// Package rootless runs berthd as an ordinary user: berthd --rootless.
//
// berthd needs root to mount layers, make bridges, write nftables rules
// and create namespaces. A user namespace gives an ordinary user a root
// of its own: uid 0 inside, with every capability, over the namespaces
// that this user namespace owns. The kernel still checks each action
// against the host: a mount of overlayfs is allowed (since Linux 5.11),
// a bridge in a network namespace that the user namespace owns is
// allowed, a write to a file of the host's root is not.
//
// # How berthd becomes root of its own namespaces
//
// The berthd the user starts (the parent) starts berthd again, three
// namespaces at once, and waits for it:
//
//	user's shell
//	 └─ berthd --rootless            parent: host namespaces, uid 1000
//	     ├─ newuidmap, newgidmap     setuid helpers: write the child's maps
//	     ├─ slirp4netns              the namespace's way out (tap0)
//	     └─ berthd --rootless        child: CLONE_NEWUSER|NEWNS|NEWNET
//	         └─ (execve itself)      "inside": uid 0, all capabilities
//	             ├─ berth-shim ─ container
//	             └─ berth-shim ─ container
//
// Step by step:
//
//   - The clone makes the child root of a new user namespace, but its IDs
//     map to nothing yet, and its first execve (the child is a new
//     program) drops its capabilities, because it is not uid 0 there.
//   - The parent writes the maps with newuidmap and newgidmap, from
//     Debian's package uidmap. An ordinary user may write only a map of
//     its own ID; these setuid helpers also map the range that
//     /etc/subuid and /etc/subgid give the user (SubIDs):
//     0 → the user, 1..65536 → 100000..165535. The images' other users
//     (a file owned by uid 33 in a layer) need the range.
//   - The parent starts the network (below), then writes a byte on a
//     pipe. The child reads it and execs berthd once more. Now uid 0 of
//     its namespace, it gets every capability in it: this is the daemon.
//     Enter does the child's part; Setup prepares the daemon's mount
//     namespace.
//
// The parent stays: it holds slirp4netns, passes signals on, and, when
// the daemon exits, kills what is left in its user namespace (the
// containers): without the parent they have no network, and a new
// rootless berthd, in namespaces of its own, could not enter them. A
// parent killed with SIGKILL leaves that to the next one (leftovers.go).
// Only one rootless berthd runs per exec root (a lock).
//
// Why berth does this itself instead of running under Debian's
// rootlesskit, which does the same: the steps are the lesson. They fit in
// this package (a clone, two helpers, a pipe, an execve), and each has a
// reason one can test. rootlesskit would add a daemon and an API between
// berthd and its namespaces, and hide the part the course is about. Its
// port drivers are the one thing it would have saved; slirp4netns's API
// (Ports) does it in a page.
//
// # The network
//
// The daemon's network namespace is empty at first: lo. With
// --rootless-net slirp4netns (the default) the parent runs slirp4netns,
// which makes tap0 in it (10.0.2.100/24, route via 10.0.2.2) and turns
// what leaves by tap0 into ordinary sockets of the user's on the host.
// Inside, everything of chapter 05 works as with root: the default
// bridge, user networks, their DNS server, nftables rules. A published
// port is published there, then forwarded from the host by slirp4netns
// (Ports):
//
//	host 127.0.0.1:8080 ─slirp4netns─▶ ns 10.0.2.100:8080 ─DNAT─▶ container :80
//
// Why slirp4netns and not pasta (Debian's passt), which is faster: a
// container's ports are known only when it starts, so they must be
// forwarded then. slirp4netns takes forwards at any time on its API
// socket; pasta takes them on its command line, or finds them by
// scanning the namespace for listening sockets, and berth publishes a
// port with a DNAT rule, not a socket.
//
// With --rootless-net none there is no way out and no port forwarding:
// containers reach each other only. slirp4netns opens /dev/net/tun,
// which udev normally makes mode 0666; a machine without udev may leave
// it 0600, and Run says so.
//
// # What a rootless berthd cannot do
//
//   - cgroups. On a cgroup v1 host, or v2 without systemd delegating a
//     subtree to the user, the cgroup filesystems are root's. Containers
//     run without a cgroup of their own (chapter 02's NoCgroup); --memory,
//     --cpus, --cpu-quota, --cpu-period, --pids-limit, --device,
//     --device-cgroup-rule, pause, unpause and the pause of a commit are
//     refused with a 400 that names them. `docker info` shows
//     name=rootless in its security options, and a warning.
//   - No device cgroup either. What confines devices instead is the user
//     namespace: mknod is refused, /dev holds only the nodes chapter 03
//     binds, and a node of the host's opens only if the user could open
//     it (root of the namespace has no power over files of the host's
//     root).
//   - Device nodes: mknod is refused in a user namespace (but for the
//     whiteouts of overlayfs, 0:0). Chapter 03 already binds the host's
//     /dev/null and the others instead; an image whose layers hold
//     device nodes cannot be extracted (chapter 06's mknod fails).
//   - Host ports below 1024 (net.ipv4.ip_unprivileged_port_start), and
//     the source address of a connection: a container sees slirp4netns's
//     10.0.2.2, not the client's.
//   - IDs beyond the range: a file of an image owned by uid 70000 cannot
//     be written with a range of 65536.
//   - Containers outliving the daemon: see above.
package rootless
