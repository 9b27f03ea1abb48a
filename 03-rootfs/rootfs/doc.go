// Package rootfs gives a container its own root filesystem: the directory
// of an image becomes "/", with a fresh /proc, a read-only /sys, a small
// /dev, the user's volumes, and the host's own files out of reach. It also
// drops the capabilities a container does not need.
//
// # Why a root filesystem at all
//
// After chapter 01 the container has its own PIDs, hostname and mount
// table, but it still sees the host's files: `ls /` in the container lists
// the host's /, and the host's shell, libraries and /etc are what its
// commands run with. An image is just a directory that holds a complete
// Linux userland (busybox, or a Debian with bash and its shared
// libraries). Making that directory the container's "/" is what lets the
// container ship its own userland, independent of the host's.
//
// # Why pivot_root and not chroot
//
// chroot(2) only changes how one process resolves "/": the host's root is
// still mounted in the mount namespace, and a root process can walk back
// to it (chroot into a subdirectory, then `cd ..` past the new root).
// pivot_root(2) instead swaps the root mount of the whole mount namespace.
// Once the old root is unmounted there is no path left that leads to the
// host's files: they are not hidden, they are gone from this namespace.
//
// pivot_root has rules (see pitfalls 1 and 2 in the course notes):
//
//   - the new root must be a mount point: a plain directory is not, so
//     Enter bind-mounts the root directory onto itself first;
//   - neither the new root nor the current root may be a shared mount:
//     namespace.Setup made every mount private, and Enter makes sure again;
//   - the old root must be put somewhere under the new one. runc's trick
//     pivot_root(".", ".") stacks the old root on top of the new root, at
//     the same place, and umount2(".", MNT_DETACH) then peels it off. No
//     put_old directory is ever created in the image.
//
// # The sequence
//
// Enter runs inside the container's init, in the container's new mount
// namespace, before the user's command starts. Every mount below happens
// in that namespace only, so the host never sees any of them, and when the
// container's last process exits the kernel throws them all away.
//
//	host's /                           (private mounts, chapter 01)
//	|-- proc  sys  dev  ...            the host's, still visible
//	`-- .../rootfs      1. bind rootfs onto itself: now a mount point
//	      |-- proc      2. proc     (this PID namespace's processes)
//	      |-- sys          sysfs    read-only
//	      |-- dev          tmpfs    null zero full random urandom tty,
//	      |                         pts/ (devpts), shm/, mqueue/, symlinks
//	      `-- data      3. volumes  binds of host paths or of volumes'
//	                                directories (chapter 04), or tmpfs
//
//	4. chdir(rootfs); pivot_root(".", ".")
//
//	   "/" = rootfs mount, with the old root stacked on top of it:
//	   [ old root (host's /) ]  <- what "." resolves to now
//	   [ rootfs              ]
//
//	5. umount2(".", MNT_DETACH): the old root, and every host mount
//	   under it, disappears from this namespace; chdir("/")
//
//	6. mask /proc/kcore & co, make /proc/sys & co read-only,
//	   create the working directory, optionally make / read-only
//
// The filesystems are mounted inside the new root before pivot_root, not
// after, because of a user namespace rule: the kernel lets a user
// namespace mount a new proc or sysfs only if an instance of it is already
// fully visible in the mount namespace (so that mounting cannot reveal what
// an administrator hid). Before step 5 the host's /proc and /sys are still
// there and qualify; after it, nothing would.
//
// # Resolving paths inside an untrusted root
//
// The image comes from somebody else. If its /data is a symlink to "/" or
// to "../../..", a naive mount on "<rootfs>/data" would follow the link
// on the host and cover a host directory (CVE-2018-15664 and friends are
// of this kind). Enter resolves every target inside the root with
// openat2(RESOLVE_IN_ROOT), which treats the root directory as "/" while
// resolving: absolute symlinks and ".." both stop at the root, as they
// would for a process in the container. It creates missing directories one
// component at a time from there, and mounts onto /proc/self/fd/N of the
// file descriptor it opened, so the mount lands on exactly the file that
// was checked. (Go's os.Root gives the same guarantee but refuses absolute
// symlinks outright, and real images are full of them: Debian's
// /var/run -> /run.)
//
// # Hiding the kernel's secrets
//
// /proc and /sys describe the whole machine, not just the container. A few
// files there leak host information or let root poke the kernel: Docker
// masks them (DefaultMaskedPaths: /dev/null over files, an empty read-only
// tmpfs over directories) and makes a few trees read-only
// (DefaultReadonlyPaths: /proc/sys, /proc/sysrq-trigger, ...). Enter does
// the same. These are defence in depth, not the main wall: that is the
// capability set.
//
// # Capabilities
//
// Root in a container is still uid 0 on the host's kernel (without a user
// namespace). What root may do is split into about 40 capabilities, and
// DropCapabilities keeps only Docker's default 14 (DefaultCapabilities):
// enough to chown files, bind port 80 or use ping, not enough to mount,
// load modules, or change the clock. It drops the rest from the bounding
// set, the ceiling that no later execve, setuid binary or file capability
// can raise, so that even a root process in the container can never get
// them back. The result, as /proc/self/status shows it, is Docker's
// CapEff: 00000000a80425fb.
//
// An OCI runtime is told each of the five sets a thread has (bounding,
// permitted, effective, inheritable, ambient), and a user to switch to:
// CapSets sets them one by one, with KeepCaps around the uid switch so
// that a non-root command can keep some (final/ociruntime's
// Security.Apply shows the order).
//
// # The syscall filter
//
// Just before the capability drop, InitSpec.Enter loads the container's
// seccomp filter (package seccomp, beside this one): Docker's profile,
// compiled on the host for the capabilities the command keeps, since
// some syscalls are allowed only with a capability. It goes in before
// the drop because installing a filter needs CAP_SYS_ADMIN unless
// no_new_privs is set, which Docker does not set by default.
//
//	Enter: mounts, pivot_root ─► seccomp filter ─► drop capabilities ─► execve
//	       (needs CAP_SYS_ADMIN)  (needs it too)    (capset: allowed by
//	                                                 the filter)
//
// # Privileged: the walls taken down
//
// Spec.Privileged (docker run --privileged) turns all of the above off:
//
//	default                          privileged
//	-------                          ----------
//	14 capabilities                  every capability the kernel knows
//	/dev: null, zero, tty, ...       every device node of the host
//	/sys read-only                   /sys writable
//	masked and read-only paths       none: /proc/kcore, /proc/sys ...
//
// Root in such a container is root on the host: it can mount the host's
// disks, load kernel modules, write to /proc/sysrq-trigger. It is for
// tools that manage the machine (Docker in Docker, a device driver's
// helper), never for an application. The namespaces stay: the container
// still has its own view of processes and mounts, but nothing stops it
// from leaving that view.
package rootfs
