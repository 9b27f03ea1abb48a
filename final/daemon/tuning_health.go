package daemon

import (
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// freezerFile is a container's freezer state file, opened once per
// monitor and read with one pread before each check until the container
// is seen thawed (runCheck; a docker pause after that ends the monitor
// itself): whether the container is paused. cgroup.FreezerState asks the
// same, but finds the directory, checks it and opens the file every
// time: a third of the daemon's CPU in runCheck when it was read at
// every check, every second. On v1 freezer.state reads THAWED
// unless a freeze was asked for; on v2 cgroup.freeze reads 0 unless one
// was. A freeze under way counts as paused, as with FreezerState.
type freezerFile struct {
	f   *os.File
	buf [16]byte
}

// openFreezer opens cg's freezer state file; nil if there is none (no
// freezer: never paused, as FreezerState's error meant before).
func openFreezer(cg *cgroup.Cgroup) *freezerFile {
	dir := cg.Path("freezer")
	if dir == "" {
		return nil
	}
	name := "freezer.state"
	if cg.Version() == cgroup.V2 {
		name = "cgroup.freeze"
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil
	}
	return &freezerFile{f: f}
}

// thawed reports whether no freeze is asked for; true when the file
// cannot be read (the cgroup is going: the check will tell).
func (z *freezerFile) thawed() bool {
	if z == nil {
		return true
	}
	n, err := unix.Pread(int(z.f.Fd()), z.buf[:], 0)
	if err != nil || n == 0 {
		return true
	}
	s := string(z.buf[:n])
	return s == "THAWED\n" || s == "0\n"
}

func (z *freezerFile) close() {
	if z != nil {
		z.f.Close()
	}
}

// pidfdReadable reports whether the process of pidfd has exited (or the
// poll failed), by a raw ppoll with a zero timeout: a call through
// syscall.Syscall wakes Go's sysmon thread from its deep sleep, and a
// sysmon woken so naps 20 µs at a time while the daemon is busy
// (final/nsenter's tuning_probe.go says what that cost the checks).
func pidfdReadable(fd int) bool {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	var zero unix.Timespec
	n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
	return e != 0 || n > 0
}
