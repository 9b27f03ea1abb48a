// Package integration proves berth-runtime under the two engines that
// call an OCI runtime on a Linux machine today: containerd 1.6 (through
// its runc shim, as `ctr` and Kubernetes' CRI use it) and dockerd 20.10
// (`--add-runtime`). Its tests start each engine privately, drive it with
// its own command-line client, and run every step twice in the same
// test: once with Debian's runc, once with berth-runtime. What the
// clients print and the exit statuses they return must be the same.
//
// # Who calls the runtime
//
// Neither engine runs a container itself. Each asks a shim, a small
// process per container, to do it, and the shim runs the runtime's
// command line (runc's) for every step:
//
//	ctr run ──grpc──► containerd ──ttrpc──► containerd-shim-runc-v2 ──► RUNTIME create --bundle B --pid-file P
//	docker run ─api─► dockerd ──grpc──┘                              ──► RUNTIME start ID
//	                                        (one shim per container:  ──► RUNTIME state ID   (after each step)
//	                                         it is the subreaper that ──► RUNTIME exec --process F --detach
//	                                         the container's init is  ──► RUNTIME kill ID 9 / ps --format json ID
//	                                         left with, and it holds  ──► RUNTIME pause / resume / update
//	                                         the stdio FIFOs or pty)  ──► RUNTIME delete ID
//
// The runtime binary is an option of the shim: `ctr run --runc-binary
// PATH` sets it in the container's runtime options (BinaryName of
// io.containerd.runc.v2), and dockerd's `--add-runtime NAME=PATH` does the
// same for `docker run --runtime NAME`. So the one shim, containerd's
// own, drives runc and berth-runtime alike, and any difference in what
// the clients see is the runtime's.
//
// # What is compared, and what the clients themselves do
//
// containerd (TestContainerd_SameAsRunc): ctr run's output through the
// shim's FIFOs and its exit status; 100000 lines of output; the process's
// surroundings (ids, capabilities, no_new_privs, seccomp, cgroups,
// mounts with their options, /dev, namespaces, links) with the runtime
// named as --runtime io.containerd.runc.v2; ctr run's resource flags
// read back from the cgroups; --with-ns (joining another container's
// network and IPC namespaces by path); run -d, tasks exec (output
// and status), tasks ps, tasks metrics (the shim reading the cgroups it
// finds from init), pause and resume, kill, tasks rm, containers
// rm and what the runtime left (its state directory, the cgroups); a
// foreground run ended by ctr tasks kill (SIGTERM trapped, SIGKILL); a
// terminal for run -t and for tasks exec -t; exit statuses.
//
// dockerd (TestDockerd_SameAsRunc): run (output, -i, -t, exit statuses,
// a missing program), the environment under docker's default
// confinement (its seccomp profile, capabilities, device cgroup, the
// bound /etc files), run's options that become config.json fields (user
// and groups, capabilities, no-new-privileges, a read-only root and a
// tmpfs, hostname, cwd, env, sysctls, rlimits, oom-score-adj, cgroup
// limits), and a container's life: run -d, logs, exec (-t),
// top (the runtime's ps), pause, unpause, update (the runtime's update,
// read back from the cgroup), stop, start, commit and a run of the
// committed image, kill, wait, rm.
//
// Some of what the transcripts show is the clients' doing, the same
// whatever the runtime:
//
//   - ctr never closes a task's stdin at its own end of input: a
//     process that reads stdin under `ctr run` waits for ever (docker
//     run -i closes it: `cat` ends).
//   - ctr tasks rm returns 0 for a task killed by a signal, with a
//     warning naming the exit code; ctr run returns the status itself.
//   - A signal without a handler does not end the container's pid 1,
//     even SIGKILL sent from inside its namespace: `sh -c 'kill -9 $$'`
//     exits 0. From outside (ctr tasks kill -s SIGKILL) it does: 137.
//   - ctr resizes a terminal after the start: a process that reads its
//     size at once may find 0 0 (the tty scenario waits for the size).
//   - Each line written on the container's terminal comes out of ctr's
//     own terminal with \r\r\n: both terminals turn \n into \r\n.
//   - dockerd reads the runtime's error text: "no such file or
//     directory" (or "executable file not found") makes docker run
//     return 127, "permission denied" 126, anything else 125. A runtime
//     must say it runc's way for the statuses to match.
//   - dockerd 20.10 always sends linux.resources.blockIO.weight, 0 when
//     no --blkio-weight was given; runc takes 0 as "not set".
//   - dockerd's --cgroup-parent without a leading slash is a relative
//     cgroupsPath, which runc resolves from its own cgroup in each
//     hierarchy (the shim's, inherited from dockerd).
//   - The shim hands the runtime --log <bundle>/log.json --log-format
//     json, and reads the error from that file when the runtime fails:
//     a runtime that fails without writing it shows as "unable to
//     retrieve OCI runtime error (open .../log.json: no such file or
//     directory)".
//
// # What the tests touch
//
// Each engine gets a directory of its own (root, state, sockets, the
// runtime's --root, the logs): containerd with the CRI plugin disabled
// and a containerd namespace of the test's (which names the containers'
// cgroups: /<namespace>/<id>), dockerd through labtest.StartDockerd
// (--bridge=none, no iptables, a cgroup parent of its own). At the end
// every task is killed and deleted, every process that names the
// directory is killed, what is mounted under it unmounted, the cgroups
// removed, and the test checks that dockerd left no bridge and no
// iptables chain behind.
//
// The image is the course's busybox (scripts/mkrootfs), made into an
// image archive by chapter 06 (image.Store's Import, then Save): an OCI
// layout with Docker's manifest.json beside it, which `ctr images import`
// and `docker load` both read.
//
// # Running them
//
// The tests carry the build tag `oci`, so that scripts/test leaves them
// to scripts/test-oci (which .ci/run calls), with the runtime-tools
// validation (scripts/oci-validation) and critest (scripts/critest).
// BERTH_OCI_RUNTIMES=runc limits a run to runc (to check the harness
// itself). The benchmarks (`scripts/test-oci -run '^$' -bench .`) time
// `RUNTIME run` of a bare bundle and `ctr run --rm` per runtime, beside
// runc and crun, and measure the memory each running container costs.
package integration
