//go:build cgo

// Engine tuning: skip on first reading; docs/performance.md tells why it
// exists. Without it (a build without cgo, or BERTH_SHIM_MONITOR=go) the
// shim supervises its container in Go to the end (monitor.go).

package shim

/*
#cgo CFLAGS: -O2 -Wall -Wextra

void berth_shim_early(int argc, char **argv);

// Run before the Go runtime starts, in every process of a program that
// links this package (the same trick as runc's nsexec). glibc passes
// constructors the program's arguments.
__attribute__((constructor)) static void berth_shim_init(int argc, char **argv, char **envp)
{
	(void)envp;
	berth_shim_early(argc, argv);
}
*/
import "C"

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// haveCMonitor: this build has monitor.c.
const haveCMonitor = true

// execC replaces the shim with the C monitor (see tuning_cmonitor.c), passing on
// the lock, the pipes and the log options. It returns only if execve
// failed, and the Go monitor takes over.
func (m monitor) execC() {
	fdOf := func(f *os.File) int {
		if f == nil {
			return -1
		}
		return int(f.Fd())
	}
	files := []*os.File{m.lock, m.out}
	for _, f := range []*os.File{m.err, m.in, m.console} {
		if f != nil {
			files = append(files, f)
		}
	}
	// Go opens every file close-on-exec; these must survive the execve.
	for _, f := range files {
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
			return
		}
	}
	logStdin, durable := "1", "1"
	if m.c.Config.Log.NoStdin {
		logStdin = "0"
	}
	if m.c.Config.Ephemeral {
		durable = "0"
	}
	args := []string{
		monitorName, m.c.dir, strconv.Itoa(m.pid),
		strconv.Itoa(fdOf(m.lock)), strconv.Itoa(fdOf(m.out)), strconv.Itoa(fdOf(m.err)), strconv.Itoa(fdOf(m.in)),
		strconv.FormatInt(m.c.Config.Log.MaxSize, 10), strconv.Itoa(m.c.Config.Log.Files()), logStdin,
		strconv.Itoa(fdOf(m.console)), supervisorPath(m.c.dir), durable,
	}
	_ = syscall.Exec("/proc/self/exe", args, os.Environ())
	for _, f := range files {
		_, _ = unix.FcntlInt(f.Fd(), unix.F_SETFD, unix.FD_CLOEXEC)
	}
}
