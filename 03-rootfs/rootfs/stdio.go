package rootfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ChownStdio gives the standard descriptors 0 to 2 to uid before a
// switch to that user, as runc does: a terminal or pipe made by the host
// belongs to root, and a non-root command could then not reopen its own
// /proc/self/fd/1 (as `echo > /dev/stdout` does). Descriptors on
// /dev/null stay as they are (a container without one has none); a
// chown the kernel refuses (an owner not mapped in the user namespace, a
// read-only /dev) is passed over, as runc passes it over. uid is the
// container's, in its user namespace.
func ChownStdio(uid int) error {
	var null unix.Stat_t
	if err := unix.Stat("/dev/null", &null); err != nil {
		null.Rdev = ^uint64(0) // no /dev/null in the container: nothing is it
	}
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			if errors.Is(err, unix.EBADF) {
				continue
			}
			return fmt.Errorf("fstat of descriptor %d: %w", fd, err)
		}
		if int(st.Uid) == uid || (st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == null.Rdev) {
			continue
		}
		err := unix.Fchown(fd, uid, -1)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("chown of descriptor %d to uid %d: %w", fd, uid, err)
		}
	}
	return nil
}
