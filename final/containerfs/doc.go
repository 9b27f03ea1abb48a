// Package containerfs reads and writes the files of a container for
// docker cp (HEAD, GET and PUT /containers/ID/archive), from the host,
// without ever letting a path of the container lead to the host's files.
//
// # The danger
//
// The daemon runs as root on the host; the container's files belong to
// whoever controls the container. A path the client names, "/x/passwd",
// means the container's /x/passwd, and /x may be a symlink to "/etc":
// in the container that is ITS /etc. Joined to the root's host path and
// opened by the host's kernel, "/var/lib/berth/containers/ID/merged/x/
// passwd" follows the link to the host's /etc/passwd. Docker had that
// bug twice:
//
//   - CVE-2018-15664: Docker resolved the path in the container's scope
//     with a string (FollowSymlinkInScope), then opened the result. A
//     process in the container swapped a directory for a symlink in
//     between, and docker cp read or wrote the host's files as root.
//   - CVE-2019-14271: docker cp loaded a library from the container
//     (nsswitch) into a process that ran as root on the host.
//
// # What this package does
//
// A root is a directory descriptor, never a path. Every lookup of a path
// the client sent is one openat2(2) relative to it with RESOLVE_IN_ROOT
// (chapter 03's rootfs.OpenInRoot): the kernel itself treats the
// descriptor as "/" for the whole walk, symlinks included, ".." and
// absolute links stop at it, and a rename racing with the walk makes it
// fail (EAGAIN, retried) rather than escape. What is found is used
// through its descriptor (fstat, read through /proc/self/fd/N, which is
// the very file) and not looked up again by name:
//
//	client path "/x/passwd"
//	       |
//	openat2(rootfd, "x/passwd", RESOLVE_IN_ROOT)   x -> /etc is read
//	       |                                       as rootfd/etc
//	fd of the container's /etc/passwd --> fstat, read, tar
//
// The archive's walk (GET) and the extraction (PUT) go one name at a
// time below directory descriptors: each entry is opened, created,
// removed or linked with *at calls and O_NOFOLLOW relative to its
// parent's descriptor, which openat2 resolved in the root. A symlink in
// an archive ("a -> /etc", then "a/passwd") is created as a symlink,
// and the next entry's parent is resolved in the root again: it leads
// to the container's /etc, as Docker's chrooted extraction does, never
// to the host's. Entries named "../x" are refused; "/x" is taken below
// the destination, as Docker does. Owners, modes and times are set
// without following a symlink (fchownat AT_SYMLINK_NOFOLLOW on the
// entry's own O_PATH descriptor, chmod through /proc/self/fd/N,
// utimensat AT_SYMLINK_NOFOLLOW).
//
// And nothing of the container runs or is loaded (CVE-2019-14271): no
// helper process chroots into it, and docker cp -a's user is looked up
// by parsing the container's /etc/passwd (chapter 06's LookupUser), not
// through the C library's NSS modules.
//
// Device nodes in an archive are refused: created by root on the host
// they would give the container a device its own processes could not
// create (its capabilities and device cgroup forbid mknod). FIFOs are
// created. Of extended attributes, archives carry a file's capabilities
// (security.capability), as Docker's do; extraction applies an archive's
// attributes by chapter 06's rules, which drop overlay's own (a copy must
// not forge an opaque directory or a redirect in the writable layer).
//
// # Why not os.Root
//
// Go's os.Root also confines a walk, but it treats an absolute symlink,
// or one that climbs above the root, as an escape: an error. A
// container's "/x -> /etc" is legitimate and means the container's /etc;
// Docker follows it there, and the docker client relies on it (it asks
// for the target of a symlinked destination). RESOLVE_IN_ROOT gives
// exactly the container's meaning.
//
// # Which root
//
// A running container's root is /proc/PID/root of its init: its processes'
// view, including its volumes and bind mounts, with walks from the
// descriptor following the container's own mount tree. A container that
// does not run has no mounted root; MountRoot mounts its overlay (chapter
// 04's spec) and its bind mounts in a mount namespace of its own, made
// by unshare(CLONE_NEWNS) on a goroutine locked to its OS thread and never
// unlocked (pitfall 4: the namespace belongs to that thread, and the
// runtime ends the thread with the goroutine, so no other goroutine ever
// runs in it). The thread waits until Close, so that the mounts live
// while the descriptor is used from other threads; a walk from the
// descriptor crosses those mounts whatever namespace the walking thread
// is in. Writes land in the container's upper directory, as if the
// container had made them. Two details: the thread must not be the
// process's main thread, which the runtime never ends and whose mounts
// /proc/self/mountinfo shows (MountRoot keeps the main thread busy and
// lets another thread do it); and the thread forks nothing, so that its
// end kills no child through a parent-death signal (chapter 05's netns.go
// explains that trap).
package containerfs
