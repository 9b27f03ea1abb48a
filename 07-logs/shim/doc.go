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
//	  |                     detached (Go): take shim.lock; pipes for stdio;
//	  |                       Runtime.Start: chapters 01-05 -> init, our child
//	  |  <-- report {pid}     state.json: running
//	  v  prints the ID        execve -> C monitor: read the pipes, write the
//	                            log, wait for init; exit.json; reap init
//	                          execve -> Go cleanup: Runtime.Cleanup (cgroup,
//	                            network); state.json: exited; exit
//
// The shim is the program itself re-executed, like init in chapter 01,
// under the name "berth-shim"; Runtime.Main, called first in main, makes
// it play the part. Its PID never changes: execve replaces the program in
// a process, but keeps its children and the file descriptors that are not
// close-on-exec. That is how one process goes from Go (to use the
// engine's code for start and clean-up) to C (to wait cheaply) and back.
//
// # Why part of it is in C
//
// A shim lives as long as its container, so its memory is paid once per
// container. A Go process idles at a few MiB, most of it pages of the
// binary that its start-up touched, and the more the binary holds, the
// more: measured here, a shim running the Go monitor (monitor.go) has
// 7.1 MiB of RSS in the chapter 07 program and 7.9 MiB in this package's
// test binary (a Go program that only sleeps: 2.3 MiB). With the C monitor
// (monitor.c) the same shim has 2.0 MiB, most of it glibc's shared pages
// (TestShimMemory prints both). Go still starts and cleans up: that code
// is the engine's (chapters 01-05) and runs for milliseconds. Without cgo
// (CGO_ENABLED=0, no C compiler) the Go monitor does the whole job.
//
// # What is on disk
//
//	<root>/names/<name> -> <id>          unique names: symlink(2) fails if taken
//	<root>/containers/<id>/
//	  config.json      Config: name, command, log options, the program's flags
//	  state.json       State, written atomically (temporary file, fsync, rename)
//	  exit.json        the exit status, from the monitor, until clean-up merges it
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
// # stop, kill and PID 1
//
// Stop sends SIGTERM, waits the grace period, then sends SIGKILL. The
// escalation is not a nicety: the kernel drops a signal sent to the PID 1
// of a namespace unless PID 1 installed a handler for it, and a shell does
// not handle SIGTERM (pitfall 7). SIGKILL is applied by the kernel itself.
package shim
