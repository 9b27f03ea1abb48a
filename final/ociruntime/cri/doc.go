// Package cri proves berth-runtime where Kubernetes would use it: behind
// containerd's CRI plugin, as a runtime handler, judged by Kubernetes'
// own validation suite for container runtimes, critest
// (sigs.k8s.io/cri-tools), beside runc in the same run.
//
// A kubelet never calls an OCI runtime. It speaks the Container Runtime
// Interface (gRPC) to containerd; containerd's CRI plugin turns each pod
// and container into an OCI bundle and hands it to a shim, and the shim
// calls the runtime binary with runc's command line. A RuntimeClass
// names a handler, and the handler names the binary:
//
//	kubelet / critest ──CRI──▶ containerd ──▶ containerd-shim-runc-v2 ──▶ runc
//	                           handler "runc"                          │
//	                           handler "berth" ── BinaryName ─────────▶ berth-runtime
//
// So critest exercises, through berth-runtime, what a node does all
// day: pod sandboxes with shared namespaces, exec and attach through the
// shim, logs, port forwarding, security contexts (users, groups,
// capabilities, no_new_privs, seccomp, masked and read-only paths), stop
// and remove. Running the same suite with runc's handler in the same
// containerd gives the yardstick: on this machine some specs fail for
// reasons of the machine, of containerd 1.6 or of the stand-in images,
// and they fail for runc too. berth is held to runc, spec by spec.
//
// What lives here:
//
//   - containerd.toml and cni.conflist: the templates scripts/critest
//     fills for a private containerd (its own root, state, socket, CNI
//     bridge and subnet). The berth handler's lines are the ones
//     docs/kubernetes.md gives a cluster operator.
//   - images.go and standin/: the images critest asks for, made offline
//     from the project's busybox base (scripts/mkrootfs) under the names
//     critest uses, plus the few programs busybox cannot stand in for
//     (the pause process, nginx's master process, a setuid program for
//     the no_new_privs specs, pgrep and ipcs). critest pulls an image
//     only when its name is missing, so they are imported, not served.
//   - results.go: critest's JUnit report read as spec → outcome, and the
//     judgement: every spec runc passes and berth fails must be listed,
//     with its reason, in testdata/berth-differences.txt.
//   - critest_test.go (build tag oci, run by scripts/test-oci): one run
//     of scripts/critest with both handlers, judged.
package cri
