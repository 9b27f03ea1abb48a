// Package volume keeps data outside the copy-on-write layer: named
// directories that outlive the containers which mount them.
//
// # Why
//
// A container's writes land in its own writable layer (package layer),
// and that layer goes when the container goes. A database's files, a
// cache, uploads must not: they live in a volume, a plain directory of
// the host that is bind-mounted over a path of the container. The
// container sees a directory like any other; the kernel sends its
// writes past the overlay, straight into the volume.
//
//	       container's view                       host
//	/            overlay (image + upper) ... <root>/containers/<id>/
//	/var/lib/db  bind of a volume ---------> <root>/volumes/db/_data/
//	/tmp/x       tmpfs (memory)
//
// # The store
//
// A Store is a directory of volumes, one directory each, whose record
// is written before the volume appears (one rename):
//
//	s, _ := volume.Open("/var/lib/berth-course")
//	v, created, _ := s.Create("db", nil, nil)  // <root>/volumes/db/_data
//	anon, _, _ := s.Create("", nil, nil)       // 64 hex digits, labelled anonymous
//	_ = s.Remove(anon.Name)
//
// Names follow Docker's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+, which keeps
// each one a single path component inside the store. The store knows
// nothing of containers: who uses a volume is its caller's business
// (berthd looks at its containers; chapter 04's program removes the
// anonymous volumes it made when the container is removed).
//
// # Copy-up
//
// A new volume is empty, but the image may have files where it is
// mounted (a default configuration, an empty database with the right
// owner). Docker fills an empty volume with them the first time it is
// mounted, and so does CopyUp, called by chapter 04's init once the
// overlay is mounted and before chapter 03 mounts the volume over the
// very files it copies:
//
//  1. overlay mounted on merged/         image's /var/lib/db visible
//  2. CopyUp(merged, /var/lib/db, _data) files, modes, owners, times, symlinks
//  3. rootfs.Enter binds _data on /var/lib/db: the image's files are covered
//
// Only an empty volume is filled, and not with nocopy; a copy that fails
// is removed, so that the next start copies again. The copy never
// follows a symlink: the target is resolved inside the container's root
// (RESOLVE_IN_ROOT), every file below it is opened by name in its open
// parent with O_NOFOLLOW, and symlinks are copied as symlinks. An image
// whose volume holds a link to /etc gives a volume with a link to /etc,
// which the container resolves in its own root: the host's /etc is never
// read or written. Hard links become separate files, and extended
// attributes are not copied.
//
// # Options
//
// Volume options are those of Docker's local driver that berth can
// honour without mounting on the host: type=tmpfs (a fresh tmpfs in each
// container; see Volume.Mount) and o=bind,device=/path (a host
// directory). CheckOptions refuses the rest by name.
package volume
