// Package probe looks at a container from the inside and prints what
// confines it, one fact a line, so that two engines can be compared by
// comparing two texts.
//
// A container engine's defaults are a long list of small decisions:
// which capabilities root keeps, which system calls the seccomp filter
// refuses, which device nodes may be opened, which /proc files are
// covered, which limits apply. Reading the engine's configuration shows
// what it meant to do; only a look from inside shows what the kernel
// actually enforces. berth's claim is to be at least as tight as
// Docker's defaults, so the test that backs the claim runs this probe
// under berthd and under a real dockerd, with the same options, and
// requires the same output:
//
//	docker run --rm -v PROBE:/probe:ro busybox /probe/berth-probe
//	          │                                   │
//	  berthd ─┤                                   ├─ text A ─┐
//	  dockerd ┘                                   └─ text B ─┴─ A == B
//
// Every line is something both engines must agree on for the same
// options on the same host. Nothing that legitimately differs between
// two containers is printed: no IDs, addresses, host names, cgroup paths
// or times.
//
// The probe never harms the host, even in a container that is not
// confined at all (--privileged): a device that may be opened is not
// written to unless writing is harmless (null, zero, full), and each
// system call is made with arguments that fail harmlessly when the
// filter lets it through (an unknown key type, an unknown perf event).
// So the answer for a call is "EPERM" when something refused it and
// the kernel's ordinary error otherwise.
//
// The sections, in the order printed:
//
//	id       the user, group and supplementary groups
//	status   capabilities, no_new_privs and seccomp from /proc/self/status
//	rlimit   every resource limit, soft and hard; oom_score_adj
//	syscall  what keyctl, add_key, perf_event_open, unshare(CLONE_NEWUSER)
//	         and a mount in a nested user namespace answer
//	device   for a list of the host's devices: whether mknod and open succeed
//	dev      the nodes and links in /dev, with types, numbers and modes
//	mount    the options of /proc, /sys, /dev and friends
//	path     Docker's masked and read-only paths, as the container sees them
//	sysctl   a few namespaced kernel parameters
//	cgroupns whether each cgroup hierarchy shows the container's own
//	         cgroup as its root (a private cgroup namespace)
//	cgroup   what /sys/fs/cgroup holds, and the limits read there
//
// final/cmd/berth-probe is the program; the comparison is
// TestSameAsDockerd_Security in final/daemon.
package probe
