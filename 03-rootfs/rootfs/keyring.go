package rootfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Keyrings are one more thing the kernel keeps per user, not per
// namespace: keys (an NFS or Kerberos credential, a disk's encryption
// key) hang off a process's session keyring, which a child inherits
// across fork and exec. A container started by a daemon would inherit
// the daemon's, and with it every key the host's root put there.
// Docker's seccomp profile refuses keyctl, so by default nothing in the
// container can even look; but a container run with seccomp=unconfined,
// or --privileged, can. So the container's init, like runc's, first
// leaves the session keyring it inherited for a new, empty one of its
// own.

// sessionKeyringPerm are the new keyring's permissions: everything for
// the processes that possess it (the container's), and view, read,
// search and link for other processes of the same user, as runc's.
const sessionKeyringPerm = 0x3f1b0000

// JoinNewSessionKeyring gives the calling thread a new, empty session
// keyring, which the command it executes inherits. It must run before
// the seccomp filter (which refuses keyctl) and on the thread that will
// call execve: credentials belong to a thread. A kernel built without
// keys (ENOSYS) has no keyring to leak.
func JoinNewSessionKeyring() error {
	// A NULL name: always a new anonymous keyring ("_ses"). A name
	// would join an existing keyring of that name, another container's.
	id, _, errno := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
	if errno != 0 {
		if errors.Is(errno, unix.ENOSYS) {
			return nil
		}
		return fmt.Errorf("joining a new session keyring: %w", errno)
	}
	if err := unix.KeyctlSetperm(int(id), sessionKeyringPerm); err != nil {
		return fmt.Errorf("session keyring %d: setting its permissions: %w", id, err)
	}
	return nil
}
