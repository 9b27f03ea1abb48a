package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/namespace"
)

// Name is argv[0] of a shim process: the program re-executed, as
// namespace.Start re-executes it as "berth-init". Runtime.Main checks it.
const Name = "berth-shim"

// monitorName is argv[0] of the C monitor (tuning_cmonitor.c) that a shim
// becomes once its container runs. A constructor in the C code catches it
// before the Go runtime starts; Go never sees a process of this name.
const monitorName = "berth-shim-monitor"

// The phases of a shim, os.Args[1] after Name.
const (
	phaseLaunch   = "launch"   // started by the CLI; must detach itself
	phaseDetached = "detached" // detached: start the container, supervise it
	phaseCleanup  = "cleanup"  // after the container's exit (exec'd by the C monitor)
)

// MonitorEnv, set to "go" in the environment of the process that starts a
// shim, makes the shim supervise the container in Go even when the C
// monitor is built in (see the package documentation); set to "c", it
// makes the shim hand the container to the C monitor at once, without
// supervising it in Go first (cMonitorAfter). Tests use it to run both.
const MonitorEnv = "BERTH_SHIM_MONITOR"

// Runtime is what a program tells the shim package about its containers:
// how to start one and how to clean up after one. The shim process, a
// re-execution of the program, calls these functions, so a program must
// call Main first thing in main (and in TestMain).
type Runtime struct {
	// Start starts the container c with the given stdio and returns its
	// init after namespace's Release: everything the program's chapters
	// set up (cgroup, network, root filesystem) happens here. It runs in
	// the shim, whose child the container's init becomes.
	Start func(c *Container, stdio namespace.Stdio) (*namespace.Process, error)
	// Cleanup undoes what Start set up, once the container's init has
	// exited (or Start failed): it destroys the cgroup, releases the
	// network endpoint, and may set st.OOMKilled. It runs in the shim,
	// or, if the shim was killed, in the next command that finds the
	// container dead; so it must be idempotent.
	Cleanup func(c *Container, st *State) error
	// Remove, if set, removes what the program keeps for a container
	// between runs (chapter 04's writable layer), before rm deletes the
	// container's directory.
	Remove func(c *Container) error
	// Warm, if set, runs in a spare shim while it waits for its
	// container (tuning_spares.go): the part of Start that does not
	// depend on the container, done ahead. See warmUp.
	Warm func()
}

// Main runs the shim if this process is one, and exits; otherwise it
// returns at once. A program that uses shims calls it first thing in main
// (and in TestMain).
//
// The Runtime's Start must start its container detached
// (namespace.Config.Detached): the shim replaces itself with the C
// monitor once the container runs, and execve ends the thread that forked
// the container's init, which would fire a parent-death signal.
func (rt Runtime) Main() {
	if len(os.Args) < 3 || os.Args[0] != Name {
		return
	}
	os.Exit(rt.shimMain(os.Args[1], os.Args[2:]))
}

func (rt Runtime) shimMain(phase string, args []string) int {
	switch phase {
	case phaseLaunch:
		// The C constructor did not detach us (no cgo): do it in Go.
		return launchGo(args)
	case phaseDetached:
		rep := os.NewFile(reportFD, "report")
		dir := args[0]
		var pre *prestart
		if dir == spareDir {
			// A spare, launched ahead of need: engine tuning
			// (tuning_spares.go), skip on first reading.
			if pre, dir = rt.waitAsSpare(); dir == "" {
				return 0
			}
		}
		if err := rt.supervise(dir, rep, pre); err != nil {
			// The report ends with this process: only once the
			// shim has exited does the launcher read end of file.
			// By then whatever the start held in the shim (the
			// writable layer's lock, say) is released, and the
			// caller may remove the container at once.
			_ = json.NewEncoder(rep).Encode(report{Error: err.Error()})
			return 1
		}
		return 0
	case phaseCleanup:
		if len(args) != 2 {
			return 2
		}
		fd, err := strconv.Atoi(args[1])
		if err != nil {
			return 2
		}
		c, err := Load(args[0])
		if err != nil {
			return 1
		}
		if err := rt.finish(c, os.NewFile(uintptr(fd), "shim.lock")); err != nil {
			return 1
		}
		return 0
	}
	return 2
}

// reportFD is where a shim tells the command that launched it how the
// start went: one JSON report, then EOF.
const reportFD = 3

// report is the message on reportFD.
type report struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
}

func sendReport(f *os.File, r report) {
	if f == nil {
		return
	}
	_ = json.NewEncoder(f).Encode(r)
	f.Close()
}

// launchGo detaches the shim without C: it starts the shim again, in a
// new session, and exits, so that the shim's parent is gone and it is
// adopted by init (or the nearest subreaper), like a daemon.
func launchGo(args []string) int {
	files := []*os.File{os.NewFile(reportFD, "report")}
	if len(args) > 0 && args[0] == spareDir {
		files = append(files, os.NewFile(ordersFD, "orders"))
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        append([]string{Name, phaseDetached}, args...),
		Env:         os.Environ(),
		ExtraFiles:  files,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		sendReport(os.NewFile(reportFD, "report"), report{Error: fmt.Sprintf("starting the shim: %v", err)})
		return 1
	}
	return 0
}

// supervise is the shim: it starts the container with pipes (or a
// terminal) for its stdio, records it as running, tells the launcher, and
// then supervises it until it exits (monitor), in C or in Go.
func (rt Runtime) supervise(dir string, rep *os.File, pre *prestart) error {
	setName(Name) // for ps; we were executed as /proc/self/exe
	lock, err := takeLock(dir)
	if err != nil {
		return err
	}
	// If the start fails, the lock goes before the launcher hears of
	// it: whoever reads the failure finds the shim done.
	supervising := false
	defer func() {
		if !supervising {
			lock.Close()
		}
	}()
	c, err := Load(dir)
	if err != nil {
		return err
	}
	// Leftovers of the container's earlier run.
	for _, name := range []string{exitFile, stdinFifo} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("container %s: %w", c.Name(), err)
		}
	}

	// A spare prepared the stdio ahead, if it fits (engine tuning,
	// tuning_spares.go); otherwise the shim makes it now.
	ends, execR, execFD, prepared := pre.take(c)
	if !prepared {
		if ends, err = openStdio(c); err != nil {
			return err
		}
		if execR, execFD, err = execWatch(); err != nil {
			ends.closeAll()
			return err
		}
	}
	c.Explain().Stepf(explain.Shim, "shim", "(pid %d, a session of its own): holds the container's stdio, outlives the command that started it", os.Getpid())
	c.Explain().Stepf(explain.Logs, "log", "(%s, max-size %d, %d file(s)): what the container writes, one record per line (time, stream, F or P, the bytes)", c.LogPath(), c.Config.Log.MaxSize, c.Config.Log.Files())
	p, err := rt.Start(c, ends.stdio)
	namespace.DiscardPrestarted() // if Start forked an init of its own
	unix.Close(execFD)
	if ends.consoleSock != nil {
		if terr := ends.receiveTerminal(c); err == nil {
			err = terr
		}
	}
	ends.closeContainerSide()
	if err == nil {
		// Once the command runs, init has long cleared its
		// parent-death signal (see Main), and the shim may replace
		// itself.
		err = waitCommand(p.Pid(), execR, ends)
		p.TraceDone() // init's last steps are in the trace before the report
	}
	execR.Close()
	if err != nil {
		if p != nil {
			_ = p.Kill() // whatever stopped it, it does not run on unsupervised
		}
		ends.closeAll()
		var failed *startFailure
		st := State{Status: Created, Error: err.Error()}
		if errors.As(err, &failed) {
			st.ExitCode = failed.status
		}
		if rt.Cleanup != nil {
			if cerr := rt.Cleanup(c, &st); cerr != nil {
				err = errors.Join(err, cerr)
				st.Error = err.Error()
			}
		}
		_ = os.Remove(filepath.Join(dir, stdinFifo))
		_ = writeState(dir, st)
		return err
	}
	st := State{Status: Running, Pid: p.Pid(), ShimPid: os.Getpid(), StartedAt: time.Now().UTC(), Tty: ends.ttyName}
	st.PidNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p.Pid()))
	if err := writeState(dir, st); err != nil {
		_ = p.Kill()
		return err
	}
	sendReport(rep, report{Pid: p.Pid()})

	// From here on nobody is listening: the shim's errors end up in
	// state.json.
	supervising = true
	m := monitor{c: c, pid: p.Pid(), lock: lock, out: ends.out, err: ends.err, in: ends.in, console: ends.console}
	// Engine tuning (tuning_cmonitor.go), skip on first reading: a
	// container that outlives its first moments is handed to a small C
	// monitor, which replaces this process and never comes back here.
	if ended := m.handOverToC(); !ended {
		m.superviseGo(-1)
	}
	if supervised(supervisorPath(dir)) {
		return lock.Close() // the supervisor cleans up (supervisor.go)
	}
	return rt.finish(c, lock)
}

// stdioEnds are both ends of a container's standard streams: the ones
// the container gets (stdio), and the ones the shim keeps.
type stdioEnds struct {
	stdio     namespace.Stdio
	container []*os.File // the container's ends, closed here once it has them
	out, err  *os.File   // what the shim reads: stdout and stderr, or the terminal's output (err nil)
	in        *os.File   // what the shim writes the container's stdin to, or nil
	console   *os.File   // the terminal's master, held until the exit is recorded; nil without -t
	ttyName   string     // the terminal's slave in the container, /dev/pts/N

	// With -t, until init sends the terminal (openTerminal): the
	// shim's end of the socket, and init's end (at consoleFD) to close
	// once init has it.
	consoleSock  *os.File
	consoleChild int
}

// openStdio makes the container's stdio: pipes, or a terminal with -t.
func openStdio(c *Container) (*stdioEnds, error) {
	e := &stdioEnds{}
	if c.Config.Interactive {
		// run -i: the container's stdin is fed by the shim from a
		// FIFO, which an attached client writes to.
		if err := unix.Mkfifo(filepath.Join(c.dir, stdinFifo), 0o600); err != nil {
			return nil, fmt.Errorf("container %s: stdin FIFO: %w", c.Name(), err)
		}
	}
	if c.Config.Tty {
		return e, e.openTerminal(c)
	}
	if err := e.openPipes(); err != nil {
		return nil, err
	}
	if c.Config.Interactive {
		inR, inW, err := os.Pipe()
		if err != nil {
			e.closeAll()
			return nil, fmt.Errorf("stdin pipe: %w", err)
		}
		e.in = inW
		e.container = append(e.container, inR)
		e.stdio.In = inR
	}
	return e, nil
}

// openPipes makes the container's stdout and stderr: pipes whose read
// ends stay here, since the shim is what keeps reading them, whoever is
// attached.
func (e *stdioEnds) openPipes() error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("stderr pipe: %w", err)
	}
	e.out, e.err = outR, errR
	e.container = []*os.File{outW, errW}
	e.stdio = namespace.Stdio{Out: outW, Err: errW}
	// Larger pipes mean fewer, larger reads for a container that
	// writes a lot: 1 MiB instead of the default 64 KiB (the kernel
	// caps it at /proc/sys/fs/pipe-max-size; failing is harmless).
	for _, w := range []*os.File{outW, errW} {
		_, _ = unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 1<<20)
	}
	return nil
}

// openTerminal prepares a pseudo-terminal for the container (run -t).
// The terminal must come from the container's own devpts, which chapter
// 03 mounts inside the container: a process there finds its terminal by
// name (ttyname, /dev/pts/0), which it cannot do with one of the host's.
// That devpts exists only once init has set up the root filesystem, so
// init opens the terminal itself (ContainerInit, consoleInContainer) and
// sends the shim the master over a socket pair, the way runc's console
// socket works. Until then init's stdout and stderr are a pipe, where a
// failure of the set-up can be read.
func (e *stdioEnds) openTerminal(c *Container) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container %s: terminal socket: %w", c.Name(), err)
	}
	defer unix.Close(fds[1])
	// A copy without close-on-exec at consoleFD, for init to inherit.
	child, err := unix.FcntlInt(uintptr(fds[1]), unix.F_DUPFD, consoleFD)
	if err == nil && child != consoleFD {
		unix.Close(child)
		err = fmt.Errorf("descriptor %d is taken", consoleFD)
	}
	if err != nil {
		unix.Close(fds[0])
		return fmt.Errorf("container %s: terminal socket: %w", c.Name(), err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		unix.Close(fds[0])
		unix.Close(child)
		return fmt.Errorf("container %s: %w", c.Name(), err)
	}
	e.consoleSock, e.consoleChild = os.NewFile(uintptr(fds[0]), "terminal socket"), child
	e.err = errR
	e.container = []*os.File{errW}
	e.stdio = namespace.Stdio{Out: errW, Err: errW}
	return nil
}

// receiveTerminal takes the master of the container's terminal from
// init, once init has started (its copy of the socket is closed here
// first). It sets the window size before init goes on to the command, so
// the command starts with it. If init ends without sending one (its
// set-up failed), there is no terminal, and no error here: the start
// fails on init's own message.
func (e *stdioEnds) receiveTerminal(c *Container) error {
	unix.Close(e.consoleChild)
	e.consoleChild = -1
	sock := e.consoleSock
	defer func() { sock.Close(); e.consoleSock = nil }()
	_ = sock.SetReadDeadline(time.Now().Add(10 * time.Second))
	conn, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, 64)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var rerr error
	if err := conn.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
		return rerr != unix.EAGAIN
	}); err != nil {
		return fmt.Errorf("container %s: receiving its terminal: %w", c.Name(), err)
	}
	if rerr != nil {
		return fmt.Errorf("container %s: receiving its terminal: %w", c.Name(), rerr)
	}
	if n == 0 && oobn == 0 {
		return nil // init ended first
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fmt.Errorf("container %s: no terminal in init's message", c.Name())
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return fmt.Errorf("container %s: no terminal in init's message", c.Name())
	}
	unix.CloseOnExec(fds[0])
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return fmt.Errorf("container %s: its terminal: %w", c.Name(), err)
	}
	master := os.NewFile(uintptr(fds[0]), "/dev/ptmx")
	if rows, cols := c.Config.ConsoleSize[0], c.Config.ConsoleSize[1]; rows > 0 && cols > 0 {
		if err := SetWinsize(master, rows, cols); err != nil {
			master.Close()
			return err
		}
	}
	if _, err := sock.Write([]byte{'K'}); err != nil {
		master.Close()
		return fmt.Errorf("container %s: answering init: %w", c.Name(), err)
	}
	e.console, e.ttyName = master, string(buf[:n])
	// From here on init's stdout and stderr are the terminal: the pipe
	// has nothing more to say.
	e.err.Close()
	e.err = nil
	if e.out, err = dupFile(master, "terminal output"); err != nil {
		return err
	}
	if c.Config.Interactive {
		if e.in, err = dupFile(master, "terminal input"); err != nil {
			return err
		}
	}
	return nil
}

// dupFile returns a new descriptor for the file f is open on.
func dupFile(f *os.File, name string) (*os.File, error) {
	conn, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, derr := -1, error(nil)
	if err := conn.Control(func(old uintptr) { fd, derr = unix.FcntlInt(old, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("%s: dup: %w", name, derr)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// closeContainerSide closes the shim's copies of the container's ends,
// once the container's init has its own: from then on end of file on
// stdout means the container's side is closed.
func (e *stdioEnds) closeContainerSide() {
	for _, f := range e.container {
		f.Close()
	}
	e.container = nil
}

func (e *stdioEnds) closeAll() {
	e.closeContainerSide()
	if e.consoleSock != nil {
		e.consoleSock.Close()
		unix.Close(e.consoleChild)
	}
	for _, f := range []*os.File{e.out, e.err, e.in, e.console} {
		if f != nil {
			f.Close()
		}
	}
}

// execWatchFD is where the write end of the exec watch sits in the
// shim while Runtime.Start forks the container's init: high above the
// descriptors that exec.Cmd hands a child (0-2 and ExtraFiles from 3).
const execWatchFD = 100

// execWatch makes the pipe that tells the shim whether the container's
// init executed the command. Its write end is inherited by init without
// close-on-exec, at execWatchFD; init's ReadSpec marks every inherited
// descriptor above the spec's close-on-exec (namespace.ReadSpec), so the
// kernel closes it at the execve of the command, and the read end sees
// end of file then, or when init exits. An init wrapped in ContainerInit
// that returns instead of executing the command writes "F" first. The
// write end returned is the shim's own copy: close it once init is
// started.
func execWatch() (r *os.File, w int, err error) {
	r, wf, err := os.Pipe()
	if err != nil {
		return nil, -1, fmt.Errorf("exec watch pipe: %w", err)
	}
	defer wf.Close()
	// F_DUPFD: a copy without close-on-exec, for the child to inherit.
	w, err = unix.FcntlInt(wf.Fd(), unix.F_DUPFD, execWatchFD)
	if err == nil && w != execWatchFD {
		unix.Close(w)
		err = fmt.Errorf("descriptor %d is taken", execWatchFD)
	}
	if err != nil {
		r.Close()
		return nil, -1, fmt.Errorf("exec watch pipe: %w", err)
	}
	return r, w, nil
}

// startFailure is the error of a container whose init could not execute
// the command: it does not exist, cannot be executed, or the container
// could not be set up. The start fails with init's message ("nosuch:
// executable file not found in $PATH"), whose words tell the docker
// client which exit status to report (127, 126), and the state records
// it with init's exit status.
type startFailure struct {
	status int
	msg    string
}

func (f *startFailure) Error() string { return f.msg }

// waitCommand waits until the container's command runs: until init has
// executed it (end of file on the exec watch), or, under --init (where
// init stays and starts the command as its child), until init has a
// child. If init reports that it could not run the command ("F" on the
// watch), the start has failed.
//
// Until the command runs, init is this Go program, setting the container
// up, and a Go program dies of SIGTERM (exit status 2) where the command,
// a shell as PID 1 say, would ignore it. A `stop` right after `run -d`
// must meet the command, so the shim reports the container as running
// only now. And a command that cannot be executed is a failed start, as
// Docker reports it, rather than a container that ran and exited 127.
func waitCommand(pid int, execR *os.File, ends *stdioEnds) error {
	conn, err := execR.SyscallConn()
	if err != nil {
		return err
	}
	var rfd int
	_ = conn.Control(func(fd uintptr) { rfd = int(fd) })
	children := fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)
	// Without --init, the watch's end of file comes at the execve: no
	// waiting beyond that. Under --init it comes only at init's exit:
	// look for init's child every millisecond meanwhile.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		fds := []unix.PollFd{{Fd: int32(rfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("watching init (pid %d): %w", pid, err)
		}
		if n > 0 {
			var b [1]byte
			k, _ := unix.Read(rfd, b[:])
			if k == 1 && b[0] == 'F' {
				return notExecuted(pid, ends)
			}
			if k == 0 {
				return nil // executed (or init died: the monitor will see)
			}
		}
		if kids, err := os.ReadFile(children); err == nil && len(kids) > 0 {
			return nil
		}
	}
	return nil // a slow set-up: report it running, and let it go on
}

// notExecuted makes the error of a start whose init could not run the
// command: init's status, and its last words, which it wrote on stderr
// (on the terminal with -t) as "berth-init: MESSAGE".
func notExecuted(pid int, ends *stdioEnds) error {
	info, err := waitid(pid, unix.WEXITED|unix.WNOWAIT)
	if err != nil {
		return fmt.Errorf("init (pid %d) could not run the command: %w", pid, err)
	}
	said := strings.TrimSpace(readAvailable(ends.err, ends.out))
	if i := strings.LastIndex(said, namespace.InitName+": "); i >= 0 {
		said = said[i+len(namespace.InitName)+2:]
	}
	if said == "" {
		said = fmt.Sprintf("the container's init ended with status %d before running the command", info.status())
	}
	return &startFailure{status: info.status(), msg: said}
}

// readAvailable reads what is left in the container's output after its
// init exited: all of it, since every writer is gone. It reads stderr,
// or with a terminal (err nil) the terminal's output.
func readAvailable(errR, out *os.File) string {
	f := errR
	if f == nil {
		f = out
	}
	_ = f.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	defer f.SetReadDeadline(time.Time{})
	var b strings.Builder
	buf := make([]byte, 4096)
	for b.Len() < 64<<10 {
		n, err := f.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// finish runs after the container's init has exited and its exit status
// is in exit.json: it cleans up (Runtime.Cleanup) and writes the final
// state. Then the shim exits, which releases the lock.
func (rt Runtime) finish(c *Container, lock *os.File) error {
	defer lock.Close()
	st, err := c.rawState()
	if err != nil {
		return err
	}
	ex, ok, err := c.readExit()
	if err != nil || !ok {
		ex = exitRecord{ExitCode: -1, FinishedAt: time.Now().UTC()}
		st.Error = "the exit status was lost"
	}
	st.Status, st.ExitCode, st.FinishedAt, st.Pid = Exited, ex.ExitCode, ex.FinishedAt, 0
	if rt.Cleanup != nil {
		if err := rt.Cleanup(c, &st); err != nil {
			st.Error = "cleaning up: " + err.Error()
		}
	}
	_ = os.Remove(filepath.Join(c.dir, stdinFifo))
	// exit.json stays until the next start: it is the durable record of
	// the exit, and state.json, rewritten on every run, is not flushed.
	return writeState(c.dir, st)
}

// recover finishes a run whose shim is gone without writing the final
// state. Either the shim left the clean-up to the store's supervisor
// (supervisor.go): exit.json has the status, and only Cleanup is left.
// Or the shim died (it was killed): nobody recorded the container's exit,
// destroyed its cgroup or released its network, and the container itself
// may still run, orphaned; it is killed first. recover takes the lock
// itself, so that no shim can start meanwhile.
func (rt Runtime) recover(c *Container) error {
	lock, err := takeLock(c.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	st, err := c.rawState()
	if err != nil || st.Status != Running {
		return err // someone else finished it
	}
	_, handedOver, _ := c.readExit()
	if !handedOver {
		killOrphan(st)
		if err := writeExit(c, -1, time.Now()); err != nil {
			return err
		}
	}
	if err := rt.finish(c, lock); err != nil || handedOver {
		return err
	}
	st, err = c.rawState()
	if err == nil && st.Error == "" {
		st.Error = "the container's shim died: its exit status is unknown"
		err = writeState(c.dir, st)
	}
	return err
}

// killOrphan kills the init of a run whose shim died, if it still runs.
// A PID alone could name another process by now; the PID namespace that
// state.json recorded tells: a container's init is the only process that
// is PID 1 in it. Killing PID 1 of a namespace kills all of it.
func killOrphan(st State) {
	if st.Pid <= 0 || st.PidNS == "" {
		return
	}
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return // gone
	}
	defer unix.Close(fd)
	if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid)); err != nil || ns != st.PidNS {
		return
	}
	if unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil {
		exited(fd, 5*time.Second)
	}
}

// setName sets the name ps shows for this process.
func setName(name string) {
	b := append([]byte(name), 0)
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0)
}

// writeExit writes exit.json (the Go monitor's; the C monitor writes the
// same JSON itself): durably, unless the container is Ephemeral.
func writeExit(c *Container, code int, at time.Time) error {
	return writeJSONFile(filepath.Join(c.dir, exitFile), exitRecord{ExitCode: code, FinishedAt: at.UTC()}, !c.Config.Ephemeral)
}

// Start launches a shim for the container and returns once the container
// runs (or failed to start). The shim outlives the caller.
//
//	caller (run)                shim ("berth-shim launch")
//	  |  fork+exec  ----------->  C constructor: fork; parent exits at once,
//	  |  wait (at once)             child: setsid, goes on into Go as "detached"
//	  |                           lock, pipes, Runtime.Start -> init (child of the shim)
//	  |  <- report {pid} -------  state.json: running
//	  v  returns                  execve -> C monitor: logs, waits, exit.json
//	                              execve -> Go "cleanup": Runtime.Cleanup, state.json: exited
func (rt Runtime) StartContainer(c *Container) (State, error) {
	return rt.startContainer(c, nil)
}

// startContainer is StartContainer, with a shim started ahead of need
// (spare, see tuning_spares.go) if not nil.
func (rt Runtime) startContainer(c *Container, spare *launchedShim) (State, error) {
	st, err := rt.beforeStart(c)
	if err != nil {
		if spare != nil {
			spare.close()
		}
		return st, err
	}
	if spare == nil || !spare.order(c.dir) {
		if spare != nil {
			spare.close()
		}
		if spare, err = launch(c.dir); err != nil {
			return st, fmt.Errorf("starting shim for %s: %w", c.Name(), err)
		}
	}
	rep, err := spare.wait()
	if err != nil {
		return st, fmt.Errorf("container %s: %w", c.Name(), err)
	}
	if rep.Error != "" {
		return st, fmt.Errorf("starting container %s: %s", c.Name(), rep.Error)
	}
	return c.State()
}

// beforeStart checks that c may start, and finishes its last run if
// its shim is still at it or died.
func (rt Runtime) beforeStart(c *Container) (State, error) {
	st, err := c.State()
	if err != nil {
		return st, err
	}
	if st.Status == Running {
		return st, fmt.Errorf("%w: %s", ErrRunning, c.Name())
	}
	if c.shimAlive() {
		// The last run's shim is still cleaning up: let it finish.
		if _, err := c.Wait(10 * time.Second); err != nil {
			return st, err
		}
	}
	if c.needsRecovery() {
		if err := rt.recover(c); err != nil {
			return st, err
		}
	}
	return st, nil
}
