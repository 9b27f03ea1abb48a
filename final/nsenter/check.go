package nsenter

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
//	a goroutine copies the output,        one poll(2) over the output,
//	one waits for the copy, one for       that pipe and the canceler,
//	the exit; a timer for the timeout     with the deadline as its timeout
//	os.Files in Go's poller, a            raw descriptors, the caller's
//	bufio.Reader, an io.ReadAll           buffer, one small array
//
// At 50 checks a second each goroutine handed over, each descriptor
// registered with the poller and each buffer allocated is paid 50 times
// a second (final/health's doc.go, "What a check costs").
//
// Stdin is /dev/null; stdout and stderr go to one pipe, of which the
// first len(out) bytes are kept in out and the rest read and dropped (a
// chatty check never blocks on a full pipe). At the deadline, or when
// cancel is cancelled, kill is called with the command's PID (to end
// what it started), the command is killed (SIGKILL) and Probe waits for
// its end. Once it has exited, its output is read for at most
// c.WaitDelay more (a process it left behind may hold the pipe).
// An error is about starting it (nothing ran, or it could not enter the
// container); the result says how it ended.
func (c *Cmd) Probe(out []byte, deadline time.Time, cancel *Canceler, kill func(pid int)) (ProbeResult, error) {
	if c.srv == nil || c.held == nil {
		return ProbeResult{}, errors.New("nsenter: Probe is for a held fork server's Cmd")
	}
	if c.served != nil || c.cmd != nil {
		return ProbeResult{}, errors.New("nsenter: already started")
	}
	var p [4]int
	if err := unix.Pipe2(p[0:2], unix.O_CLOEXEC); err != nil {
		return ProbeResult{}, fmt.Errorf("pipe: %w", err)
	}
	if err := unix.Pipe2(p[2:4], unix.O_CLOEXEC); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return ProbeResult{}, fmt.Errorf("pipe: %w", err)
	}
	outR, ctlR := p[0], p[2]
	defer unix.Close(outR)
	defer unix.Close(ctlR)
	// stdin, stdout, stderr, the error pipe, the wait pipe: the
	// control pipe's write end is both of the last two.
	fds := []int{c.held.nullFd, p[1], p[1], p[3], p[3]}
	parent, err := c.dispatch(fds)
	unix.Close(p[1])
	unix.Close(p[3])
	if err != nil {
		return ProbeResult{}, err
	}
	c.served = &served{parent: parent}

	var (
		r        ProbeResult
		ctl      [512]byte // "error MSG" lines, "pid N", "exit S"
		nctl     int
		msgs     []string
		scratch  [4096]byte
		outOpen  = true
		ctlOpen  = true
		exitedAt time.Time
		killed   bool
	)
	cancelFd := -1
	if cancel != nil {
		cancelFd = cancel.fd()
	}
	doKill := func() {
		killed = true
		if c.cmdPid > 0 {
			if kill != nil {
				kill(c.cmdPid)
			}
			_ = c.signalCommand(unix.SIGKILL)
		}
	}
	for outOpen || ctlOpen {
		// The poll's timeout: the deadline until the command is
		// killed, then none, and WaitDelay after its exit for the
		// output.
		wait := -1
		now := time.Now()
		switch {
		case !ctlOpen && c.WaitDelay > 0:
			left := exitedAt.Add(c.WaitDelay).Sub(now)
			if left <= 0 {
				outOpen = false
				continue
			}
			wait = int(left.Milliseconds()) + 1
		case !killed && !deadline.IsZero():
			left := deadline.Sub(now)
			if left <= 0 {
				r.TimedOut = true
				doKill()
				continue
			}
			wait = int(left.Milliseconds()) + 1
		}
		pfd := [3]unix.PollFd{{Fd: -1}, {Fd: -1}, {Fd: -1}}
		if outOpen {
			pfd[0] = unix.PollFd{Fd: int32(outR), Events: unix.POLLIN}
		}
		if ctlOpen {
			pfd[1] = unix.PollFd{Fd: int32(ctlR), Events: unix.POLLIN}
		}
		if cancelFd >= 0 && !killed {
			pfd[2] = unix.PollFd{Fd: int32(cancelFd), Events: unix.POLLIN}
		}
		if _, err := unix.Poll(pfd[:], wait); err != nil && err != unix.EINTR {
			return r, fmt.Errorf("nsenter: poll: %w", err)
		}
		if pfd[0].Revents != 0 {
			buf := scratch[:]
			if r.N < len(out) {
				buf = out[r.N:]
			}
			n, err := unix.Read(outR, buf)
			switch {
			case n > 0 && r.N < len(out):
				r.N += n
			case n > 0:
			case err != unix.EINTR && err != unix.EAGAIN:
				outOpen = false // the end, or an error: nothing more to read
			}
		}
		if pfd[1].Revents != 0 {
			if nctl == len(ctl) {
				return r, fmt.Errorf("nsenter: process %d: the fork server's answer is too long", c.pid)
			}
			n, err := unix.Read(ctlR, ctl[nctl:])
			switch {
			case n > 0:
				nctl += n
				// Whole lines only; a partial one waits for the rest.
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
					} else if v, ok := strings.CutPrefix(line, "exit "); ok {
						r.Code, _ = strconv.Atoi(v)
						r.Exited = true
					}
				}
			case err != unix.EINTR && err != unix.EAGAIN:
				ctlOpen = false
				exitedAt = time.Now()
			}
		}
		if pfd[2].Revents != 0 {
			r.Canceled = true
			doKill()
		}
		if len(msgs) > 0 && c.cmdPid > 0 {
			// It failed before its execve (a zygote's child writes
			// its error before the zygote's "pid"; a server's child
			// may write it after): nothing ran.
			break
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

// A Canceler ends the Probes under way, and those to come, from another
// goroutine: an eventfd that Probe polls beside the command's pipes (Go's
// channels cannot be polled with descriptors).
type Canceler struct {
	mu sync.Mutex
	f  int // -1 once closed
}

// NewCanceler makes a Canceler; Close it when its Probes are done.
func NewCanceler() (*Canceler, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("nsenter: eventfd: %w", err)
	}
	return &Canceler{f: fd}, nil
}

// Cancel makes the Probes under way and every later one kill their
// command; it may be called more than once, and after Close.
func (k *Canceler) Cancel() {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.f >= 0 {
		var one = [8]byte{1}
		_, _ = unix.Write(k.f, one[:])
	}
}

// Close releases the eventfd; no Probe may use k after it.
func (k *Canceler) Close() {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.f >= 0 {
		unix.Close(k.f)
		k.f = -1
	}
}

func (k *Canceler) fd() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.f
}
