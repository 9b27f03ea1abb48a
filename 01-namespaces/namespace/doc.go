// Package namespace starts a process in its own set of Linux namespaces and
// runs the container's command under a small init, as PID 1.
//
// # Why namespaces
//
// A container is not a virtual machine: it is an ordinary process on the
// host's kernel that the kernel shows a different view of the world. Each
// namespace type virtualises one kind of global name:
//
//	UTS     hostname and domain name     (hostname box)
//	PID     process IDs                  (the command is PID 1)
//	mount   the mount table              (its own /proc, later its own /)
//	IPC     System V IPC, POSIX queues
//	network interfaces, routes, ports    (only lo until chapter 05)
//	cgroup  the view of /proc/self/cgroup
//	user    user and group IDs           (root inside, uid 100000 outside)
//
// clone(2) with CLONE_NEW* flags creates the namespaces and the first
// process inside them at once. All but one: a cgroup namespace takes the
// cgroup its creator is in as its root, "/", and the host moves init to
// the container's cgroup only after clone. So init unshares it itself,
// in Setup, once it is there (--cgroupns host skips that).
//
// # Kernel parameters: what a namespace covers
//
// Most files under /proc/sys set one value for the whole machine. Some
// belong to a namespace: each IPC namespace has its own kernel.msgmax,
// each network namespace its own net.ipv4.ip_forward. Which copy a file
// shows depends on the namespaces of the process that opens it. A
// container may set those (--sysctl, sysctl.go) and no others: the
// kernel parameters it may change are a map of what its namespaces
// cover. Setup writes them, before chapter 03 makes /proc/sys read-only.
//
// A user namespace maps ranges of ids: "0 100000 65536" in uid_map makes
// uids 0..65535 inside host uids 100000..165535. Which host ids a
// container may have is the administrator's choice, recorded per user in
// /etc/subuid and /etc/subgid ("alice:100000:65536"); Config takes each
// range separately (UIDs, GIDs), and without them uses 100000 for both.
//
// # The re-exec trick
//
// Go cannot run arbitrary code between fork and exec, yet some setup must
// happen inside the new namespaces before the user's command starts (set
// the hostname, mount /proc, later pivot_root). So the program starts
// itself again, under the name "berth-init", inside the new namespaces,
// from a sealed in-memory copy of its binary (exe.go: the host's file must
// stay out of the container's reach). That second copy is the container's
// init:
//
//	host                                container (new namespaces)
//	----                                --------------------------
//	berth run -- sh   --clone(2)-->     berth-init (PID 1)
//	   |   Start()                         | blocks reading the spec on fd 3
//	   |   (cgroups, network: ch.02, 05)   |
//	   |   SendSpec(spec) --- fd 3 -->     | Setup: private mounts, hostname, lo
//	   |   (OnRelease: ch.05's network)    | MountProc, ... (later chapters)
//	   |   Go() ------------ "G" ---->     | waits for the go
//	   |                                   | RunInit: fork+exec sh, forward signals,
//	   |   Wait() <--- exit status ----    |          reap zombies, exit with sh's status
//
// The spec pipe is also the synchronisation point: the child cannot start
// the user's command before the parent has finished its own setup. What
// must come before anything init does (joining a cgroup) happens before
// the spec; what only the command needs (moving a veth into its network
// namespace) may happen while init sets up, before the go. Release sends
// the spec and the go at once.
//
// # Why an init at all
//
// PID 1 is special in two ways. The kernel does not deliver a signal to
// PID 1 unless PID 1 installed a handler for it, so a shell run as PID 1
// ignores SIGTERM and a plain `kill` does nothing. And orphaned processes
// are re-parented to PID 1, which must wait(2) for them or they stay
// zombies forever. RunInit does both jobs (the design of tini), and exits
// with the command's status: its exit code, or 128+N when a signal N killed
// it, as a shell reports it.
//
// When init exits, the kernel kills every other process in its PID
// namespace; when the last process of a mount namespace is gone, every
// mount made in it disappears with it. That is why the host sees nothing
// left behind, as long as the mounts were made private first (see Setup).
//
// # Two hooks for an engine
//
// The engine of final/ starts containers all day, and uses two more
// entries of this package. Prestart (tuning_prestart.go) starts an init ahead of
// need, so that the next Start only has to take it: the re-executed
// program's start-up, a few milliseconds, is then off the path of
// `docker run`. AfterEnter runs inside the container just before the
// command, once the later chapters' set-up is done: chapter 07 opens the
// container's terminal there, from the devpts chapter 03 mounts.
package namespace
