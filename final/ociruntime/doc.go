// Package ociruntime is berth as an OCI runtime: the runc command line
// that containerd's shim, dockerd and Kubernetes (through containerd's
// CRI) call, driving the chapters' isolation code from a bundle's
// config.json instead of berth's own flags.
//
// A bundle is a directory with a config.json and (usually) the root
// filesystem. The caller gives it to `create`, which sets a container up
// and stops just short of running its process; `start` lets the process
// run; `state`, `kill` and `delete` do what they say. Between two
// commands nothing of berth-runtime runs: what one command leaves for the
// next is on disk, in <root>/<id>/ (state.go), and in the kernel (the
// container's init process, its namespaces and cgroup).
//
// # The pieces
//
//	bundle.go      config.json read, and refused by field name where berth applies nothing
//	namespaces.go  linux.namespaces, id mappings, hostname, sysctls, rlimits -> chapter 01
//	cgroups.go     linux.cgroupsPath -> chapter 02 (resources.go, devices.go translate the limits)
//	rootfs.go      root, mounts, devices, masked paths -> what init does in its mount namespace
//	security.go    user, capabilities, no_new_privs, seccomp -> what init does last
//	init.go        the container's init: all of the above, in order, then execve
//	create.go start.go kill.go delete.go run.go   the commands
//	hooks.go       config.json's hooks, and where each kind runs
//	console.go     process.terminal and --console-socket
//
// # create and start: the exec FIFO
//
// The runtime spec splits running a container in two: `create` must do
// everything (namespaces, mounts, cgroup, user) except run the user's
// program, and return; `start`, a later and separate process, runs it.
// Between the two the caller does its own work (containerd's shim reads
// the pid file and wires up I/O; a CNI plugin, run from a hook, plumbs
// the network namespace). So the container's init must wait, fully set
// up, for a process that does not exist yet, and create's process must
// exit meanwhile. The meeting point is a FIFO in the state directory,
// which both sides open by name:
//
//	caller      create (exits)                init (stays: the container)          start
//	──────      ──────────────                ───────────────────────────          ─────
//	create ──▶  mkdir <root>/<id>, mkfifo exec.fifo
//	            cgroup made
//	            fork init ──────────────────▶ blocked reading its spec (fd 3)
//	            init into the cgroup
//	            hooks: prestart, createRuntime
//	            spec ───────────── fd 3 ─────▶ Setup: hostname, rlimits, sysctls, lo
//	                                          Rootfs.Prepare: config.json's mounts
//	                                          hooks: createContainer
//	                                          Rootfs.Pivot: pivot_root, masked paths
//	                                          terminal, cwd
//	                                          Security.Apply: uid, caps, seccomp ... ┐
//	            wait on the sync pipe ◀─ "ready" ─ beforeExec: process found on PATH │
//	            save state.json, pid file     open(exec.fifo, O_WRONLY)  ... blocks  │
//	  ◀── exit 0                                   │                                 │
//	(init re-parented to the caller's              │                                 │
//	 subreaper: containerd's shim)                 │                                 │
//	start ────────────────────────────────────────────────────────────────────────▶ pidfd of init
//	                                               │ ◀────── open(exec.fifo, O_RDONLY)
//	                                          write "0" ───────────────────────────▶ read "0", rm exec.fifo
//	                                          hooks: startContainer                  │
//	                                          execve(process.args)  ─── EOF ───────▶ hooks: poststart
//	  ◀── exit 0 ──────────────────────────────────────────────────────────────────
//
// Why each step is where it is:
//
//   - The state directory is made first, with mkdir: it is the claim on
//     the ID, and a second create of the same ID fails there, before
//     anything else exists.
//   - The cgroup exists before init, and init joins it before it reads
//     its spec: everything init does is accounted and limited, and the
//     cgroup namespace init makes (chapter 01's Setup) is rooted there.
//   - prestart and createRuntime hooks run on the host once init exists
//     (its namespaces are there to be plumbed, its PID is known) and
//     before it reads its spec, so nothing inside runs before them.
//   - createContainer hooks run in init, in the container's namespaces,
//     after the mounts but before pivot_root: their paths still resolve
//     on the host, as the spec says. startContainer hooks run after
//     start released init, inside the root.
//   - Init reports "ready" (or why it failed) on a sync pipe just before
//     it blocks on the FIFO, so create fails with init's reason, and the
//     pid file is written only for a container that is really set up.
//     The executable is looked up before that, so a missing one fails
//     create, not start, as with runc.
//   - The FIFO is opened through a descriptor of the state directory
//     that init inherited: after pivot_root the host's path is out of
//     its reach. The FIFO is writable by the container's root, which
//     with a user namespace is an unprivileged host uid.
//   - The wait sits inside Security.Apply (R2's, in runc's order), at
//     the point runc has it: after the user and capabilities are set,
//     before a late seccomp filter, so the filter need not allow what
//     the wait and the hooks do.
//   - start opens the FIFO without blocking and polls it beside init's
//     pidfd: if init died meanwhile, start says so instead of hanging.
//     The pidfd is taken first: once the FIFO is open, a process as
//     short as `true` may have come and gone.
//   - Init keeps its end of the FIFO open, close-on-exec, until execve:
//     start reads to the end of file, so it returns (and runs poststart)
//     only once the process runs, as the spec wants.
//   - create's process then exits, and init with it becomes a child of
//     the caller's subreaper (containerd's shim sets PR_SET_CHILD_SUBREAPER),
//     which reaps it and reports its exit status. init is forked
//     Detached: no parent-death signal.
//
// The gate lives here, not in chapter 01. Chapter 01's "go" byte travels
// on the spec pipe, from the process that started init, which it can do
// only while that process lives: the course's programs stay until their
// container ends. Here the starter exits and another process (start)
// must find the container by name, hence a FIFO in the state directory;
// and where the wait happens is decided by the security steps around
// it, which are this package's. Chapter 01 is used as the course teaches
// it (Start, SendSpec, Setup), its Go left unused. What a bundle needed
// of it was added there, small: three more namespaces a container may
// join by path (uts, cgroup, and mount, by a forking thread with a
// filesystem state of its own), the host's uts namespace (HostUTS), the
// mount propagation of the new namespace (Spec.Propagation: runc's
// rslave rather than the course's private), and an optional binary to
// start init from (tuning_exe.go).
//
// # What the status is
//
// Nothing records "running" or "stopped": the status is read from the
// kernel each time (Record.Status). Init gone, or its PID now someone
// else's (the start time in /proc/PID/stat differs): stopped. The FIFO
// still there: created. The freezer frozen: paused. Otherwise running.
// Signals and waits go through a pidfd checked against that start time,
// so a reused PID is never signalled.
//
// # Cgroups
//
// Without systemd, runc reads linux.cgroupsPath as a path under each
// hierarchy's root: "/default/abc" is <mount>/default/abc (containerd),
// "/docker/abc" dockerd's, "/kubepods/.../abc" the kubelet's, and
// "/abc" a cgroup at each root (chapter 02's Hierarchy.AtRoot). A
// relative path starts from the runtime's own cgroup in each hierarchy,
// as runc's does (cgroups.go: hierarchiesFor), and a systemd
// "slice:prefix:name" (which needs --systemd-cgroup, refused) is one
// such relative directory name, as runc reads it without that flag. An empty path is /berth-runtime/<id>
// (DefaultCgroupParent). delete removes the
// container's directories, never the parent, which others may share.
//
// # Speed
//
// A runtime is started for every step of every container, so its own
// start-up is on everyone's path. What berth-runtime does about it, each
// where it is explained:
//
//   - init starts from a detached read-only mount of the binary, not a
//     10 MB memfd copy (tuning_exe.go): 9 ms of each create;
//   - run opens the exec FIFO and init's pidfd at create, so init does
//     not wait for a wake-up of run to go on (Container.gate);
//   - init is forked from what decides its fork (linux.namespaces, the
//     id mappings), while the whole bundle is decoded and checked and
//     the cgroup made, and it runs with GOGC=off and GOMAXPROCS=1
//     (tuning_start.go);
//   - run installs the handlers of the signals it forwards while create
//     runs (chapter 01's tuning_signals.go);
//   - the commands after create decode two fields of the recorded
//     config.json, not the whole spec (recordedConfig), and run passes
//     its own along instead;
//   - delete removes an idle cgroup's recorded directories without
//     reading the mount table;
//   - only an init started ahead of need warms its JSON decoder
//     (chapter 01's tuning_prestart.go).
//
// BenchmarkRun (final/cmd/berth-runtime) alternates berth-runtime and
// runc on a bare bundle. What is left is mostly the kernel's (cgroup v1
// directories in nine hierarchies, namespaces, mounts, page faults) and
// two Go programs' start (the runtime, then init), which the command's
// build keeps short: linked statically (with -tags netgo), without the
// man-page generator (final/cmd/berth-runtime's tuning_static.go and
// tuning_docs.go).
// docs/performance.md compares it with crun.
//
// # run
//
// run is create and start in one process that stays: init is its child
// (forked with a parent-death signal, unless --detach), its signals are
// forwarded to init, and run exits with the process's status (128+N for
// a signal N) once the container is deleted (unless --keep).
package ociruntime
