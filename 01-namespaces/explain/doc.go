// Package explain prints, as it happens, each step the kernel is asked to
// take while a container is built: one line per step, tagged with the
// chapter and section of the course that teaches it.
//
// # Why
//
// A container is a dozen kernel calls in a row, and the course spreads
// them over seven chapters. Reading the chapters one learns each call;
// running a program one sees only the shell prompt at the end. With
// --explain (every chapter program, `berth run`, and `berthd --debug`)
// the learner sees the whole container being built, in order:
//
//	$ sudo bin/01-namespaces run --explain --hostname box -- hostname
//	[01 §Namespaces] clone(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID|CLONE_NEWNET)
//	[01 §Mounts] mount("" on /, MS_REC|MS_PRIVATE): no mount event crosses to or from the host
//	[01 §Namespaces] unshare(CLONE_NEWCGROUP)
//	[01 §Namespaces] sethostname("box")
//	[01 §Namespaces] ioctl(SIOCSIFFLAGS lo up)
//	[01 §Mounts] mount(proc on /proc type proc, MS_NOSUID|MS_NODEV|MS_NOEXEC): ps shows this PID namespace
//	box
//
// Each line is "[CHAPTER §SECTION] KIND DETAIL": KIND is the system call
// or the kind of change (clone, mount, write, netlink, nft, overlay...),
// the same in every run; DETAIL says with what, and varies. The
// chapter's text (docs/NN-*.md, "Explain mode") lists the sections.
//
// # Two sides, one trace
//
// The steps happen in two processes. The host side (the program, chapter
// 02's cgroups, chapter 05's network) writes to a Trace that the
// container's configuration carries (namespace.Config.Trace). The
// container side (init, after clone, inside the new namespaces: the
// mounts, pivot_root, seccomp) cannot reach the host's writer, so it
// writes to a pipe that it inherits from the host, like its spec pipe:
//
//	host                                     container init
//	Trace (stderr, or a daemon's log) <--+   Inside() writes one line per
//	   ^ copies each line it reads       |   write(2): a pipe keeps such a
//	   |                                 |   short write whole, so lines
//	   +--- read end  <====== pipe ======+   never mix
//
// The host passes the write end as an inherited descriptor and names it
// in init's environment (EnvFD); init marks it close-on-exec with the rest,
// so the user's command never sees it, and closes it when it lets the
// command go: the host then knows it has every line (a shim reports the
// start only after that, chapter 07).
//
// # Off costs nothing worth measuring
//
// A nil *Trace is off: every method returns at once, and the host makes
// no pipe. A container started without --explain pays a nil check per
// step; a few steps build their detail string before the call (a
// concatenation, a fraction of a microsecond), beside a clone(2) and a
// dozen mounts that take milliseconds. Where describing a step would
// cost a system call or real work, the caller checks On first.
//
// # Where the trace goes
//
// A chapter program writes it to its stderr (when that is not a file,
// the container's stderr and the trace take turns: Share). Chapter 07's
// shim, which has no terminal, keeps it in the container's directory
// and the command that started the container prints it. berthd does the
// same for a container labelled berth.explain (berth run --explain),
// and with --debug logs every start's trace, one record per step.
package explain
