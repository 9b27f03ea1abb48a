package nsenter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Probe is Start and Wait for a command that is run again and again and
// whose output is read whole into a bounded buffer: a health check. It
// is the same command as Start's, started the same way (through c's
// zygote if it has one, else by a fork of the server), with the same
// confinement; what differs is the daemon's side, done on the caller's
// goroutine alone:
//
//	Start + Wait (served)                 Probe
//	three pipes (output, error, wait)     two: the zygote's error lines
//	                                      and its "pid", "exit" lines
//	                                      share one (the error pipe is
//	                                      sent as the wait pipe's copy)
//	a goroutine copies the output,        the caller's goroutine waits on
//	one waits for the copy, one for       p's epoll set, which holds both
//	the exit; a timer for the timeout     pipes and p's canceler, with the
//	                                      deadline as the set's
//	os.Files in Go's poller, a            raw descriptors, the caller's
//	bufio.Reader, an io.ReadAll           buffer, one small array
//
// At 50 checks a second each goroutine handed over, each descriptor
// registered with the poller and each buffer allocated is paid 50 times
// a second (final/health's doc.go, "What a check costs").
//
// Stdin is /dev/null; stdout and stderr go to one pipe, of which the
// first len(out) bytes are kept in out and the rest read and dropped (a
// chatty check never blocks on a full pipe). At the deadline, or once p
// is cancelled, kill is called with the command's PID (to end what it
// started), the command is killed (SIGKILL) and Probe waits for its
// end. Once it has exited, its output is read for at most c.WaitDelay
// more (a process it left behind may hold the pipe). An error is about
// starting it (nothing ran, or it could not enter the container) or
// about p; the result says how it ended. One Probe at a time per p.
func (c *Cmd) Probe(p *Prober, out []byte, deadline time.Time, kill func(pid int)) (ProbeResult, error) {
	if c.srv == nil || c.held == nil {
		return ProbeResult{}, errors.New("nsenter: Probe is for a held fork server's Cmd")
	}
	if c.served != nil || c.cmd != nil {
		return ProbeResult{}, errors.New("nsenter: already started")
	}
	// Raw system calls where they cannot block: see tuning_probe.go.
	var out2, ans [2]int32
	if err := rawPipe2(&out2, 0); err != nil {
		return ProbeResult{}, fmt.Errorf("pipe: %w", err)
	}
	if err := rawPipe2(&ans, unix.O_NONBLOCK); err != nil {
		rawClose(int(out2[0]))
		rawClose(int(out2[1]))
		return ProbeResult{}, fmt.Errorf("pipe: %w", err)
	}
	outR, ctlR := int(out2[0]), int(ans[0])
	defer rawClose(outR)
	defer rawClose(ctlR)
	// stdin, stdout, stderr, the error pipe, the wait pipe: the
	// answer pipe's write end is both of the last two.
	fds := []int{c.held.nullFd, int(out2[1]), int(out2[1]), int(ans[1]), int(ans[1])}
	parent, err := c.dispatch(fds)
	rawClose(int(out2[1]))
	rawClose(int(ans[1]))
	if err != nil {
		return ProbeResult{}, err
	}
	// Probe is its Wait: a Wait after it answers "already called".
	c.served, c.waited = &served{parent: parent}, true

	var (
		r        ProbeResult
		ctl      [512]byte // "error MSG" lines, "pid N", "exit S"
		nctl     int
		msgs     []string
		scratch  [4096]byte
		evs      [4]unix.EpollEvent
		exitedAt time.Time
		killed   bool
		werr     error // ends the wait
	)
	fd := [2]int{outR, ctlR} // -1 once at its end
	// The output is read as it comes (a check must never block on a
	// full pipe); the answer ("pid N", "exit S") only at its end, which
	// the zygote makes at once with the output's (server.c keeps the
	// check's stdout until it reaps it): one wake-up for a quiet check,
	// not one per line and pipe. The epoll set reports a pipe's end
	// (EPOLLHUP) whatever it was asked for.
	for i, f := range fd {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if i == 1 {
			ev.Events = 0
		}
		if err := rawEpollCtl(p.epfd, unix.EPOLL_CTL_ADD, f, &ev); err != nil {
			return ProbeResult{}, fmt.Errorf("nsenter: epoll_ctl: %w", err)
		}
	}
	// Closing a pipe's end takes it out of the set; the deferred
	// closes above are for those still open then.
	end := func(i int) {
		_ = rawEpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd[i], nil)
		fd[i] = -1
	}
	defer func() {
		for i := range fd {
			if fd[i] >= 0 {
				end(i)
			}
		}
	}()
	killNow := func() {
		if kill != nil {
			kill(c.cmdPid)
		}
		_ = c.signalCommand(unix.SIGKILL)
	}
	// readCtl reads what the answer pipe holds (it is non-blocking),
	// to its end if it has come.
	readCtl := func() error {
		for {
			if nctl == len(ctl) {
				return fmt.Errorf("nsenter: process %d: the fork server's answer is too long", c.pid)
			}
			n, err := rawRead(fd[1], ctl[nctl:])
			if n == 0 || (err != nil && err != unix.EINTR && err != unix.EAGAIN) {
				end(1)
				exitedAt = time.Now()
				return nil
			}
			if err != nil {
				if err == unix.EAGAIN {
					return nil
				}
				continue
			}
			nctl += n
			// Whole lines only; a partial one waits.
			for {
				i := bytes.IndexByte(ctl[:nctl], '\n')
				if i < 0 {
					break
				}
				line := string(ctl[:i])
				copy(ctl[:], ctl[i+1:nctl])
				nctl -= i + 1
				if v, ok := strings.CutPrefix(line, "error "); ok {
					msgs = append(msgs, v)
				} else if v, ok := strings.CutPrefix(line, "pid "); ok {
					c.cmdPid, _ = strconv.Atoi(v)
					if killed && c.cmdPid > 0 {
						killNow()
					}
				} else if v, ok := strings.CutPrefix(line, "exit "); ok {
					r.Code, _ = strconv.Atoi(v)
					r.Exited = true
				}
			}
		}
	}
	// doKill kills the command, or has it killed as soon as its PID is
	// read: the answer is only waited for to its end.
	doKill := func() {
		killed = true
		switch {
		case c.cmdPid > 0:
			killNow()
		case fd[1] >= 0:
			if err := readCtl(); err != nil {
				werr = err
			}
			if c.cmdPid == 0 && fd[1] >= 0 {
				// Not told yet: wake at the "pid" line.
				ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: 1}
				if err := rawEpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd[1], &ev); err != nil {
					werr = fmt.Errorf("nsenter: epoll_ctl: %w", err)
				}
			}
		}
	}
	if p.isCanceled() {
		r.Canceled = true
		doKill() // no PID yet: killed as soon as the zygote tells it
	}
	// ready handles what the set reports, until nothing is left to
	// read: false makes RawConn.Read wait on Go's poller (the epoll
	// descriptor is readable when one in its set is).
	ready := func(uintptr) bool {
		for {
			n, err := rawEpollPoll(p.epfd, evs[:])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				werr = fmt.Errorf("nsenter: epoll_wait: %w", err)
				return true
			}
			if n == 0 {
				return false
			}
			for _, ev := range evs[:n] {
				switch ev.Fd {
				case 0: // the output
					if fd[0] < 0 {
						continue
					}
					buf := scratch[:]
					if r.N < len(out) {
						buf = out[r.N:]
					}
					n, err := rawRead(fd[0], buf)
					switch {
					case n > 0 && r.N < len(out):
						r.N += n
					case n > 0:
					case err != unix.EINTR && err != unix.EAGAIN:
						end(0) // the end, or an error: nothing more to read
					}
				case 1: // the fork server's answer, whole: its end
					if fd[1] >= 0 {
						if err := readCtl(); err != nil {
							werr = err
							return true
						}
					}
				case 2: // the canceler
					if !killed {
						r.Canceled = true
						doKill()
					}
					p.drop() // it stays readable: out of the set
				}
			}
			if (fd[0] < 0 && fd[1] < 0) || (len(msgs) > 0 && c.cmdPid > 0) {
				return true
			}
			if fd[1] < 0 && c.WaitDelay > 0 {
				return true // the deadline moves
			}
		}
	}
	for fd[0] >= 0 || fd[1] >= 0 {
		// The deadline: the check's until it is killed, then none,
		// and WaitDelay after its exit for the output.
		var dl time.Time
		switch {
		case fd[1] < 0 && c.WaitDelay > 0:
			dl = exitedAt.Add(c.WaitDelay)
		case !killed:
			dl = deadline
		}
		_ = p.ep.SetReadDeadline(dl)
		err := p.rc.Read(ready)
		if werr != nil {
			return r, werr
		}
		if len(msgs) > 0 && c.cmdPid > 0 {
			// It failed before its execve (a zygote's child writes
			// its error before the zygote's "pid"; a server's child
			// may write it after): nothing ran.
			break
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded) && fd[1] < 0:
			end(0) // a process the check left behind holds the output
		case errors.Is(err, os.ErrDeadlineExceeded):
			r.TimedOut = true
			doKill()
		case err != nil:
			return r, fmt.Errorf("nsenter: waiting for process %d: %w", c.cmdPid, err)
		}
	}
	if len(msgs) > 0 || c.cmdPid <= 0 {
		c.cmdPid = 0
		if len(msgs) == 0 {
			msgs = append(msgs, "the fork server started nothing")
		}
		return ProbeResult{}, fmt.Errorf("entering the container of process %d: %s", c.pid, strings.Join(msgs, "; "))
	}
	if !r.Exited {
		r.Code = -1
		return r, fmt.Errorf("waiting for process %d: the fork server went away", c.cmdPid)
	}
	return r, nil
}

// ProbeResult is how a Probe ended.
type ProbeResult struct {
	Code     int  // the exit status (128+N for signal N)
	Exited   bool // Code is the command's
	N        int  // bytes of output kept in Probe's buffer
	TimedOut bool // killed at the deadline
	Canceled bool // killed because the canceler was cancelled
}

// A Prober is what one caller's Probes share, made once: an epoll set,
// in which each Probe puts its two pipes, and which Go's poller watches
// as one descriptor (registered once, not two pipes per check); and an
// eventfd in that set that Cancel makes readable. Waiting on Go's
// poller matters: a goroutine blocked in poll(2) keeps its P busy, and
// the runtime's sysmon thread, which sleeps deeply only when every P is
// idle, then wakes every 20 µs for as long as the check runs (perf of
// BenchmarkHealthChecks: a quarter of the daemon's CPU was sysmon's
// naps).
//
//	Go's poller ──▶ p.ep (epoll) ──┬─ the output pipe  (per Probe)
//	                               ├─ the answer pipe  (per Probe)
//	                               └─ the eventfd      (Cancel)
type Prober struct {
	ep   *os.File        // the epoll set, non-blocking, in Go's poller
	epfd int             // its descriptor (ep.Fd would make it blocking)
	rc   syscall.RawConn // ep's, to wait on it

	mu       sync.Mutex
	ev       int  // the eventfd; -1 once closed
	canceled bool // Cancel was called
	inSet    bool // ev is in the set
}

// NewProber makes a Prober; Close it when its Probes are done.
func NewProber() (*Prober, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("nsenter: epoll_create1: %w", err)
	}
	ev, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("nsenter: eventfd: %w", err)
	}
	e := unix.EpollEvent{Events: unix.EPOLLIN, Fd: 2}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, ev, &e); err != nil {
		unix.Close(epfd)
		unix.Close(ev)
		return nil, fmt.Errorf("nsenter: epoll_ctl: %w", err)
	}
	// Non-blocking, so that os.NewFile puts it in Go's poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(ev)
		return nil, fmt.Errorf("nsenter: epoll set: %w", err)
	}
	ep := os.NewFile(uintptr(epfd), "probe epoll")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		unix.Close(ev)
		return nil, fmt.Errorf("nsenter: epoll set: %w", err)
	}
	return &Prober{ep: ep, epfd: epfd, rc: rc, ev: ev, inSet: true}, nil
}

// Cancel makes the Probe under way and every later one kill their
// command; it may be called more than once, and after Close.
func (p *Prober) Cancel() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.canceled = true
	if p.ev >= 0 {
		one := [8]byte{1}
		_, _ = unix.Write(p.ev, one[:])
	}
}

func (p *Prober) isCanceled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.canceled
}

// drop takes the eventfd out of the set once seen: it stays readable.
func (p *Prober) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inSet && p.ev >= 0 {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, p.ev, nil)
		p.inSet = false
	}
}

// Close releases the set and the eventfd; no Probe may use p after it.
func (p *Prober) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ev >= 0 {
		unix.Close(p.ev)
		p.ev = -1
		p.ep.Close()
	}
}
