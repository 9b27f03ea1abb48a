package nsenter

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// serverName is argv[0] of the fork server (server.c).
const serverName = Name + "-server"

// requestMagic opens every request (REQUEST_MAGIC in server.c).
const requestMagic = 0x62727468

// zygoteMagic is a request to a zygote (ZYGOTE_MAGIC in server.c).
const zygoteMagic = 0x7a796774

// maxNamespaces is MAX_NS in server.c.
const maxNamespaces = 16

// nsFlags are the CLONE_NEW* flags of the namespaces, by name.
var nsFlags = map[string]uint32{
	"user": unix.CLONE_NEWUSER, "ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS,
	"net": unix.CLONE_NEWNET, "pid": unix.CLONE_NEWPID, "cgroup": unix.CLONE_NEWCGROUP, "mnt": unix.CLONE_NEWNS,
}

// Server is a fork server: one process, started once, that starts every
// Command of the server in its container, with the same confinement as
// the package's Command, without starting this program (and its Go
// runtime) again for each one. See doc.go, "Two ways in".
type Server struct {
	fd   int // our end of the SOCK_SEQPACKET socket
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited

	mu     sync.Mutex
	closed bool
}

// StartServer starts a fork server: this program, re-executed from its
// sealed copy with argv[0] "berth-nsenter-server", which nsenter.c's
// constructor turns into server.c's loop before the Go runtime starts.
// It ends once Close is called (or this process exits) and the last
// process it started has ended.
func StartServer() (*Server, error) {
	if !haveConstructor {
		return nil, ErrNoCgo
	}
	exe, err := namespace.Executable()
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fork server: socketpair: %w", err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "fork server socket")
	defer theirs.Close()
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{serverName},
		Env:         []string{},
		ExtraFiles:  []*os.File{theirs}, // fd 3
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("starting %s: %w", serverName, err)
	}
	s := &Server{fd: fds[0], cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// Pid is the server process's PID: the parent of every command it
// starts.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Alive reports whether the server process still runs and takes
// requests.
func (s *Server) Alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
		return !s.closed
	}
}

// Close tells the server to take no more requests. It exits once the
// commands it started have ended (their Wait still works until then).
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return unix.Close(s.fd)
}

// Command prepares opts to run through the server: the same checks and
// the same result as the package's Command, but Start sends a request
// instead of starting a helper.
func (s *Server) Command(opts Options) (*Cmd, error) {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"CapSets", opts.CapSets != nil}, {"Rlimits", opts.Rlimits != nil}, {"Umask", opts.Umask != nil},
		{"OOMScoreAdj", opts.OOMScoreAdj != nil}, {"ChownStdio", opts.ChownStdio}, {"Detach", opts.Detach},
		{"Exe", opts.Exe != nil},
	} {
		if f.set {
			return nil, fmt.Errorf("nsenter: Options.%s: not supported by the fork server (use Command)", f.name)
		}
	}
	c, err := Command(opts)
	if err != nil {
		return nil, err
	}
	if len(c.nss) > maxNamespaces {
		return nil, fmt.Errorf("%d namespaces: the fork server takes %d", len(c.nss), maxNamespaces)
	}
	if c.req, err = c.request(false); err != nil {
		return nil, err
	}
	c.srv = s
	return c, nil
}

// Server is the fork server c goes through; nil for a helper's Cmd.
func (c *Cmd) Server() *Server { return c.srv }

// Hold opens the files every Start of c and of its Again copies sends
// (the namespaces, the cgroup.procs files, /dev/null) now, once, and
// keeps them until Release: a command run at every interval is not
// charged the opening of a dozen files each time (on cgroup v1 a
// cgroup.procs file per hierarchy). Holding the namespaces' files keeps
// the namespaces alive: Release them when the container ends.
func (c *Cmd) Hold() error {
	if c.srv == nil {
		return errors.New("nsenter: Hold is for a fork server's Cmd")
	}
	h := &held{}
	var err error
	h.ns, err = c.openNamespaces()
	if err == nil {
		h.cgroups, err = c.openCgroups()
	}
	if err == nil {
		h.null, err = os.OpenFile(os.DevNull, os.O_RDWR, 0)
	}
	if err == nil {
		h.nullFd = int(h.null.Fd()) // once: Fd costs a system call each time
	}
	if err != nil {
		h.release()
		return err
	}
	c.held = h
	return nil
}

// StartZygote asks the server for a zygote for c, which must be held: a
// process that enters c's container and takes its user, keyring,
// seccomp filter and capabilities once, and from then on forks every
// Start of c and of its Again copies, which then do only what can differ
// from one to the next (doc.go, "A zygote per command"). It returns
// the zygote's PID. A command with a terminal gets none, nor one whose
// filter refuses what the zygote itself must do (fork, wait, poll,
// recvmsg): the error says why, and the Starts go on as without it, a
// fork of the server each. Release ends the zygote, once the commands it
// started have ended; so does the server's end.
func (c *Cmd) StartZygote() (int, error) {
	if c.held == nil {
		return 0, errors.New("nsenter: StartZygote needs Hold first")
	}
	if c.held.zyg != nil {
		return c.held.zyg.pid, nil
	}
	if c.cfg.Tty {
		return 0, errors.New("nsenter: a command with a terminal gets no zygote")
	}
	z, err := c.startZygote(c.held)
	if err != nil {
		return 0, err
	}
	c.held.zyg = z
	return z.pid, nil
}

// zygote is a process the server forked for a held Cmd, that has
// entered its container and taken its user, filter and capabilities
// once, and forks each Start of it from there (doc.go, "A zygote per
// check").
type zygote struct {
	mu  sync.Mutex
	fd  int // our end of its control socket; -1 once closed
	pid int
}

// startZygote asks the server for a zygote: c's request with zygote
// set, the held files, and the zygote's end of a new control socket.
// The zygote answers "ready" on the error pipe once it is set up, or an
// error and exits; it never runs a command itself.
func (c *Cmd) startZygote(h *held) (*zygote, error) {
	req, err := c.request(true)
	if err != nil {
		return nil, err
	}
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("zygote: socketpair: %w", err)
	}
	defer unix.Close(sp[1])
	errR, errW, err := os.Pipe()
	if err != nil {
		unix.Close(sp[0])
		return nil, err
	}
	defer errR.Close()
	waitR, waitW, err := os.Pipe()
	if err != nil {
		unix.Close(sp[0])
		errW.Close()
		return nil, err
	}
	defer waitR.Close()
	null := h.nullFd
	fds := []int{null, null, null, int(errW.Fd()), int(waitW.Fd())}
	for _, f := range append(slices.Clone(h.ns), h.cgroups...) {
		fds = append(fds, int(f.Fd()))
	}
	fds = append(fds, sp[1])
	c.srv.mu.Lock()
	if c.srv.closed {
		err = errors.New("fork server: closed")
	} else {
		err = unix.Sendmsg(c.srv.fd, req, unix.UnixRights(fds...), nil, 0)
	}
	c.srv.mu.Unlock()
	errW.Close()
	waitW.Close()
	if err != nil {
		unix.Close(sp[0])
		return nil, fmt.Errorf("fork server: sending the request: %w", err)
	}
	status, _ := io.ReadAll(errR)
	pidLine, _ := bufio.NewReader(waitR).ReadString('\n')
	pid, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(pidLine), "pid "))
	if string(status) != "ready\n" || pid <= 0 {
		unix.Close(sp[0])
		msg := strings.TrimSpace(strings.TrimPrefix(string(status), "error "))
		if msg == "" {
			msg = "it exited before it was ready"
		}
		return nil, fmt.Errorf("zygote for process %d: %s", c.pid, msg)
	}
	return &zygote{fd: sp[0], pid: pid}, nil
}

// send hands the zygote one Start's five descriptors; false if the
// zygote is gone (it then takes no more).
func (z *zygote) send(fds []int) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.fd < 0 {
		return false
	}
	msg := binary.LittleEndian.AppendUint32(make([]byte, 0, 4), zygoteMagic)
	// Raw (tuning_probe.go); a full socket, which the zygote empties
	// at once, gets the ordinary call, which may wait.
	err := rawSendRights(z.fd, msg, fds)
	if err == unix.EAGAIN {
		err = unix.Sendmsg(z.fd, msg, unix.UnixRights(fds...), nil, 0)
	}
	if err != nil {
		unix.Close(z.fd)
		z.fd = -1
		return false
	}
	return true
}

// close tells the zygote to end once its running checks have.
func (z *zygote) close() {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.fd >= 0 {
		unix.Close(z.fd)
		z.fd = -1
	}
}

// Release closes what Hold opened. The copies made by Again must not
// be started after it.
func (c *Cmd) Release() {
	if c.held != nil {
		c.held.release()
	}
}

// held are the files Hold keeps.
type held struct {
	ns, cgroups []*os.File
	null        *os.File
	nullFd      int
	zyg         *zygote
}

func (h *held) release() {
	if h.zyg != nil {
		h.zyg.close()
	}
	for _, f := range append(append([]*os.File{h.null}, h.ns...), h.cgroups...) {
		if f != nil {
			f.Close()
		}
	}
}

// openNamespaces opens the namespaces' files, checked against the
// inodes Command read: a PID reused since is not entered.
func (c *Cmd) openNamespaces() ([]*os.File, error) {
	var files []*os.File
	for _, ns := range c.nss {
		path := fmt.Sprintf("/proc/%d/ns/%s", c.pid, ns.name)
		f, err := os.Open(path)
		if err != nil {
			closeAll(files)
			return nil, fmt.Errorf("entering the container of process %d: %w (has the container exited?)", c.pid, err)
		}
		files = append(files, f)
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Ino != ns.ino {
			closeAll(files)
			return nil, fmt.Errorf("entering the container of process %d: %s is not namespace %d: the process is not the container's any more", c.pid, path, ns.ino)
		}
	}
	return files, nil
}

func (c *Cmd) openCgroups() ([]*os.File, error) {
	var files []*os.File
	for _, p := range c.cgroupProcs {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			closeAll(files)
			return nil, fmt.Errorf("entering the container of process %d: %w", c.pid, err)
		}
		files = append(files, f)
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// Again is a new Cmd with c's options, not started and without its
// streams: what Command would return again, without checking the
// options and compiling the seccomp filter again. A health check runs
// the same command at every interval.
func (c *Cmd) Again() *Cmd {
	return &Cmd{
		WaitDelay: c.WaitDelay,
		pid:       c.pid, cfg: c.cfg, nss: c.nss, cgroupProcs: c.cgroupProcs,
		srv: c.srv, req: c.req, held: c.held, args: c.args, env: c.env,
	}
}

// request encodes c's config as server.c's struct request and what
// follows it.
func (c *Cmd) request(zygote bool) ([]byte, error) {
	cfg := c.cfg
	var seccompLen, seccompFlags uint32
	if cfg.Seccomp != nil && !cfg.Seccomp.Unconfined {
		if n := len(cfg.Seccomp.Program); n == 0 || n > 4096 {
			return nil, fmt.Errorf("seccomp: a program of %d instructions (the kernel takes 1 to 4096)", n)
		}
		seccompLen, seccompFlags = uint32(len(cfg.Seccomp.Program)), uint32(cfg.Seccomp.Flags)
	} else if cfg.Seccomp == nil {
		return nil, errors.New("seccomp: no filter")
	}
	var keep uint64
	for _, name := range cfg.Capabilities {
		n, err := rootfs.ParseCapability(name)
		if err != nil {
			return nil, err
		}
		if n < 64 {
			keep |= 1 << n
		}
	}
	var strs []byte
	for _, s := range append(append([]string{cfg.Dir}, cfg.Args...), cfg.Env...) {
		strs = append(append(strs, s...), 0)
	}
	b32 := func(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
	boolean := func(v bool) uint32 {
		if v {
			return 1
		}
		return 0
	}
	b := b32(nil, requestMagic)
	b = b32(b, uint32(len(c.nss)))
	for i := range maxNamespaces {
		var f uint32
		if i < len(c.nss) {
			f = nsFlags[c.nss[i].name]
		}
		b = b32(b, f)
	}
	for _, v := range []uint32{
		uint32(cfg.EarlyCgroups), uint32(cfg.Cgroups), cfg.UID, cfg.GID, uint32(len(cfg.Groups)),
		boolean(cfg.Tty), boolean(cfg.NoNewPrivileges), seccompLen, seccompFlags,
		uint32(keep), uint32(keep >> 32), uint32(len(cfg.Args)), uint32(len(cfg.Env)), uint32(len(strs)), boolean(zygote),
	} {
		b = b32(b, v)
	}
	if seccompLen > 0 {
		for _, in := range cfg.Seccomp.Program {
			b = binary.LittleEndian.AppendUint16(b, in.Code)
			b = append(b, in.Jt, in.Jf)
			b = b32(b, in.K)
		}
	}
	for _, g := range cfg.Groups {
		b = b32(b, g)
	}
	return append(b, strs...), nil
}

// served is the state of a Cmd started through a Server.
type served struct {
	wait   *bufio.Reader // the wait pipe: "pid N", then "exit S"
	waitF  *os.File
	copies sync.WaitGroup
	mine   []*os.File // pipe ends of ours, closed after the copies
	status chan int
	parent int // the command's parent: the server, or a zygote
}

// startServed is Start through the server.
func (c *Cmd) startServed() (err error) {
	// What is sent, in server.c's order; of it, the descriptors that
	// are ours alone, closed once sent. The others (the caller's files,
	// the held ones) are sent as they are: the server receives copies.
	// The pipes are made raw, with no os.File on the child's ends, and
	// ours are blocking but for the output's: no poller registration
	// for a pipe that is read in one go (a health check's CPU goes to
	// such things: see final/health's doc.go).
	var fds, theirs []int
	sv := &served{}
	defer func() {
		for _, fd := range theirs {
			unix.Close(fd)
		}
		if err != nil {
			for _, f := range sv.mine {
				f.Close()
			}
		}
	}()
	send := func(fd int, ours bool) {
		fds = append(fds, fd)
		if ours {
			theirs = append(theirs, fd)
		}
	}
	pipe := func() (r, w int, err error) {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return -1, -1, fmt.Errorf("pipe: %w", err)
		}
		return p[0], p[1], nil
	}
	// The streams: files as they are, anything else through a pipe
	// (one for both if Stdout and Stderr are the same writer, as
	// os/exec does).
	std := []any{c.Stdin, c.Stdout, c.Stderr}
	for i, s := range std {
		if i == 2 && c.Stderr != nil && interfaceEqual(c.Stdout, c.Stderr) {
			send(fds[1], false) // sent twice: the server receives two copies
			continue
		}
		switch v := s.(type) {
		case *os.File:
			if v != nil {
				send(int(v.Fd()), false)
				continue
			}
		case nil:
		default:
			r, w, err := pipe()
			if err != nil {
				return err
			}
			if i == 0 {
				send(r, true)
				_ = unix.SetNonblock(w, true) // ours: closed at WaitDelay, so polled
				wf := os.NewFile(uintptr(w), "|0")
				sv.mine = append(sv.mine, wf)
				sv.copies.Add(1)
				go func() {
					defer sv.copies.Done()
					_, _ = io.Copy(wf, v.(io.Reader))
					wf.Close()
				}()
			} else {
				send(w, true)
				_ = unix.SetNonblock(r, true)
				rf := os.NewFile(uintptr(r), fmt.Sprintf("%d|", i))
				sv.mine = append(sv.mine, rf)
				sv.copies.Add(1)
				go func() {
					defer sv.copies.Done()
					_, _ = io.Copy(v.(io.Writer), rf)
				}()
			}
			continue
		}
		if c.held != nil {
			send(c.held.nullFd, false)
			continue
		}
		null, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", os.DevNull, err)
		}
		send(null, true)
	}
	// The error pipe and the wait pipe: blocking, read by this
	// goroutine (Start, Wait) until they end.
	r, w, err := pipe()
	if err != nil {
		return err
	}
	errR := os.NewFile(uintptr(r), "error pipe")
	defer errR.Close()
	send(w, true)
	if r, w, err = pipe(); err != nil {
		return err
	}
	waitR := os.NewFile(uintptr(r), "wait pipe")
	sv.mine = append(sv.mine, waitR)
	send(w, true)
	parent, err := c.dispatch(fds)
	if err != nil {
		return err
	}
	sv.parent = parent
	for _, fd := range theirs {
		unix.Close(fd)
	}
	theirs = nil

	// As Start: the error pipe ends at the command's execve.
	status, err := io.ReadAll(errR)
	if err != nil {
		return fmt.Errorf("reading the fork server's status: %w", err)
	}
	sv.waitF, sv.wait = waitR, bufio.NewReader(waitR)
	pidLine, _ := sv.wait.ReadString('\n')
	if v, ok := strings.CutPrefix(strings.TrimSpace(pidLine), "pid "); ok {
		c.cmdPid, _ = strconv.Atoi(v)
	}
	var msgs []string
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "error "); ok {
			msgs = append(msgs, v)
		}
	}
	if len(msgs) > 0 || c.cmdPid <= 0 {
		c.cmdPid = 0
		if len(msgs) == 0 {
			msgs = append(msgs, "the fork server started nothing")
		}
		return fmt.Errorf("entering the container of process %d: %s", c.pid, strings.Join(msgs, "; "))
	}
	c.served = sv
	return nil
}

// dispatch sends one Start's five descriptors (stdin, stdout, stderr,
// the error pipe, the wait pipe) to c's zygote, or with the request and
// the namespaces' and cgroups' files to the server if there is no
// zygote (or it has gone). It returns the PID of the command's parent
// to be: the zygote's or the server's.
func (c *Cmd) dispatch(fds []int) (int, error) {
	if c.held != nil && c.held.zyg != nil && c.held.zyg.send(fds) {
		// The zygote has the rest: the streams and the pipes are all
		// it takes. One that has gone leaves the server's way.
		return c.held.zyg.pid, nil
	}
	var opened []*os.File
	defer func() { closeAll(opened) }()
	if c.held != nil {
		for _, f := range append(slices.Clone(c.held.ns), c.held.cgroups...) {
			fds = append(fds, int(f.Fd()))
		}
	} else {
		ns, err := c.openNamespaces()
		if err != nil {
			return 0, err
		}
		opened = append(opened, ns...)
		cgroups, err := c.openCgroups()
		if err != nil {
			return 0, err
		}
		opened = append(opened, cgroups...)
		for _, f := range append(ns, cgroups...) {
			fds = append(fds, int(f.Fd()))
		}
	}
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if c.srv.closed {
		return 0, errors.New("fork server: closed")
	}
	if err := unix.Sendmsg(c.srv.fd, c.req, unix.UnixRights(fds...), nil, 0); err != nil {
		return 0, fmt.Errorf("fork server: sending the request: %w", err)
	}
	return c.srv.Pid(), nil
}

// interfaceEqual is a == b, false where comparing would panic.
func interfaceEqual(a, b any) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a == b
}

// waitServed is Wait through the server: its "exit S" line, then the
// end of the copying of the streams (at most WaitDelay later, if set).
func (c *Cmd) waitServed() (int, error) {
	sv := c.served
	code, werr := -1, error(nil)
	for {
		line, err := sv.wait.ReadString('\n')
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "exit "); ok {
			code, _ = strconv.Atoi(v)
			break
		}
		if err != nil {
			werr = fmt.Errorf("waiting for process %d: the fork server went away", c.cmdPid)
			break
		}
	}
	copied := make(chan struct{})
	go func() { sv.copies.Wait(); close(copied) }()
	if c.WaitDelay > 0 {
		select {
		case <-copied:
		case <-time.After(c.WaitDelay):
			// A process the command left behind holds the streams:
			// stop reading them.
			for _, f := range sv.mine {
				f.Close()
			}
		}
	}
	<-copied
	for _, f := range sv.mine {
		f.Close()
	}
	return code, werr
}
