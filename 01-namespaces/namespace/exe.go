package namespace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The runtime binary as a target (pitfall 12, runc's CVE-2019-5736).
//
// Every berth process that runs inside a container is this program
// executed again: the container's init (Start), which stays PID 1 for the
// container's whole life with --init, and chapter 07's shim and final/'s
// exec helper around it. Inside the container, /proc/PID/exe of such a
// process is a handle on the file it was started from. If that were the
// host's binary, the container's root could reach it: open it (directly,
// or by making its own /bin/sh a script that starts "#!/proc/self/exe",
// which the kernel resolves to the runtime's binary while the runtime is
// the one calling execve), wait for the process to exit, reopen it for
// writing, and replace the host's binary, to be run as root by the next
// start.
//
// So these processes are started from a sealed copy of the program in
// memory (a memfd), never from the file on disk. Through /proc/PID/exe a
// container reaches only that copy, and its seals refuse every write,
// truncation and resize, for ever, to everyone:
//
//	berthd (/usr/bin/berthd)                      the file on disk
//	  | memfd_create + copy + F_ADD_SEALS, once
//	  v
//	memfd:berth (sealed) <--- exe of: shims, inits, exec helpers
//
// The copy is made once per process that starts others, at the first
// start, and kept open for the process's life. A process started from it
// (a shim) finds its own /proc/self/exe sealed already and starts its
// children from it as it is: one copy serves a daemon and every shim and
// init it starts, and its pages are shared by all of them.

// exeName names the copy; readlink /proc/PID/exe shows "/memfd:berth".
const exeName = "berth"

// SealedPath is what /proc/PID/exe reads for a process started from the
// sealed copy: the memfd's name, and deleted, as a memfd has no path.
const SealedPath = "/memfd:" + exeName + " (deleted)"

// exeSeals are the seals of the copy: no write, no resize, no change to
// the seals.
const exeSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

var sealedExe struct {
	once sync.Once
	file *os.File // nil when this program runs from a sealed copy already
	err  error
}

// SealedSelf returns the sealed copy of this program to start a child
// from, made at the first call and kept open for the process's life. It
// returns nil and no error when this program already runs from a sealed
// copy: then /proc/self/exe is the copy, and a child started from it
// reaches nothing more.
func SealedSelf() (*os.File, error) {
	sealedExe.once.Do(func() {
		if runsSealed() {
			return
		}
		sealedExe.file, sealedExe.err = sealedCopy("/proc/self/exe")
	})
	return sealedExe.file, sealedExe.err
}

// Executable returns a path from which this process (or a child of it in
// the same user namespace) can execute the sealed copy of this program:
// /proc/self/exe when it runs from one already, /proc/<pid>/fd/N of the
// copy otherwise. The PID is ours, not "self": os/exec moves file
// descriptors around in the child before execve, and might land one on N.
func Executable() (string, error) {
	f, err := SealedSelf()
	if err != nil {
		return "", err
	}
	if f == nil {
		return "/proc/self/exe", nil
	}
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd()), nil
}

// runsSealed reports whether /proc/self/exe is a memfd carrying our
// seals. A regular file has no seals: F_GET_SEALS fails with EINVAL.
func runsSealed() bool {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return false
	}
	defer f.Close()
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	return err == nil && seals&exeSeals == exeSeals
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
	fd, err := unix.MemfdCreate(exeName, flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(exeName, flags)
	}
	if err != nil {
		return nil, fmt.Errorf("sealed copy of %s: memfd_create: %w", path, err)
	}
	dst := os.NewFile(uintptr(fd), "memfd:"+exeName)
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return nil, fmt.Errorf("sealed copy of %s: %w", path, err)
	}
	if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, exeSeals); err != nil {
		dst.Close()
		return nil, fmt.Errorf("sealed copy of %s: sealing: %w", path, err)
	}
	return dst, nil
}
