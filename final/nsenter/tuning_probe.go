package nsenter

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls of a Probe that cannot block (pipe2, close,
// epoll_ctl, epoll_pwait with no timeout, read of a pipe the set reported
// ready, sendmsg of a few bytes on the zygote's socket) are made raw,
// without telling Go's scheduler. Why it matters: syscall.Syscall
// calls entersyscall, which wakes the runtime's sysmon thread if it is
// in its deep sleep, and a sysmon woken that way starts again at its
// shortest nap, 20 µs, for as long as any P is busy. At 50 checks a
// second, each check's busy moments woke it several times: perf of
// BenchmarkHealthChecks put a third of the daemon's CPU in sysmon's
// nanosleep. A raw call is the runtime's own way for calls that return
// at once (it uses them for the same reason); a call that may wait
// (poll with a timeout, a read that may block) must go through
// syscall.Syscall, or Go's poller, as Probe's waiting does.

func rawErr(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func rawPipe2(p *[2]int32, flags int) error {
	_, _, e := unix.RawSyscall(unix.SYS_PIPE2, uintptr(unsafe.Pointer(p)), uintptr(unix.O_CLOEXEC|flags), 0)
	return rawErr(e)
}

func rawClose(fd int) {
	_, _, _ = unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

func rawEpollCtl(ep, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(ep), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return rawErr(e)
}

// rawEpollPoll is epoll_pwait with a timeout of 0: what is ready now.
func rawEpollPoll(ep int, evs []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	return int(n), rawErr(e)
}

func rawRead(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// rawSendRights sends p and the descriptors fds on a socket whose buffer
// has room (MSG_DONTWAIT: EAGAIN rather than a wait).
func rawSendRights(fd int, p []byte, fds []int) error {
	oob := unix.UnixRights(fds...)
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1, Control: &oob[0]}
	msg.SetControllen(len(oob))
	_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	return rawErr(e)
}
