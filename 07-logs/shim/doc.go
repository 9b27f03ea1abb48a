// Package shim keeps containers that run in the background: a record of
// each container on disk, and for each running one a small supervisor
// process, the shim, that owns it.
//
// # Who holds a detached container?
//
// Until now the program that started a container waited for it: it was
// init's parent, it held the other ends of the container's stdio, and
// when the container exited it read the status and removed the cgroup.
// With `run -d` that program returns at once. Somebody else must still
//
//   - be init's parent, the only process that can collect its exit status
//     (wait4), or the kernel keeps it as a zombie;
//   - read the container's stdout and stderr, or the container blocks on
//     its next write once the pipe's buffer is full;
//   - write what it reads to the log (package logs);
//   - record the exit status on disk, so that ps, logs and a restarted
//     daemon find it;
//   - clean up afterwards: the cgroup, the network endpoint.
//
// Deferred clean-up in the command that started the container is wrong
// for a detached container (it removes the cgroup of a running container,
// pitfall 8). That somebody is the shim, one per running container, as in
// Docker (containerd-shim) and Podman (conmon).
//
// # The life of a shim
//
//	run -d (CLI)            berth-shim (one process, one PID throughout)
//	  |  StartContainer
//	  |  fork+exec -------> launch: a C constructor, before Go starts, forks;
//	  |  (reaped at once)   the parent exits, the child calls setsid():
//	  |                     an orphan, adopted by PID 1, in its own session
//	  |                     detached (Go): take shim.lock; pipes (or a terminal)
//	  |                       for stdio; Runtime.Start: chapters 01-05 -> init,
//	  |                       our child; wait until init executes the command
//	  |  <-- report {pid}     state.json: running
//	  v  prints the ID        for 100 ms, in Go: read the pipes, write the log;
//	                            if init exits meanwhile: exit.json, reap, on
//	                            to the clean-up without a C monitor
//	                          execve -> C monitor: read the pipes, write the
//	                            log, wait for init; exit.json; reap init
//	                          execve -> Go cleanup: Runtime.Cleanup (cgroup,
//	                            network); state.json: exited; exit
//	                          (or, if a daemon supervises the store, exit
//	                            and leave the clean-up to it: supervisor.go)
//
// The shim is the program itself re-executed, like init in chapter 01,
// under the name "berth-shim"; Runtime.Main, called first in main, makes
// it play the part. Its PID never changes: execve replaces the program in
// a process, but keeps its children and the file descriptors that are not
// close-on-exec. That is how one process goes from Go (to use the
// engine's code for start and clean-up) to C (to wait cheaply) and back.
// It is started from the sealed copy of the program its starter made
// (chapter 01's exe.go), and so is everything it re-executes, the
// container's init included: nothing it starts in the container leads
// back to the host's binary, and every shim shares that one copy.
//
// # Why part of it is in C
//
// A shim lives as long as its container, so its memory is paid once per
// container. A Go process idles at a few MiB, most of it pages of the
// binary that its start-up touched, and the more the binary holds, the
// more: measured here, a shim running the Go monitor (monitor.go) has
// 7.1 MiB of RSS in the chapter 07 program and 7.9 MiB in this package's
// test binary (a Go program that only sleeps: 2.3 MiB). With the C monitor
// (tuning_cmonitor.c) the same shim has 2.0 MiB, most of it glibc's
// shared pages (TestShimMemory prints both). Go still starts and cleans up: that code
// is the engine's (chapters 01-05) and runs for milliseconds. Go also
// supervises a container's first 100 ms (cMonitorAfter): the C monitor's
// start costs a millisecond or two, which a container that exits at once
// would wait for. Without cgo (CGO_ENABLED=0, no C compiler) the Go
// monitor does the whole job.
//
// # What is on disk
//
//	<root>/names/<name> -> <id>          unique names: symlink(2) fails if taken
//	<root>/containers/<id>/
//	  config.json      Config: name, command, log options, the program's flags
//	                   (written durably: temporary file, fsync, rename; an
//	                   Ephemeral container's without the fsyncs)
//	  state.json       State, replaced atomically (temporary file, rename); none
//	                   yet for a container never started (Created)
//	  exit.json        the last exit status, from the monitor: durable (fsync,
//	                   unless Ephemeral), kept until the next start
//	  shim.lock        flock-ed by the shim for its whole life
//	  stdin            a FIFO: an attached client writes the container's stdin here
//	  container.log    the log, and container.log.1 ... when rotated
//
// Whether a container runs is read from these files alone, so any
// process (a new CLI command, or a daemon restarted after kill -9) knows
// as much as the one that started it: state.json says running, exit.json
// does not exist yet, and the lock is held. A held flock cannot outlive
// its process, unlike a PID written in a file, which a new process can
// reuse. If the shim was killed, the lock is free while state.json still
// says running: the container is Dead, and the next start or rm cleans up
// after it (killing the orphaned container first).
//
// # Exit statuses, PIDs and pidfds
//
// The monitor learns of init's exit from a pidfd (it becomes readable),
// then looks at the status with waitid(WNOWAIT), which leaves init a
// zombie: its PID cannot be reused. It writes exit.json and only then
// reaps init. So as long as exit.json is missing, the PID in state.json is
// init's. Signal and Stop rely on this: they open a pidfd for the PID,
// then check that exit.json is still missing, and signal through the
// pidfd, which cannot hit another process.
//
// # Durable, and not
//
// Every start and every exit rewrites state.json, and those writes lie on
// the path of every run, so state.json is not flushed to disk (fsync
// costs half a millisecond here, twice with the directory). What must
// survive even a crash of the machine is flushed: the container's config
// and its exit status, exit.json, which the shim keeps beside the state
// until the container's next start. A daemon killed with kill -9 loses
// nothing either way: the files are in the page cache, and the shims go
// on writing them.
//
// # A command that cannot run
//
// The shim watches init's execve of the command through a pipe (see
// execWatch): init inherits its write end, which closes at the execve.
// Until then init is berth's Go code setting the container up; a stop
// must not meet it, so the start is reported only then. An init wrapped
// in ContainerInit that returns instead (the command does not exist, or
// cannot be executed) says so on the pipe first: the start fails, with
// init's message ("nosuch: executable file not found in $PATH"), and the
// state records it with init's status (127, 126), as Docker reports a
// failed start.
//
// # A terminal (run -t)
//
// With Config.Tty the container's stdin, stdout and stderr are the slave
// of a pseudo-terminal instead of pipes, and the shim holds the master:
// see tty.go. The log of a terminal has one stream, stdout, raw; Resize
// sets its window size.
//
// # stop, kill and PID 1
//
// Stop sends SIGTERM, waits the grace period, then sends SIGKILL. The
// escalation is not a nicety: the kernel drops a signal sent to the PID 1
// of a namespace unless PID 1 installed a handler for it, and a shell does
// not handle SIGTERM (pitfall 7). SIGKILL is applied by the kernel itself.
package shim
