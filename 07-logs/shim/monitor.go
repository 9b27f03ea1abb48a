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

// superviseGo supervises the container in Go for up to d, or to its exit
// if d < 0: the same work as tuning_cmonitor.c, which builds without cgo
// (and tests, with BERTH_SHIM_MONITOR=go) do entirely in Go. It logs what the
// container writes, and when init exits, records the status and reaps
// it. If the container exits in time, it returns true. Otherwise it
// stops where the C monitor can go on: what was read is in the log and
// the log is closed, what was not is still in the pipes, which stay
// open; and it returns false. With d >= 0 the monitor must be able to
// hand over (handsOver).
func (m monitor) superviseGo(d time.Duration) bool {
	w, err := logs.OpenWriter(m.c.LogPath(), m.c.Config.Log)
	if err != nil {
		// No log: still drain the pipes, or the container blocks.
		w = nil
	}
	var wg sync.WaitGroup
	streams := []*os.File{}
	for _, p := range []struct {
		s logs.Stream
		f *os.File
	}{{logs.Stdout, m.out}, {logs.Stderr, m.err}} {
		if p.f == nil {
			continue // a terminal has one output, logged as stdout
		}
		streams = append(streams, p.f)
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

	code, done := waitExit(m.pid, d)
	if !done {
		// Time to hand over: interrupt the reads, keep the pipes.
		for _, f := range streams {
			_ = f.SetReadDeadline(time.Unix(1, 0))
		}
		wg.Wait()
		for _, f := range streams {
			_ = f.SetReadDeadline(time.Time{})
		}
		if w != nil {
			w.Close()
		}
		return false
	}
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
	}
	for _, f := range streams {
		f.Close()
	}
	if w != nil {
		w.Close()
	}
	// The exit status goes to disk before the zombie is reaped: as long
	// as exit.json is missing, the PID in state.json is still ours.
	_ = writeExit(m.c, code, time.Now())
	if m.console != nil {
		m.console.Close()
	}
	reap(m.pid)
	return true
}

// copyToLog logs everything read from f as stream s, until end of file
// (a pipe whose writers are gone) or an error: EIO from a terminal's
// master once no process has the slave open, or the read deadline of a
// hand-over to the C monitor.
func copyToLog(w *logs.Writer, s logs.Stream, f *os.File) {
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

// waitExit waits up to d (for ever if d < 0) until process pid (a child)
// has exited, and returns its status as a shell reports it, without
// reaping it: the zombie keeps the PID from being reused until reap.
// done is false if d passed first.
func waitExit(pid int, d time.Duration) (code int, done bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil && d >= 0 {
		return -1, false // no way to wait with a timeout: hand over now
	}
	if err == nil {
		// A pidfd becomes readable when the process exits.
		ms := -1
		if d >= 0 {
			ms = int(d.Milliseconds())
		}
		gone := exited(fd, time.Duration(ms)*time.Millisecond)
		unix.Close(fd)
		if !gone && d >= 0 {
			return -1, false
		}
	}
	for {
		info, err := waitid(pid, unix.WEXITED|unix.WNOWAIT)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, true
		}
		return info.status(), true
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
