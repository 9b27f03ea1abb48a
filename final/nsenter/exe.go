package nsenter

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// sealed is the sealed in-memory copy of this program that helpers are
// started from, made once per process and kept open for its lifetime.
var sealed struct {
	once sync.Once
	file *os.File
	path string
	err  error
}

// executable returns the path to execute a helper from: a sealed memfd
// copy of this program, not the program's file on the host.
//
// A helper runs inside the container, where its /proc/PID/exe is a
// handle on the file it was started from. CVE-2019-5736 was runc's: a
// container that got hold of that handle (through a binary of its own
// that says "#!/proc/self/exe", which the kernel resolves to the
// runtime's executable while the runtime is the one calling execve)
// could open it for writing once the runtime had exited, and replace the
// host's runtime binary, to be run as root by the next `docker exec`.
// Started from a memfd whose writes are sealed, the worst such a
// container can get is a copy it cannot change, which disappears with
// this process.
//
// The path is /proc/<our pid>/fd/N, not /proc/self/fd/N: os/exec moves
// file descriptors around in the child before execve, and might land one
// on N.
func executable() (string, error) {
	sealed.once.Do(func() {
		sealed.file, sealed.err = sealedCopy("/proc/self/exe")
		if sealed.err == nil {
			sealed.path = fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), sealed.file.Fd())
		}
	})
	return sealed.path, sealed.err
}

// sealedCopy copies the file at path into a new memfd and seals it
// against any change: writes, growing, shrinking, and further seals.
func sealedCopy(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sealed copy of %s: %w", path, err)
	}
	defer src.Close()
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	// MFD_EXEC (Linux 6.3) asks for an executable memfd explicitly,
	// which the vm.memfd_noexec sysctl may otherwise refuse; older
	// kernels reject the flag, and make every memfd executable.
	fd, err := unix.MemfdCreate(Name, flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(Name, flags)
	}
	if err != nil {
		return nil, fmt.Errorf("sealed copy of %s: memfd_create: %w", path, err)
	}
	dst := os.NewFile(uintptr(fd), "memfd:"+Name)
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return nil, fmt.Errorf("sealed copy of %s: %w", path, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		dst.Close()
		return nil, fmt.Errorf("sealed copy of %s: sealing: %w", path, err)
	}
	return dst, nil
}
