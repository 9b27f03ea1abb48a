// Package nsenter starts a new process inside a running container: the
// mechanism of `docker exec` (S37).
//
//	cmd, err := nsenter.Command(nsenter.Options{
//		Pid:         initPid,                 // the container's PID 1, on the host
//		CgroupProcs: procsFiles,              // <cgroup dir>/cgroup.procs, one per hierarchy
//		Args:        []string{"sh", "-c", "ps"},
//		Env:         env,                     // the container's, with exec's -e merged in
//	})
//	cmd.Stdin, cmd.Stdout, cmd.Stderr = ...
//	status, err := cmd.Run()                  // 127: not found, 126: cannot run, 128+N: signal N
//
// # What "inside" means
//
// A container is a process tree that the kernel shows a different world:
// its namespaces (chapter 01), its cgroup (chapter 02), its root
// filesystem, which is its mount namespace (chapter 03), its
// capabilities and user. `docker exec` must give a new process all of it,
// so that `hostname`, `ls /`, `ps` and `ip addr` answer as the container's
// own command would, and the container's limits hold for it too. The
// namespaces are joined with setns(2) on the files /proc/PID/ns/*; the
// cgroup by writing to cgroup.procs; the rest is a matter of credentials
// before execve.
//
// # Why there is C in this package
//
// setns(2) refuses to move a process that has more than one thread into
// another mount namespace or user namespace: EINVAL (pitfall 3; moby#5926,
// runc#1795). A mount namespace is a property of the whole process (its
// filesystem root and working directory are shared by all threads), and
// the kernel will not leave threads of one process in different ones. A
// Go program has several threads before the first line of main runs, and
// no way to go back to one. So whatever enters the container's mount
// namespace must run before the Go runtime starts, or be another program.
// Three designs are known:
//
//  1. An ELF constructor in C (runc's nsexec, and the one used here). The
//     dynamic loader runs constructors before it hands control to the Go
//     runtime, while the process still has one thread. nsenter.c's
//     constructor runs in every process of a program that links this
//     package, returns at once unless argv[0] is "berth-nsenter", and
//     otherwise enters the namespaces and lets the Go runtime start
//     inside them.
//  2. A separate, single-threaded helper program (util-linux's nsenter).
//     It is a second file to build, install, find and trust on the host;
//     being a host binary run inside containers, it is exposed to the
//     same attack as ours (below) without being ours to protect; and the
//     rest of the work (users, capabilities, the Go code of chapter 03)
//     would have to be redone in its language.
//  3. Forking from a process that is already inside, for instance asking
//     the container's init to start the command. Without --init, PID 1 is
//     the user's own program, which knows nothing of berth; with it,
//     berth-init would need a control channel into the container, and it
//     has already given up what exec needs: it is the container's user,
//     with the container's capabilities, and cannot see the host's cgroup
//     filesystem.
//
// The constructor keeps one binary, needs no extra process in the
// container, and lets the Go part of the work (rootfs.DropCapabilities,
// namespace.LookPath) be the chapters' code, imported. Its price is cgo:
// built with CGO_ENABLED=0 a program has no constructor, and Command
// returns ErrNoCgo. There is no pure Go fallback: nothing written in Go
// runs early enough.
//
// # The sequence
//
// Start re-executes the program (from a sealed copy, below) with argv[0]
// "berth-nsenter". Everything happens in that new process and its child:
//
//	caller (daemon)          helper "berth-nsenter"               child
//	---------------          ----------------------               -----
//	Command: which ns
//	differ from ours,
//	their inodes
//	Start ---exec--------->  [C constructor, one thread]
//	                         non-dumpable; fds >= 4 close-on-exec
//	                         open cgroup.procs files (host view)
//	                         open /proc/PID/ns/* (host view),
//	                           check each inode: still that container?
//	                         setns(pid): for children only
//	                         fork ------------------------------>  [C, one thread]
//	                         |                                     setns(user) first,
//	                         | waiter: stays in the host's          then ipc, uts, net,
//	 <--- "pid N" ---------- |   namespaces, not in the container's cgroup, mnt
//	      status pipe        |   cgroup; relays signals             return -> Go runtime
//	                         |                                     starts, inside
//	                         |                                     [Go: inside.go]
//	                         |                                     setsid + TIOCSCTTY (-t)
//	                         |                                     setgroups/setgid/setuid
//	                         |                                     seccomp filter (the container's)
//	                         |                                     DropCapabilities, no_new_privs
//	                         |                                     chdir, LookPath in its PATH
//	                         |                                     write "0" to cgroup.procs
//	 <--- EOF ------------------------------------------------    execve(command)
//	Start returns            |                                     ... the command runs ...
//	Wait  <--- exit status - waitpid: its status (128+N if killed)
//
// Opening first. Every file is opened before the first setns: once in the
// container's mount namespace, /proc and /sys/fs/cgroup are the
// container's, where the host's PID means something else and the host's
// cgroup directories do not exist. The namespace files are checked
// against the inodes Command read, so that a PID reused by another
// process since is not entered by mistake.
//
// The user namespace first. Entering it gives the process every
// capability within it, which joining the namespaces it owns requires of
// an unprivileged caller. Until setuid the process is the host's root,
// which a user namespace does not map; becomeUser then makes it the
// namespace's uid 0 (host uid 100000) or whatever -u asked for.
//
// The PID namespace and the fork. A process's PID cannot change, so
// setns(CLONE_NEWPID) only decides where the caller's next child is born.
// The helper forks after joining it; the child is the one that becomes the
// command. The parent must stay: only a process's parent learns its exit
// status, and a child whose parent exits is re-parented to the host's init
// (the kernel does not hand it to the container's init, since the parent
// was never in the container), or to the nearest "subreaper" ancestor. runc
// exits its intermediate processes and makes `runc exec` a subreaper;
// here the caller is a daemon, and becoming a subreaper would make it the
// parent of every orphan its other children leave. So the parent stays as
// a waiter: a C loop of sigwaitinfo and waitpid, about 1.7 MiB resident
// with one thread, that never enters the container and never runs Go. It
// relays every signal it can catch to the child (Cmd.Signal sends SIGKILL
// and SIGSTOP, which it cannot, directly), and exits with the child's
// status.
//
// An OCI runtime's exec is the other case (Options.Detach): `runc exec
// --detach` is called by containerd's shim, a subreaper, which wants the
// command as its own child, to reap it and report its status, and
// signals it by the PID it reads from --pid-file. There the waiter
// writes the PID and exits at once, and the kernel hands the command to
// the shim, the nearest subreaper among the waiter's ancestors.
//
// The cgroup last. The cgroup.procs files are opened by the host's root
// in the host's view, but written to just before execve. The kernel
// checks a write to cgroup.procs against the credentials and cgroup
// namespace of whoever opened the file, so the child can still move
// itself once it is an unprivileged user in the container's namespaces;
// writing "0" means "the writer", whose PID in the container would mean
// nothing to the host's cgroupfs. Joining late keeps the Go runtime out
// of the container's limits: its threads would count against pids.max
// (a container limited to one more task could not exec at all), and the
// memory it touches would be charged to the container for good (a
// charge does not move with the process). A move may exceed pids.max; the
// limit refuses forks only; execve then ends every thread but one.
//
// The status pipe. Start reads the helper's fd 3 until end of file: the
// waiter writes the child's host PID and closes its end; the child's end
// is close-on-exec, so it closes when execve succeeds. An "error" line
// before that means the process could not get into the container (it has
// exited, setns failed, the user could not be set), and Start returns it.
// A command that does not exist or cannot be executed is not an error of
// Start: as a shell would, the process writes the reason on its stderr
// and exits 127 or 126, which Wait returns, as `docker exec` reports them.
//
// A terminal (docker exec -t). The caller passes a pty slave as the three
// streams. The child starts a session of its own and makes the slave its
// controlling terminal, so that ^C reaches the command's foreground job and
// a shell can do job control. The waiter is in another session (Start
// gives it one, away from any terminal the caller runs in) and closes its
// copies of the streams at once: the caller reading the pty master sees
// the end when the command's side closes, not when the waiter exits.
//
// # CVE-2019-5736: the runtime binary as a target
//
// A process that entered a container is visible in the container's /proc,
// and /proc/PID/exe is a handle on the file it was started from: for
// runc, the host's runc binary. A container that got hold of it (by
// ptrace-like access to /proc/PID/exe, or by making its /bin/sh a script
// that starts "#!/proc/self/exe", which the kernel resolves to the
// runtime's binary while the runtime is the one calling execve) could
// reopen it for writing once the runtime had exited, replace the host's
// binary, and be run as root by the next exec (pitfall 12). This package:
//
//   - starts helpers from a sealed copy of the program, made once per
//     process in a memfd (chapter 01's exe.go), never from the file on
//     disk. Through
//     /proc/PID/exe a container reaches only that copy, and the seals
//     refuse every write, truncation and resize. (Or from Options.Exe:
//     berth-runtime, a process per exec, passes its binary on a
//     detached read-only mount, which refuses writes as well, and costs
//     two system calls instead of a copy of the program each time);
//   - makes the helper non-dumpable before it enters anything, so that
//     even the container's root cannot open its /proc/PID/exe, fd/ or mem
//     while it runs in the container (that takes CAP_SYS_PTRACE in the
//     host's user namespace);
//   - keeps the waiter out of the container: it never joins the
//     container's PID namespace (so the container's /proc does not show
//     it) nor any other;
//   - lets nothing of the host cross: every descriptor above the status
//     pipe is made close-on-exec first (a caller may hold some without the
//     flag, inherited from whoever started it: runc's CVE-2016-9962 leaked
//     a directory that way), the namespace files are closed before Go
//     starts, the cgroup.procs files and the status pipe at execve, and
//     the helper's own environment (the JSON config) is replaced by the
//     command's;
//   - replaces the helper with the command by execve: once Start returns,
//     no code of berth runs in the container.
//
// The price of the sealed copy is memory: one copy of the program per
// process that calls Start (the size of the binary, held until it exits),
// the same copy that process starts its shims and containers from.
//
// # Two ways in: a helper, or the fork server
//
// Command starts a helper per process: simple, nothing left running
// between execs, but each exec starts this 20 MB program and its Go
// runtime, some 8 ms of CPU. That is fine for docker exec, and far too
// much for health checks, which are execs run every few seconds in every
// container that has one. Server is the other way in, for them:
//
//	daemon                      fork server (C, one thread)       child
//	------                      ---------------------------       -----
//	StartServer ---exec------>  [nsenter.c's constructor sees
//	                             "berth-nsenter-server": server.c,
//	                             the Go runtime never starts]
//	                            non-dumpable, in the host's
//	                            namespaces, in no container
//	Cmd.Start:
//	  one message (config,
//	  seccomp program) and,
//	  by SCM_RIGHTS, stdio,
//	  the error and wait
//	  pipes, the ns files,
//	  cgroup.procs files ------> setns(pid ns): for children only
//	                            fork --------------------------->  setns user, then the others
//	 <-- "pid N" (wait pipe) -- |                                  early cgroups, user, keyring,
//	                            |                                  seccomp, capabilities,
//	                            |                                  no_new_privs, chdir, PATH,
//	 <-- EOF (error pipe) ---------------------------------------  cgroups, execve
//	Wait <-- "exit S" -------- waitpid
//
// The child does in C what the helper's child does in Go (inside.go),
// step by step in the same order, with the same results: the same
// capabilities in all five sets, the same filter (compiled by the caller
// for the same capabilities), the same statuses and messages for a
// command that cannot run. TestServer_SameAsCommand runs every exec
// test of this package again through a server. The server stays in the
// host's namespaces and points only its "PID namespace for children" at
// the container's before each fork, so no container sees it in its /proc,
// and it is not in any container's cgroup: its threads and memory count
// against no pids.max or memory limit (the children join the cgroup last,
// by the cgroup.procs files the caller opened, as a helper's child
// does). A Cmd that runs again and again (Again) can Hold its files,
// opened once.
//
// Why a server in C and not the alternatives. A server in Go, kept in
// the container, would be visible there, counted in its pids.max, and
// could not set per-thread credentials for the children it forks (Go's
// os/exec gives no hook between fork and execve for a keyring or a
// cgroup). Doing the whole helper in C (no Go runtime, still one execve
// of this program per exec) would cost the start of a 20 MB dynamically
// linked program each time. The price of the server: a second
// implementation of the Go part of entering, in C (rootfs's Go code
// stays the implementation the containers' init runs), one more host
// process (1.8 MiB resident, measured), and namespaces kept alive by the files
// a held Cmd keeps open, until Release.
//
// Measured (BenchmarkExecTrue: `true` in a container, the CPU time of
// an exec, the caller's and the helper's or the server's with the
// children it reaped; the 2-core VM at a load average of 15, 200 execs):
//
//	                                       caller    helper/server   together
//	helper (Command)                       1.25 ms   7.96 ms         9.2 ms
//	server                                 0.24 ms   1.20 ms         1.44 ms
//	server, no cgroup to join              0.27 ms   1.05 ms         1.32 ms
//	server, no cgroup, no seccomp filter   0.18 ms   0.90 ms         1.08 ms
//
// The last line is about what any fork and execve of `true` costs on
// this machine at that load: the server adds little to it. A profile
// (perf, the server and its children, 6000 execs) splits an exec's CPU
// so: `true` itself, from its execve to its exit, 36 %; the fork and
// the copy-on-write faults that follow it 23 %; loading the seccomp
// filter (the kernel checks and JIT-compiles it for each process) 18 %;
// the cgroup v1 joins 7 %. The filter's share is the one the next step
// saves: a zygote.
//
// # A zygote per command
//
// A health check runs the same command, as the same user, with the same
// filter, in the same container, every few seconds. Most of what the
// server's child does is then the same each time: join six namespaces,
// change user and groups, load and JIT-compile the filter, drop some
// forty capabilities from the bounding set. Cmd.StartZygote (on a held
// Cmd) has the server fork one process that does it once, and forks
// every Start of that Cmd from there:
//
//	daemon                    server            zygote (one per held Cmd)      check
//	------                    ------            -------------------------      -----
//	StartZygote: the request
//	  with "zygote", and its
//	  control socket -------> fork, in the ---> PDEATHSIG; closes all the
//	                          host's PID ns     server's fds but its own;
//	                                            setns(pid): for children;
//	                                            setns user, the others;
//	                                            user, groups, keyring,
//	                                            seccomp, capabilities,
//	                                            no_new_privs; a probe child
//	 <-- "ready" ------------------------------ (the filter lets it work)
//	Start: 5 fds, no config -------------------> clone (vfork) ---------->  dup2 stdio,
//	 <-- "pid N" ------------------------------ |                          cgroups, own
//	 <-- EOF (error pipe) ----------------------------------------------   keyring, chdir,
//	 <-- "exit S" ----------------------------- waitpid                    PATH, execve
//
// Why each property holds:
//
//   - The same confinement. The zygote does what run_child does, in the
//     same order, and its children inherit all of it: namespaces, user,
//     groups, the filter, the five capability sets, no_new_privs. What
//     may differ between two runs stays in the child: the streams, the
//     cgroup (joined last, so that a pids.max counts only the check), a
//     session keyring of its own (so that two checks share none), the
//     working directory and the PATH lookup (the image may change).
//     TestServer_SameAsCommand runs every exec test of this package a
//     third time, through zygotes.
//   - Invisible to the container. The zygote is born in the server's
//     (the host's) PID namespace and stays there: setns(CLONE_NEWPID)
//     only says where its children are born. No container's /proc shows
//     it, so no process of the container can name it to ptrace, signal
//     or open it; it is not dumpable either (set again after the change
//     of user, which resets it). It is in no cgroup of the container:
//     pids.max and the memory limit do not count it.
//   - Nothing of the host's. It closes every descriptor it inherited
//     from the server but its own request's: its control socket, a
//     signalfd, /dev/null and the cgroup.procs files, all close-on-exec
//     (TestServer_Zygote lists them).
//   - It dies with its owner. Release closes the control socket: the
//     zygote ends once its running commands have. The server's end kills
//     it (PR_SET_PDEATHSIG, set again after the change of user, which
//     clears it). When the container's init exits, the next fork fails
//     (ENOMEM, the PID namespace is dead) and the daemon releases the Cmd
//     at the run's end anyway.
//   - The filter applies to the zygote too, so the zygote must be able to
//     do its own work under it: fork, wait, poll, recvmsg. A probe child
//     tries them before "ready"; a filter that refuses one makes
//     StartZygote fail, and the Starts go through the server, one fork
//     each, as before. The probe also tries keyctl: under Docker's
//     default profile, which refuses it, no check can make or use a
//     keyring, so the children keep the zygote's (empty) one; where the
//     filter allows it, each child joins a new one, as run_child does.
//
// Its price: one more process per container with a check (its pages
// are mostly the server's, copy-on-write: 1.6 MiB resident, 0.23 MiB
// proportional, 44 KiB its own, measured by TestServer_Zygote), which
// holds the container's namespaces alive as the held files already did;
// and one more piece of C, which TestServer_SameAsCommand and
// TestServer_Zygote keep honest. A terminal gets no zygote (a check never
// has one).
//
// The zygote starts each command with clone(CLONE_VM|CLONE_VFORK) on a
// stack of its own, as posix_spawn does, not fork: the child shares the
// zygote's memory until its execve (the zygote waits for that), so there
// are no page tables to copy and no copy-on-write faults. It writes only
// its stack and its own descriptor table (CLONE_FILES and CLONE_FS are
// not set).
//
// Measured (BenchmarkExecTrue, 300 to 1000 execs of `true`, load
// average 4 to 7), the server's side of an exec: 0.88-0.99 ms through a
// zygote, 0.96-1.21 ms through a zygote that forked, 1.13 ms by a fork
// of the server (the same run as the zygote's 0.90); the caller's side
// 0.18-0.42 ms either way.
//
// # Probe: the caller's side of a check
//
// Once the server's side was small, the daemon's Go side of a check
// cost as much again: Start and Wait make three pipes, a goroutine that
// copies the output, one that waits for the copy, one that waits for the
// exit, a timer, a bufio.Reader. Cmd.Probe (check.go) is Start and Wait
// for a held Cmd whose output goes to a bounded buffer, on the caller's
// goroutine alone:
//
//	daemon (Probe)                zygote                 check
//	pipe2 x2, sendmsg 5 fds --->  clone (vfork) ------>  execve
//	   out, out, ans, ans                                writes to out
//	wait on the Prober's          "pid N" on ans         exits
//	epoll set: out's data,        waitpid, "exit S",
//	ans's end, the Cancel         closes ans and its
//	                              copy of out
//	<--- one wake-up: both ends ---
//
// The error pipe and the wait pipe are one pipe (the answer, ans), sent
// twice: a zygote's child writes its error before the zygote writes
// "pid" (it is suspended until the child's execve or exit), a server's
// child in any order, and an error line at any time means nothing ran.
// The zygote keeps its copy of the check's stdout until it reaps the
// check, so the ends of out and ans come together: one wake-up for a
// quiet check. The answer is read only at its end, or early to learn
// the PID to kill at the deadline or on Cancel.
//
// Two lessons of the profile (perf of BenchmarkHealthChecks) are in its
// waiting. A goroutine blocked in poll(2) keeps its P busy, and the Go
// runtime's sysmon thread, which sleeps deeply only while every P is
// idle, naps 20 µs at a time for as long as the check runs: the caller
// waits on Go's poller instead, through an epoll set per Prober that the
// poller watches as one descriptor (registered once, not two pipes per
// check). And a system call made through syscall.Syscall wakes sysmon
// from its deep sleep too, to its shortest nap: the calls that cannot
// block are made raw (tuning_probe.go). BenchmarkExecTrue, the caller's
// CPU per exec of `true` through a zygote, load 7 to 19: Start and Wait
// 137-201 µs; Probe waiting in poll(2) 155-181 µs, on the poller with
// raw calls 105 µs, with one wake-up 72 µs.
//
// # Who does what
//
// The caller (the daemon's exec) decides what to run and as whom: it
// resolves docker exec -u NAME through the container's /etc/passwd, merges
// the container's environment with -e, and knows the container's cgroup
// (cgroup.Cgroup.Dirs) and capabilities. This package only enters and
// executes. It does not refuse a paused container: Start would block
// until the container is thawed (Docker refuses to exec into a paused
// container, and so should the caller).
package nsenter
