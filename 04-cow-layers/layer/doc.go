// Package layer gives every container a copy-on-write root filesystem: the
// image's directories, stacked read-only with overlayfs, under a fresh
// writable layer of the container's own.
//
// # Why copy-on-write
//
// In chapter 03 the container's root was the image directory itself. Two
// containers on the same directory saw each other's files, and a
// container that ran `rm -rf /bin` destroyed the image for every later
// one. Copying the image for each container fixes that, at the price of
// its size in time and disk for every start: 20 containers of a 50 MB
// image would cost a gigabyte and seconds of copying.
//
// A union filesystem avoids both. It shows several directories as one,
// and sends every write to the topmost of them. The image stays as it is,
// shared read-only by all its containers; each container gets only an
// empty directory to write into. Starting a container costs a few
// mkdir(2) and one mount(2), whatever the size of the image.
//
// # The layer stack
//
// Linux's union filesystem is overlayfs. It stacks read-only "lower"
// directories under one writable "upper" directory and shows the result,
// "merged", at the mount point:
//
//	                     /bin/sh    /etc/passwd   /etc/motd    /app/new
//	                     -------    -----------   ---------    --------
//	merged/ (the         base's     upper's       (gone)       upper's     what the
//	  container's view)                                                    container sees
//	upper/                  .       passwd (1)    c 0/0 (2)    new         this container's,
//	                                                                       writable
//	app layer               .          .             .         app/        the image's,
//	base layer           bin/sh     passwd        motd          .          read-only, shared
//
//	(1) written by the container: copied up from the base layer first
//	(2) deleted by the container: a whiteout
//
// A lookup goes down the stack and the first layer that has the name
// wins. Directories of the same name are merged: `ls /etc` lists the
// union of every layer's etc/.
//
// Note the order. `--image base:app` lists the layers bottom first, the
// order in which an image is built (a Dockerfile's FROM comes first). The
// kernel's option lowerdir= wants them the other way round, the topmost
// first, because it searches them in that order. MountSpec.Lower is
// bottom first; Options reverses it.
//
// # Copy-up, whiteouts and opaque directories
//
// Three rules make writes, deletions and replacements land in the upper
// directory only:
//
//   - Copy-up. The first time the container opens a lower file for
//     writing (or changes its mode or owner), overlay copies the whole
//     file up, then writes to the copy. Reads never copy anything. A
//     one-byte append to a 1 GB log file copies the gigabyte: that is why
//     data that changes belongs in volumes, not in the image.
//
//   - Whiteouts. A deleted lower file cannot be deleted: the lower layers
//     are read-only. Instead overlay puts a whiteout in upper, a character
//     device with device number 0/0, which no real device has. A lookup
//     that meets it stops: the file is gone from the merged view.
//
//   - Opaque directories. `rm -rf d; mkdir d` must give an empty d, not
//     the lower d's old contents again. Overlay creates the new d in upper
//     with the extended attribute trusted.overlay.opaque="y": the merge
//     stops there, and nothing below shows through.
//
// IsWhiteout and IsOpaque recognise both markers; MakeWhiteout and
// MakeOpaque create them, which is how chapter 06 turns the ".wh.NAME"
// and ".wh..wh..opq" entries of an image archive into overlay's form.
//
// # Mounting
//
// The upper and work directories live in the container's directory under
// the state root (see RW), so they are on the same filesystem, which
// overlay requires: work is where a copy-up is prepared before it is
// renamed into upper in one atomic step, and rename(2) cannot cross
// filesystems. Overlay also refuses an upper directory that is itself on
// overlay, so the state root must be on a disk filesystem, not inside a
// container (pitfall 11).
//
// The chapter mounts the overlay inside the container's own mount
// namespace, in its init (InitSpec.Enter), just before chapter 03's
// pivot_root into it. The host never sees the mount, and when the
// container's last process exits, the kernel unmounts it with the
// namespace: nothing is left behind but the directories, which `run`
// removes unless --keep.
//
//	host                                   container's mount namespace
//	----                                   ---------------------------
//	Create: containers/<id>/{upper,work,merged}
//	Start init ------------------------->  Setup: private mounts
//	                                       Mount: overlay on merged
//	                                       rootfs.Enter(merged): /proc, /dev,
//	                                         pivot_root, drop capabilities
//	                                       exec the command
//	Wait <-------------------------------  exit: the namespace and its
//	Remove containers/<id> (or --keep)       overlay disappear
//
// mount(2) accepts at most one page (4096 bytes) of options, which an
// image of a few dozen layers with long paths exceeds. Mount then switches
// to the new mount API, which configures a filesystem one key at a time:
// fsopen("overlay"), one fsconfig("lowerdir+", dir) per layer (Linux
// 6.8+), fsmount and move_mount.
//
// Mount also turns off two overlay features, redirect_dir and metacopy.
// With them, renaming a directory or chown-ing a file stores only a
// pointer to the lower file in an extended attribute: fast, but then the
// upper directory alone no longer describes the container's changes, and
// `diff` and chapter 06's commit, which read it, would be wrong.
//
// A layer that is removed after the run (no --keep) is mounted with
// overlay's "volatile" option: the overlay's unmount at the container's
// end then waits for no disk flush (overlay.go, "A volatile overlay").
//
// # What it saves
//
// Disk: a container that only reads costs a few empty directories; one
// that writes costs what it writes. Memory: reads of an unchanged file go
// to the same lower file for every container, so the page cache holds one
// copy of /bin/busybox however many containers run it.
//
// # Changes
//
// Because every change lands in upper, upper is the container's diff:
// Changes walks it and looks each path up in the image to classify it, as
// `docker diff` does:
//
//	A  added: the image does not have the path
//	C  changed: the image has it and the container has its own version
//	   (a written file, or a directory that holds changes)
//	D  deleted: a whiteout in upper; or, under an opaque directory, an
//	   entry of the image's directory that upper does not have again
//
// For a replaced directory (rm -rf d; mkdir d; touch d/new) berth prints
// "C /d", a "D" for each old entry and "A /d/new". Docker's overlay2
// driver prints "D /d" and then the new entries; berth lists what the
// container actually shows.
//
// # User namespaces
//
// A container in a user namespace mounts its overlay as its own root,
// which is an unprivileged uid on the host: every directory above the
// layers must let it pass (the state directories are 0711), and overlay
// keeps its opaque marker in user.overlay.opaque ("userxattr"), because
// trusted.* attributes need privilege over the whole host.
//
// The image's files belong to the host's root, which the namespace does
// not map. So before the overlay, each layer, the container's own
// directory and each volume of the store is replaced, in the container's
// mount namespace, by an idmapped mount of itself: host uid 0 shows as the
// container's root, and what the container writes is stored with the
// image's ids. One copy of the image serves containers with and without
// a user namespace (idmap.go). Where the kernel or the filesystem cannot
// idmap, upper and work are chowned to the container's root instead
// (RW.Chown), and the image's files appear inside as owned by nobody.
package layer
