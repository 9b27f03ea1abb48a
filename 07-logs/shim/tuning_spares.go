// Engine tuning: skip on first reading; docs/performance.md tells why it
// exists. Without spares, every start launches its own shim
// (Runtime.StartContainer, launch.go), which then forks the container's
// init: the same container, a few milliseconds later.

package shim

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// A shim started ahead of need.
//
// Every start of a container starts a shim, and a shim is this program
// executed again: the dynamic loader, the Go runtime, the package
// initialisers, before the first line of the shim's own work. That costs
// a few milliseconds, and they are on the path of every `docker run`.
// A daemon that starts containers all day (berthd) keeps shims started
// in advance, spares (two, see spareCount), each waiting for its
// container:
//
//	daemon                                 spare shim ("berth-shim launch -")
//	  Spares: launch a spare  ------------>  detached, Go started, then blocks
//	                                           reading its order (fd 4)
//	  StartContainer(c):
//	    write c's directory, close  ------->  supervise c, as any shim
//	    read the report   <----------------  {"pid": ...}
//	    launch the next spare (in the background)
//
// A spare costs the memory of an idle Go process (a few MiB) while it
// waits, and uses the wait for more work ahead: its container's init
// (prestartInit) and the first uses of encoding/json (warmUp). It holds
// nothing of any container: it reads its container's configuration only
// once it has its order. If the daemon goes away, the spare reads end of
// file and exits.

// ordersFD is where a spare reads its order: the directory of the
// container it is to supervise.
const ordersFD = 4

// spareDir is the directory argument of a shim launched as a spare.
const spareDir = "-"

// order gives a spare its container. It fails if the spare is gone.
func (s *launchedShim) order(dir string) bool {
	if s.orders == nil {
		return false
	}
	_, err := io.WriteString(s.orders, dir+"\n")
	s.orders.Close()
	s.orders = nil
	return err == nil
}

// waitAsSpare is a spare's life before its order, in the shim's process:
// it starts an init ahead and warms encoding/json up, waits for its
// container's directory, and takes back its launcher's priority. It
// returns the directory, or "" if the order pipe ended without one (the
// daemon let the spare go); the prestart is for supervise.
func (rt Runtime) waitAsSpare() (*prestart, string) {
	pre := prestartInit()
	rt.warmUp()
	dir := readOrder()
	if dir == "" {
		pre.discard()
		return nil, ""
	}
	restorePriority()
	return pre, dir
}

// prestart is what a spare prepares while it waits for its order: the
// stdio of a container without -i or -t (two pipes), the exec watch, and
// an init started with them (namespace.Prestart), whose start-up then
// is off the path of the container's start too. Runtime.Start takes that
// init if the container's namespaces are the usual ones (Detached, its
// own network namespace, no user namespace); otherwise it forks its own,
// and the spare's is killed.
type prestart struct {
	ends   *stdioEnds
	execR  *os.File
	execFD int
}

// prestartInit prepares a spare's init, or returns nil if it cannot.
func prestartInit() *prestart {
	// The order pipe is no business of init's.
	unix.CloseOnExec(ordersFD)
	e := &stdioEnds{}
	if err := e.openPipes(); err != nil {
		return nil
	}
	execR, execFD, err := execWatch()
	if err != nil {
		e.closeAll()
		return nil
	}
	if err := namespace.Prestart(namespace.Config{Detached: true}, e.stdio); err != nil {
		e.closeAll()
		execR.Close()
		unix.Close(execFD)
		return nil
	}
	return &prestart{ends: e, execR: execR, execFD: execFD}
}

// fits reports whether container c can use the prepared stdio.
func (p *prestart) fits(c *Container) bool {
	return p != nil && !c.Config.Interactive && !c.Config.Tty
}

// take gives supervise what the spare prepared, if container c can use
// it: its stdio and its exec watch. Otherwise it discards it and
// returns ok false, and supervise makes its own, as a shim launched for
// its container always does.
func (p *prestart) take(c *Container) (ends *stdioEnds, execR *os.File, execFD int, ok bool) {
	if !p.fits(c) {
		p.discard()
		return nil, nil, 0, false
	}
	return p.ends, p.execR, p.execFD, true
}

// discard kills the prepared init and closes what was prepared for it.
func (p *prestart) discard() {
	if p == nil {
		return
	}
	namespace.DiscardPrestarted()
	p.ends.closeAll()
	p.execR.Close()
	unix.Close(p.execFD)
}

// A spare's priority.
//
// A spare is work done ahead of need, and its start-up (the fork and exec
// of this big binary, the Go runtime, then its init's) would otherwise
// compete for the CPUs with the very container start it is meant to
// speed up: on a machine with two cores, the refill launched after one
// `docker run` lands in the middle of that run's exit and removal. So a
// spare is launched at nice 19, the lowest priority, and takes back the
// priority of its launcher once it has its order. Nice is a property of
// each thread, inherited by the threads and processes it creates: the
// launcher lowers one thread of its own, locked to the goroutine that
// forks the spare, and tells the spare its own value in the environment
// (spareNiceEnv). The spare gives it back to its threads, and to its
// init's before init goes on to the command, which must run at the
// engine's priority, not at the spare's.

// spareNiceEnv carries the launcher's nice value to a spare launched at
// nice 19.
const spareNiceEnv = "BERTH_SPARE_NICE"

// lowerThisThread locks the calling goroutine to its thread and lowers
// that thread to nice 19. It returns the thread's nice value before, and
// whether it changed it. The thread is never unlocked: when the
// goroutine ends, the Go runtime ends the thread with it, so no other
// goroutine ever runs at that priority.
func lowerThisThread() (base int, lowered bool) {
	runtime.LockOSThread()
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0) // this thread: 20 - nice
	if err != nil || 20-prio >= 19 {
		return 0, false
	}
	if unix.Setpriority(unix.PRIO_PROCESS, 0, 19) != nil {
		return 0, false
	}
	return 20 - prio, true
}

// restorePriority gives the spare's threads and its prestarted init's
// the nice value of the spare's launcher.
//
// setpriority(2) with PRIO_PROCESS changes one thread; with PRIO_PGRP it
// changes every thread of every process of a process group, in one call.
// The spare leads a group of its own (its launch made it a session
// leader, see tuning_cmonitor.c), and its prestarted init, its child, is in it:
// one call reaches them all. It is made twice: a thread created during
// the first by a thread not yet changed would inherit the old value.
func restorePriority() {
	base, err := strconv.Atoi(os.Getenv(spareNiceEnv))
	if err != nil {
		return // not lowered
	}
	os.Unsetenv(spareNiceEnv)
	for range 2 {
		_ = unix.Setpriority(unix.PRIO_PGRP, 0, base)
	}
}

// warmUp is what a spare does ahead besides its init: the first use of
// each type by encoding/json, which builds the type's encoder and decoder
// by reflection, 10 to 20 times the cost of every later use (0.2 ms for
// a run spec, against 0.013). A start decodes the container's config and
// spec and encodes its state, its init's spec, its report: warmed here
// with zero values, they cost the start only the later uses. The
// Runtime's Warm does the same for the types of its own chapters.
func (rt Runtime) warmUp() {
	for _, v := range []any{&Config{}, &State{}, &exitRecord{}, &report{}} {
		if data, err := json.Marshal(v); err == nil {
			_ = json.Unmarshal(data, v)
		}
	}
	if rt.Warm != nil {
		rt.Warm()
	}
}

// readOrder is the spare's side: it waits for its container's directory,
// and returns "" if the order pipe ends without one.
func readOrder() string {
	f := os.NewFile(ordersFD, "orders")
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSuffix(line, "\n")
}

// spareCount is how many spares wait. One is not enough for containers
// started one after the other (a script, a benchmark): a spare is
// launched when a start is done, and its two Go start-ups (the shim's,
// then its init's), at the lowest priority, are not over by the next
// `docker run` a dozen milliseconds later, whose start then waits for
// them. With two, each spare has the time of a whole run more. A
// waiting spare costs little memory of its own: some 3 MiB, its shim's
// and its init's; the rest of their resident size is this program's
// code, shared with the daemon through the page cache.
const spareCount = 2

// Spares starts containers with shims started ahead of need: spareCount
// spare shims wait, and each start takes the oldest and launches another
// in the background. Close lets the waiting spares go.
type Spares struct {
	rt Runtime

	mu      sync.Mutex
	next    []*launchedShim // the waiting spares, oldest first
	filling bool            // a spare is being launched (one at a time)
	closed  bool
	fills   sync.WaitGroup
}

// Spares returns a Spares for rt, with its first spare on the way.
func (rt Runtime) Spares() *Spares {
	s := &Spares{rt: rt}
	s.mu.Lock()
	s.fill()
	s.mu.Unlock()
	return s
}

// fill launches a spare in the background if fewer than spareCount wait,
// unless one is on the way: then that one calls fill again when it is
// launched. Call with s.mu held.
func (s *Spares) fill() {
	if s.filling || s.closed || len(s.next) >= spareCount {
		return
	}
	s.filling = true
	s.fills.Add(1)
	go func() {
		defer s.fills.Done()
		var env []string
		if base, lowered := lowerThisThread(); lowered {
			env = []string{spareNiceEnv + "=" + strconv.Itoa(base)}
		}
		sp, err := launch("", env...)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.filling = false
		if err != nil {
			return // the next start launches its own shim, and tries again
		}
		if s.closed {
			sp.close()
			return
		}
		s.next = append(s.next, sp)
		s.fill()
	}()
}

// StartContainer is Runtime.StartContainer with the oldest waiting
// spare, if there is one.
//
// The next spare is launched once this start is done, not before: on a
// machine with few cores its start-up would compete for them with the
// container's.
func (s *Spares) StartContainer(c *Container) (State, error) {
	var sp *launchedShim
	s.mu.Lock()
	if len(s.next) > 0 {
		sp, s.next = s.next[0], s.next[1:]
	}
	s.mu.Unlock()
	st, err := s.rt.startContainer(c, sp)
	s.mu.Lock()
	s.fill()
	s.mu.Unlock()
	return st, err
}

// Close lets the waiting spares go, and waits for a launch in progress.
func (s *Spares) Close() error {
	s.mu.Lock()
	s.closed = true
	waiting := s.next
	s.next = nil
	s.mu.Unlock()
	for _, sp := range waiting {
		sp.close()
	}
	s.fills.Wait()
	return nil
}
