// Package cgroup puts a container's processes in a control group and
// limits the memory, CPU time and number of processes they may use, and
// the devices they may open.
//
// # What a cgroup is
//
// Namespaces (chapter 01) change what a process can see. They do nothing
// about how much it can use: a process in its own namespaces can still
// allocate all the host's memory or fork until the process table is full.
// A control group is the kernel's answer. It is a set of processes that
// the kernel accounts as one and holds to common limits. Membership is
// inherited: a child of a process starts in its parent's cgroup. So it is
// enough to put a container's first process in the cgroup; everything it
// ever starts follows, and cannot leave without privileges it lacks.
//
// The interface is a filesystem. A cgroup is a directory; making one is
// mkdir(2). The kernel fills the new directory with interface files, and
// every operation is a write to one of them:
//
//	echo 33554432 > memory.max     limit memory to 32 MiB
//	echo 4242 > cgroup.procs       move process 4242 (and its threads) in
//	rmdir <dir>                    remove the cgroup, once it is empty
//
// This package does nothing more than those writes, with the care they
// need.
//
// # Two interfaces: v1 and v2
//
// Linux has two cgroup interfaces, and a container engine must speak both.
// The original v1 gives each controller (memory, cpu, pids, ...) its own
// hierarchy, mounted on its own directory: a process sits in one cgroup
// per hierarchy, and a container is one directory in each. v2 has a single
// hierarchy. Which controllers a cgroup has is decided by its parent,
// which lists them in its cgroup.subtree_control.
//
//	v1 (and hybrid)                         v2
//	/sys/fs/cgroup/          tmpfs          /sys/fs/cgroup/           cgroup2
//	├── memory/              cgroup,memory  ├── cgroup.subtree_control  "cpu memory pids"
//	│   └── berth/                          └── berth/
//	│       └── web/  memory.limit_in_bytes     ├── cgroup.subtree_control  "cpu memory pids"
//	├── cpu/                 cgroup,cpu         └── web/  memory.max cpu.max pids.max
//	│   └── berth/web/  cpu.cfs_quota_us                  cgroup.procs (the processes)
//	├── cpuacct/             cgroup,cpuacct
//	│   └── berth/web/  cpuacct.usage
//	├── pids/                cgroup,pids
//	│   └── berth/web/  pids.max
//	├── freezer/             cgroup,freezer
//	│   └── berth/web/  freezer.state                     cgroup.freeze (freezing)
//	└── unified/             cgroup2 (hybrid only, no controllers)
//
// v2 is not v1 with other file names. The differences that matter here:
//
//   - Controllers must be enabled on the way down. A v2 cgroup only has
//     memory.max if "memory" is in its parent's cgroup.subtree_control, so
//     New enables cpu, memory and pids first in the root, then in "berth".
//   - No internal processes: a v2 cgroup that hands controllers to its
//     children may not hold processes itself (the root excepted). That is
//     why processes live only in the leaves and "berth" stays empty.
//   - Swap: v1's memory.memsw.limit_in_bytes limits memory plus swap and
//     must never be below memory.limit_in_bytes, so the order of the two
//     writes matters. v2's memory.swap.max limits swap alone; unless
//     swap is asked for (MemorySwap, swap.go), berth writes 0 there so
//     that a container cannot escape its memory limit by swapping.
//   - Killing: v2 (Linux 5.14+) has cgroup.kill, which kills every
//     process in the cgroup atomically. On v1 we read cgroup.procs and
//     signal each process, and try again in case one forked meanwhile.
//
// Many hosts still boot in "hybrid" mode: the v1 hierarchies under a
// tmpfs, plus a cgroup2 mount at /sys/fs/cgroup/unified that systemd uses
// to track services. A controller can be attached to only one of the two,
// and on a hybrid host they are all in v1, so the unified tree has none to
// give. Hybrid hosts are therefore driven like v1.
//
// Detect tells them apart by what is mounted at /sys/fs/cgroup, using
// statfs(2): CGROUP2_SUPER_MAGIC means v2; a tmpfs means v1, or hybrid if
// "unified" below it is cgroup2. System then reads /proc/self/mountinfo to
// find where each v1 controller is mounted: distributions differ ("cpu"
// and "cpuacct" are often one hierarchy mounted at "cpu,cpuacct").
//
// # Limits
//
// Resources holds the three caps below; zero means unlimited. (Its
// Devices field is the device policy: see Devices below; the weights and
// the less common controls have sections of their own.)
// ParseMemory, ParseCPUs and ParsePidsLimit turn command-line values into
// them, with Docker's rules and messages.
//
//	memory  v2: memory.max (+ memory.swap.max 0)
//	        v1: memory.limit_in_bytes (+ memory.memsw.limit_in_bytes, same value)
//	CPUs    v2: cpu.max "QUOTA 100000"
//	        v1: cpu.cfs_period_us 100000, then cpu.cfs_quota_us QUOTA
//	pids    pids.max in both
//
// A CPU limit is a bandwidth: the cgroup may run QUOTA microseconds every
// 100 ms period, summed over all CPUs, then waits for the next period. 0.5
// CPU is 50 ms per 100 ms, on one core or spread over several.
//
// Exceeding a limit has different effects. Over its memory limit the kernel
// first reclaims the cgroup's page cache and, if that is not enough, the
// OOM killer kills one of its processes. OOMKilled reads the kernel's
// counter of such kills, so that a container that died of SIGKILL can be
// reported as "OOMKilled", as `docker inspect` does. Over its CPU quota the cgroup is merely throttled. At
// pids.max, fork(2) and clone(2) fail with EAGAIN.
//
// # Devices
//
// A container's root has CAP_MKNOD, so it can make a node for any device
// number: "mknod /tmp/k c 1 11" names the host's kernel log. The node is
// only a name; what matters is whether the device may be opened, and that
// is the device cgroup's decision. The kernel consults it at every open(2)
// and mknod(2) of a device node, whatever the capabilities: a refusal is
// EPERM. So Resources.Devices, a list of rules in the kernel's text form
// ("c 1:3 rwm": type, major:minor, access), is part of every cgroup New
// makes. nil means DefaultDevices, Docker's list: mknod of anything, and
// rw only for null, zero, full, random, urandom, tty, console, ptmx, the
// pts and tun. AllowAllDevices ("a *:* rwm") is --privileged's.
//
//	v1: devices hierarchy                    v2: eBPF, BPF_CGROUP_DEVICE
//	echo a > devices.deny                    r2 = ctx->access_type ...
//	echo 'c 1:3 rwm' > devices.allow         if c && 1 && 3 && access ⊆ rwm: return 1
//	echo 'c 1:5 rwm' > devices.allow         if c && 1 && 5 && access ⊆ rwm: return 1
//	...                                      ...
//	cat devices.list                         return 0
//
// Both are set in New, right after mkdir, so before any process joins.
// devicePolicy replays the rules the way v1 stores them (a default and
// exceptions) and both interfaces are given that one state: the v1 files
// directly, the v2 program compiled from it (deviceProgram). A list that
// v1 cannot store faithfully is refused, so a policy never means one
// thing on v1 and another on v2.
//
// The program is attached with BPF_PROG_ATTACH and BPF_F_ALLOW_MULTI:
// the cgroup then holds it until the cgroup is removed, whoever loaded
// it, and it runs after any program of the cgroup's ancestors (all must
// allow). A bpf_link, what cilium/ebpf's link.AttachCgroup prefers, would
// detach it as soon as the loading process exits.
//
// The program is written with github.com/cilium/ebpf's asm package rather
// than as bytes through golang.org/x/sys/unix. By hand, each instruction
// is an 8-byte struct of opcode, register nibbles, offset and immediate,
// every jump is a count of instructions to skip, recounted whenever a
// block changes, and x/sys/unix has no BPF_PROG_LOAD call, only the
// constants: the bpf_attr union would be packed with unsafe. With asm
// the instructions have names (asm.JNE.Imm32), jumps go to labels the
// package resolves, the program prints readably (exercise 5 of the
// chapter), and ebpf.NewProgram loads it and returns the verifier's log
// when it refuses. The price is one pure-Go dependency; the program is
// the same either way.
//
// A hybrid host has both interfaces, and the kernel checks both: the v1
// devices controller and any program on the process's cgroup2 cgroup.
// That is how the tests try the v2 path on a hybrid machine: a cgroup
// under /sys/fs/cgroup/unified, the program attached, a process moved in.
//
// # Joining before running
//
// Limits only bind processes inside the cgroup, so the container's first
// process must be added before it runs any code of the container's. If
// the parent started the child and added it afterwards, the child could
// allocate memory or fork in the meantime, and those children would stay
// outside. Two ways to close the gap:
//
//   - A sync pipe: the child's first action is to block reading a pipe.
//     The parent calls Add with the child's PID and then writes to the
//     pipe. This works on v1 and v2; the tests use it.
//   - On v2 only, clone3's CLONE_INTO_CGROUP starts the child in the
//     cgroup directly: in Go, open Path("") and pass the descriptor as
//     SysProcAttr.CgroupFD with UseCgroupFD set.
//
// # Removing a cgroup
//
// rmdir of a cgroup fails with EBUSY while it has processes. Destroy
// kills what is left and removes the directory, retrying for a moment,
// because a killed process stays a member until the kernel has finished
// tearing it down. (A zombie, on the other hand, does not keep the cgroup
// busy.) Destroy is idempotent, so a daemon can call it again after a
// crash, with the cgroup reopened by Load.
//
// The shared "berth" parent is never removed: another container may be
// created in it at the same moment.
//
// # Freezing
//
// A cgroup can also stop its processes where they stand: Freeze, then
// Thaw (docker pause and unpause). Nothing is signalled, so no process
// can notice, catch or ignore it, as it could SIGSTOP (which its parent
// would also see in waitpid). The point, besides pausing, is a
// consistent snapshot: while a container is frozen, nothing it runs can
// write a file, so its writable layer can be copied whole (docker commit
// pauses by default), with no file caught half written.
//
//	v1 (hierarchy "freezer")                v2 (any cgroup, Linux 5.2+)
//	echo FROZEN > freezer.state             echo 1 > cgroup.freeze
//	cat freezer.state: FREEZING ... FROZEN  cgroup.events: "frozen 0" ... "frozen 1"
//	echo THAWED > freezer.state             echo 0 > cgroup.freeze
//
// Freezing is not instant: each process stops the next time it is in
// the kernel, at once if it sleeps, at its next interrupt if it computes.
// Neither write waits for that, so Freeze waits itself. On v2 the kernel
// counts the stopped processes and sets "frozen 1" in cgroup.events when
// the last one stops. v1 has no such notification: the state is only
// recomputed when freezer.state is read, and reads FREEZING until every
// process has stopped. So on v1 Freeze must poll: read, and write FROZEN
// again (one more pass over the processes), until it reads FROZEN. A
// process in an uninterruptible sleep (a hung NFS server) cannot stop;
// after a few seconds Freeze thaws the cgroup again and fails, rather
// than leave it half frozen.
//
// The parent, "berth" above, is DefaultParent: Hierarchy.Parent names
// another (docker run --cgroup-parent, and final/'s engine, which gives
// each instance its own). On v1 the container also gets a directory in
// the hierarchies it sets nothing in (blkio, cpuset, devices, systemd's
// named one...): its cgroup namespace must have the container's own
// cgroup as root in every hierarchy a container sees (nsmount.go).
//
// The freezer is a v1 controller like memory, so on v1 a container's
// cgroup has a directory in the freezer hierarchy too, and Add puts the
// process there. On v2 it is a core file, there without any controller.
//
// A frozen process on v1 does not die of SIGKILL: the signal waits until
// the process runs again. Destroy therefore kills, then thaws; a daemon
// that kills a paused container does the same (v2 lets a fatal signal
// through a freeze).
//
// # Weights: sharing rather than capping
//
// Memory, CPUs and PidsMax are caps. The weights share what is there:
//
//	                   v1 file                     v2 file
//	CPUShares          cpu.shares (1024 default)   cpu.weight = 1 + (shares-2)*9999/262142
//	CpusetCpus/Mems    cpuset.cpus, cpuset.mems    cpuset.cpus, cpuset.mems (cpuset handed down only if asked)
//	MemoryReservation  memory.soft_limit_in_bytes  memory.low
//	OOMKillDisable     memory.oom_control = 1      (none: refused, ErrNoOOMKillDisable)
//
// Shares matter only when the CPUs are busy: two busy containers with
// 1024 and 512 get two thirds and one third. v2 counts weights from 1 to
// 10000 around 100; the conversion is runc's, so the same docker run
// weighs the same under berth and under Docker. A soft limit is
// reclaimed first under pressure on v1; v2's memory.low protects up to
// it instead, which is how runc maps it too. v2 has no switch that keeps
// the OOM killer away from a cgroup at memory.max (runc and dockerd
// 20.10 drop the option there with a warning): berth refuses it rather
// than run without it.
//
// # Limits of a process: rlimits
//
// A cgroup limits a group of processes together. The older resource
// limits (setrlimit(2), --ulimit) limit each process on its own: how
// many files it may open, how big a core dump may be, how far it may
// raise its real-time priority. The container's init sets them on
// itself before it starts the command, which inherits them; so does
// --oom-score-adj, the process's weight when the kernel picks a victim
// for lack of memory. rlimit.go compares the two kinds of limits.
//
// # The less common controls
//
// Swap and swappiness (swap.go), the CFS period (Resources.CPUPeriod),
// real-time CPU time (realtime.go), block I/O weights and throttles
// (io.go), huge pages (hugetlb.go), net_cls and net_prio (net.go) and
// raw v2 files (unified.go) each have a file that shows their v1 and v2
// files. They are written when set and otherwise left as the kernel
// made them (every caller's update merges, so a zero there means
// "unchanged"); the v1-only ones are refused on v2 by name, and
// Hierarchy.Supports tells a daemon at create what this host lacks.
//
// # This package is not
//
//   - The whole of the OCI spec's resources: no rdma, no CPU burst or
//     idle, no kernel memory limits (gone from the kernel).
//   - systemd-aware: on systemd hosts Docker can ask systemd to create a
//     scope instead of writing to the cgroupfs itself. berth writes
//     directly (Docker's "cgroupfs" driver), which is fine for a course but
//     means systemd does not know about these cgroups.
package cgroup
