package shim

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/07-logs/logs"
)

// monitor is what a shim holds while its container runs.
type monitor struct {
	c    *Container
	pid  int      // the container's init, our child
	lock *os.File // shim.lock, held until the shim exits
	out  *os.File // read end of the container's stdout, or of its terminal
	err  *os.File // read end of the container's stderr; nil with a terminal
	in   *os.File // write end of the container's stdin (or terminal), or nil
	// console is the master of the container's terminal (nil without
	// one). It stays open until the exit is recorded: while it is open,
	// the slave's name (State.Tty) is this container's, and Resize may
	// open it by that name.
	console *os.File
}

// drainTimeout bounds how long the monitor keeps reading the container's
// stdout and stderr after its init has exited. When init (PID 1 of the
// container's PID namespace) exits, the kernel kills every other process
// in it, so the pipes reach end of file at once; the timeout only guards
// against a write end that leaked somewhere else.
const drainTimeout = 5 * time.Second

// runGo supervises the container in Go: the same work as monitor.c, for
// builds without cgo (and for tests, with BERTH_SHIM_MONITOR=go). It
// returns the lock for finish to release once the shim is done.
func (m monitor) runGo() *os.File {
	w, err := logs.OpenWriter(m.c.LogPath(), m.c.Config.Log)
	if err != nil {
		// No log: still drain the pipes, or the container blocks.
		w = nil
	}
	var wg sync.WaitGroup
	for _, p := range []struct {
		s logs.Stream
		f *os.File
	}{{logs.Stdout, m.out}, {logs.Stderr, m.err}} {
		if p.f == nil {
			continue // a terminal has one output, logged as stdout
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			copyToLog(w, p.s, p.f)
		}()
	}
	if m.in != nil {
		var stdinLog *logs.Writer
		if !m.c.Config.Log.NoStdin {
			stdinLog = w
		}
		go forwardStdin(filepath.Join(m.c.dir, stdinFifo), m.in, stdinLog)
	}

	code := waitExit(m.pid)
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
	}
	if w != nil {
		w.Close()
	}
	// The exit status goes to disk before the zombie is reaped: as long
	// as exit.json is missing, the PID in state.json is still ours.
	_ = writeExit(m.c.dir, code, time.Now())
	if m.console != nil {
		m.console.Close()
	}
	reap(m.pid)
	return m.lock
}

// copyToLog logs everything read from f as stream s, until end of file
// (a pipe whose writers are gone) or an error (EIO from a terminal's
// master once no process has the slave open).
func copyToLog(w *logs.Writer, s logs.Stream, f *os.File) {
	defer f.Close()
	buf := make([]byte, 64<<10) // a pipe's capacity: one read takes all there is
	for {
		n, err := f.Read(buf)
		if n > 0 && w != nil {
			_ = w.Write(s, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// forwardStdin copies what an attached client writes into the FIFO to
// the container's stdin, recording it in the log if log is not nil. When
// the client closes its end, the container's stdin is closed: its reader
// sees end of file, as `echo data | docker run -i` shows it.
func forwardStdin(fifo string, in *os.File, log *logs.Writer) {
	defer in.Close()
	// Opening a FIFO for reading blocks until a writer opens it: until
	// a client attaches, the container's stdin simply stays open.
	f, err := os.OpenFile(fifo, os.O_RDONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if log != nil {
				_ = log.Write(logs.Stdin, buf[:n])
			}
			if _, werr := in.Write(buf[:n]); werr != nil {
				return // the container closed its stdin or exited
			}
		}
		if err != nil {
			return
		}
	}
}

// waitExit blocks until process pid (a child) has exited and returns its
// status as a shell reports it, without reaping it: the zombie keeps the
// PID from being reused until reap.
func waitExit(pid int) int {
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		// A pidfd becomes readable when the process exits.
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); !errors.Is(err, unix.EINTR) {
				break
			}
		}
		unix.Close(fd)
	}
	for {
		info, err := waitid(pid, unix.WEXITED|unix.WNOWAIT)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1
		}
		return info.status()
	}
}

// reap collects the exited child pid.
func reap(pid int) {
	for {
		if _, err := waitid(pid, unix.WEXITED); !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// sigchldInfo is the part of siginfo_t that waitid(2) fills in for a
// child (the layout of x86-64 and arm64 Linux).
type sigchldInfo struct {
	Signo, Errno, Code, _ int32
	Pid                   int32
	UID                   uint32
	Status                int32
	_                     [100]byte
}

// status is the exit status as a shell reports it: the exit code, or
// 128+N for death by signal N.
func (s sigchldInfo) status() int {
	switch s.Code {
	case 1: // CLD_EXITED
		return int(s.Status)
	case 2, 3: // CLD_KILLED, CLD_DUMPED
		return 128 + int(s.Status)
	}
	return -1
}

// waitid is waitid(P_PID, pid, &info, options). x/sys/unix hides the
// status field of siginfo_t, so the system call is made directly.
func waitid(pid int, options int) (sigchldInfo, error) {
	var info sigchldInfo
	_, _, errno := syscall.Syscall6(unix.SYS_WAITID, unix.P_PID, uintptr(pid), uintptr(unsafe.Pointer(&info)), uintptr(options), 0, 0)
	if errno != 0 {
		return info, errno
	}
	return info, nil
}
