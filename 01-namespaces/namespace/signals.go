package namespace

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigaction is the kernel's struct sigaction (x86-64, arm64).
type sigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	sigDFL = 0 // SIG_DFL
	sigIGN = 1 // SIG_IGN
)

// UnignoreSignals gives every signal that this process inherited as
// ignored its default action back. An ignored signal stays ignored across
// execve, and the Go runtime leaves alone those it finds ignored at start:
// an engine started under nohup, or in the background by a script (SIGINT
// and SIGQUIT ignored), would pass that on to every container, where a
// shell's `trap ... INT` would then do nothing. Run calls it before the
// command starts; a daemon calls it first thing, for what it starts.
func UnignoreSignals() {
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		var old sigaction
		if _, _, errno := syscall.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); errno != 0 {
			continue
		}
		if old.handler != sigIGN {
			continue
		}
		dfl := sigaction{handler: sigDFL}
		_, _, _ = syscall.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	}
}
