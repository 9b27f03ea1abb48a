package containerfs

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/06-images/image"
)

// Writing into a container whose root is remapped.
//
// With berthd --userns-remap a running container's root is a host uid,
// say 165536, and its layers and volumes are idmapped mounts (chapter
// 04) that show the disk's uid 0 as 165536. A file made through such a
// mount gets, on the disk, the creator's fsuid translated back: 165536
// becomes 0. The host's root, fsuid 0, has no translation there: the
// kernel refuses the creation with EOVERFLOW. And a chown to the
// archive's uid 0 would name the host's root, which the container does
// not map either.
//
// So docker cp into such a container writes as the container's root
// would: on a thread of its own, with the fsuid and fsgid of the
// container's root (setfsuid changes the calling thread only), and the
// archive's ids shifted by the mapping's bases (uid 0 -> 165536, which
// the mount stores as 0). Where a mount is not idmapped (a bind-mounted
// host directory, a tmpfs), the files belong to 165536 on the host, as
// those the container's own root makes there.
//
// setfsuid to a non-zero uid drops the file capabilities (CAP_CHOWN,
// CAP_DAC_OVERRIDE, CAP_FOWNER, ...) from the thread's effective set;
// they are still permitted, and the thread raises them again. The thread
// then never runs anything else: its goroutine ends locked, and the Go
// runtime ends the thread with it (pitfall 4).

// Reading from a container whose layers are chowned copies.
//
// Where the data root cannot idmap, berthd gives a remapped container
// copies of the image's layers chowned for its mapping, and its writable
// layer is the mapped root's too: on the disk, and so through the
// container's root as the host sees it, its files belong to 165536 and
// up. docker cp out of it writes the container's own ids, as dockerd's
// does: WithUnmappedOwners.

// WithUnmappedOwners has Archive write the owners that unmap gives for
// the files' host ids.
func (r *Root) WithUnmappedOwners(unmap image.Unmap) *Root {
	r.unmap = &unmap
	return r
}

// IDShift is a container's user namespace mapping as the host sees it:
// the host uid and gid of the container's root.
type IDShift struct{ UID, GID int }

// WithIDShift makes Extract write as the container's root whose host ids
// shift gives (see above), for a running container in a user namespace.
func (r *Root) WithIDShift(shift IDShift) *Root {
	r.shift = &shift
	return r
}

// asShifted runs f on a thread of its own whose file system ids are the
// container's root's, with its file capabilities raised again.
func (r *Root) asShifted(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread's ids are not the process's.
		done <- r.shifted(f)
	}()
	return <-done
}

func (r *Root) shifted(f func() error) error {
	if err := unix.Setfsgid(r.shift.GID); err != nil {
		return fmt.Errorf("%s: setfsgid %d: %w", r.what, r.shift.GID, err)
	}
	if err := unix.Setfsuid(r.shift.UID); err != nil {
		return fmt.Errorf("%s: setfsuid %d: %w", r.what, r.shift.UID, err)
	}
	// setfsuid reports no error, only the previous id: ask again.
	if prev, _ := unix.SetfsuidRetUid(-1); prev != r.shift.UID {
		return fmt.Errorf("%s: setfsuid %d did not take", r.what, r.shift.UID)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("%s: capget: %w", r.what, err)
	}
	for i := range caps {
		caps[i].Effective = caps[i].Permitted
	}
	if err := unix.Capset(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("%s: capset: %w", r.what, err)
	}
	return f()
}
