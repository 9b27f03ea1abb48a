// Engine tuning: skip on first reading. Without it, init starts from
// chapter 01's sealed copy of the binary, as every other berth program's
// does.

package ociruntime

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A read-only view of the runtime's binary, for init to start from.
//
// Chapter 01 starts a container's init from a sealed in-memory copy of
// the program (namespace's exe.go tells why: a container must not be
// able to reach the host's binary through /proc/PID/exe and overwrite
// it, runc's CVE-2019-5736). berthd makes that copy once and keeps it;
// berth-runtime is a new process at every create, and copying its
// binary (about 10 MB) into a memfd costs it some 9 ms on this machine:
// more than half of what the whole create may take.
//
// The same protection costs two system calls with the mount API: a
// detached clone of the mount that holds the binary, cut down to the
// binary itself (open_tree with OPEN_TREE_CLONE), made read-only
// (mount_setattr). Init is executed through that descriptor, so its
// /proc/PID/exe leads to the binary on a mount that refuses every write
// (EROFS), and which is attached nowhere: no path reaches it, nothing
// in any mount table shows it, and only its holders' descriptors keep
// it. Making it writable again takes CAP_SYS_ADMIN over the host's
// mount namespace, which a container without it does not have, and a
// container with it has the host already.
//
//	/usr/local/bin/berth-runtime (the host's file)
//	    | open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_RDONLY)
//	    v
//	detached read-only mount of that one file <--- exe of init
//
// A kernel without the mount API (before 5.12 for mount_setattr), or a
// caller that may not clone mounts, gets chapter 01's copy.

// readonlyExe returns an O_PATH descriptor of this program's binary on
// a detached read-only mount, or nil (and the reason) when the kernel
// cannot make one: then namespace.Start makes its sealed copy.
func readonlyExe() (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open_tree of the runtime's binary: %w", err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("making the runtime's binary read-only: %w", err)
	}
	return os.NewFile(uintptr(fd), "berth-runtime (read-only)"), nil
}
