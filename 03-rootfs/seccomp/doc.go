// Package seccomp gives a container Docker's syscall filter: a small
// program that the kernel runs at every system call the container makes,
// and that answers "go ahead" or "fail with EPERM".
//
// # Why filter syscalls
//
// Namespaces change what a process sees, capabilities what root may do.
// Neither shrinks the kernel that the container talks to: about 450
// system calls, some of them rarely used, some of them not aware of
// namespaces at all. keyctl and add_key reach the kernel's keyrings,
// which belong to users, not to containers; a container's root could
// read or fill the host root's keys. unshare(CLONE_NEWUSER) makes a new
// user namespace in which the process is root again, with every
// capability, and from there a large, often-buggy part of the kernel
// (mounting filesystems, netfilter) is open to it. Many kernel exploits
// start with a syscall that no ordinary program needs.
//
// Docker's answer is an allow-list, its default profile: it names about
// 370 syscalls that programs use (306 of them exist on x86_64), and
// everything else fails with EPERM. `grep Seccomp /proc/self/status` shows 2 (filter mode) in every
// container.
//
// # The profile depends on the capabilities
//
// Some syscalls are allowed only to a container that keeps a capability:
// mount, unshare, setns and clone with namespace flags only with
// CAP_SYS_ADMIN, reboot with CAP_SYS_BOOT, perf_event_open with
// CAP_PERFMON. So the same profile gives a different filter for
// `--cap-add SYS_ADMIN`, and Compile takes the capabilities the command
// keeps. moby's own package (github.com/moby/profiles/seccomp, the data
// and the code that dockerd uses) resolves those conditions, and the
// kernel version ones, to a plain list of rules; this package compiles
// that list.
//
// # A filter is a classic BPF program
//
// The kernel hands the program a struct seccomp_data: the syscall number,
// the ABI (AUDIT_ARCH_*), the six arguments. The program loads 32-bit
// words from it, compares, jumps forward, and returns a verdict
// (SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO|EPERM, ...). There are no loops,
// so every syscall is decided in a bounded number of steps.
//
//	syscall(nr, args) ──► kernel entry ──► filter(seccomp_data)
//	                                          │
//	         ┌─────── ALLOW ◄─────────────────┤ ld arch; is it x86_64?
//	         ▼                                │ ld nr;  binary search over
//	    the syscall runs          ERRNO ◄─────┘        ranges of numbers
//	                              │                  (+ argument checks:
//	                              ▼                   clone's flags)
//	                     returns -1, errno=EPERM
//
// What Compile emits for Docker's profile (bpf.go draws it in more
// detail):
//
//   - First the ABI. An x86_64 kernel also runs i386 (int 0x80) and,
//     when enabled, x32 syscalls, each with its own numbering: 250 is
//     keyctl on x86_64 and fadvise64 on i386. A filter that forgot the
//     ABI would be bypassed by calling through the other one.
//   - Then the number, by binary search over ranges that end alike
//     (Docker's 306 allowed x86_64 syscalls fall into some 65 ranges),
//     instead of one comparison per syscall: about 7 tests a syscall,
//     727 instructions for the three ABIs.
//   - Then, for a few syscalls, the arguments: clone is allowed only if
//     none of the CLONE_NEW* flags are set (Docker masks arg 0 with
//     0x7e020000); personality only for a few values; socket only for
//     the address families the kernel still implements (not AF_VSOCK).
//     Arguments are 64 bits, BPF words 32, so each comparison is made
//     of two.
//   - Syscalls newer than any the profile names get ENOSYS rather than
//     EPERM, as runc does: a C library that tries clone3 or openat2 and
//     gets ENOSYS falls back to the old call; EPERM it takes as final.
//
// # Who does what
//
// The host compiles (Compile, cached per profile and capability set:
// berthd's spare shims compile Docker's profile ahead); the program
// travels to the container's init in its JSON spec, 8 bytes an
// instruction, base64; the init loads it with one seccomp(2) call
// (Filter.Load). The init thus needs no parser, no profile and no
// compiler, and what runs in the container is exactly what the host
// decided. rootfs.InitSpec.Enter says when the init loads it: after the
// mounts, before the capability drop.
//
// An OCI runtime gets the profile already resolved, in config.json's
// linux.seccomp (dockerd and containerd apply the capability and kernel
// conditions before they write it): CompileSpec compiles that plain
// list with the same compiler, so Docker's profile gives the same
// program by either road.
//
// # Why our own compiler, and not libseccomp
//
// runc and dockerd compile with libseccomp (through cgo). The choice
// here is a compiler of about 400 lines in Go:
//
//   - A course shows what a filter is. Here the reader sees the
//     instructions (bpf.go) and a test runs them (compile_test.go's
//     interpreter), where libseccomp would be a black box.
//   - No cgo and no C library: the chapter programs and berthd build
//     with CGO_ENABLED=0 and still confine every container. With
//     libseccomp, a build without cgo would have had to refuse every
//     container that needs a profile, or run it unconfined, which is
//     the one thing it must never do.
//   - The subset that Docker's profiles use is small: actions, the seven
//     comparison operators on 64-bit arguments (personality's values,
//     clone's flags mask, socket's families), three x86 ABIs.
//
// The cost is that profiles outside that subset are refused rather than
// compiled: SCMP_ACT_NOTIFY (a seccomp agent; berth has none) and the
// flags that come with it, and architectures other than amd64 (there is
// no syscall table for them yet; Compile says so, and the container
// does not start).
//
// The semantics follow libseccomp and runc where a profile could be read
// two ways: conditions of one rule are ANDed, except several on the same
// argument, which become separate rules (runc); a rule without
// conditions wins over conditional ones for the same syscall; a syscall
// name the ABI does not have is skipped; an ABI the profile does not
// list is killed (libseccomp's "bad arch" action; here the whole
// process, as the kernel's documentation advises).
package seccomp
