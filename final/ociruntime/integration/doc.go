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
