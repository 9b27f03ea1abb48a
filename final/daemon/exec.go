package daemon

import (
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/final/detachkeys"

	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/nsenter"
)

// docker exec (S37): a new process in a running container, in every one
// of its namespaces (the mount namespace too: it sees the container's
// files) and its cgroup, with the container's environment and
// capabilities. final/nsenter does the entering; the daemon decides what
// to run and as whom, and carries the streams: pipes, or a terminal that
// the daemon allocates (-t), whose master it copies to and from the
// client.
//
// An exec exists in the daemon's memory only, from ExecCreate until its
// container is removed, as in Docker: after a restart of the daemon
// the execs of before are unknown (their processes run on, in their
// containers, but nobody holds their streams).

// execProc is one exec.
type execProc struct {
	id  string
	e   *entry
	cfg container.ExecCreateRequest

	mu       sync.Mutex
	started  bool
	running  bool
	exitCode *int
	pid      int
	console  *os.File // the terminal's master, with Tty
	pid0     int      // the container's init, when the exec starts
}

// ExecCreate prepares a command to run in a running container.
func (d *Daemon) ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (string, error) {
	if len(req.Cmd) == 0 {
		return "", invalid("No exec command specified")
	}
	e, err := d.lookup(name)
	if err != nil {
		return "", err
	}
	if !e.c.Running() {
		return "", notRunning(e)
	}
	if err := execPaused(e); err != nil {
		return "", err
	}
	if req.DetachKeys != "" {
		if _, err := parseDetachKeys(req.DetachKeys); err != nil {
			return "", err
		}
	}
	// A legacy link's target must run, as for a start (links.go).
	if err := d.checkLinkTargets(e); err != nil {
		return "", err
	}
	x := &execProc{id: namespace.NewID(), e: e, cfg: req}
	d.live.mu.Lock()
	d.live.execs[x.id] = x
	d.live.mu.Unlock()
	d.emitExec(e, moby.ActionExecCreate, x.id, req.Cmd, nil)
	return x.id, nil
}

func (d *Daemon) execByID(id string) (*execProc, error) {
	d.live.mu.Lock()
	defer d.live.mu.Unlock()
	x := d.live.execs[id]
	if x == nil {
		return nil, errdefs.ErrNotFound.WithMessage("No such exec instance: " + id)
	}
	return x, nil
}

// ExecStart runs the exec's command. Detached, it returns once the
// command runs; attached, once it has exited and its output is sent. The
// exit code is recorded before it returns: the client asks for it next.
func (d *Daemon) ExecStart(ctx context.Context, execID string, opts api.ExecStartOptions) error {
	x, err := d.execByID(execID)
	if err != nil {
		return err
	}
	x.mu.Lock()
	if x.started {
		x.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Error: Exec command %s has already run", execID))
	}
	x.started = true
	x.mu.Unlock()

	e := x.e
	st, err := e.c.State()
	if err != nil {
		return err
	}
	if st.Status != shim.Running {
		return notRunning(e)
	}
	if err := execPaused(e); err != nil {
		return err
	}
	x.pid0 = st.Pid
	nopts, err := d.execOptions(x, st)
	if err != nil {
		return err
	}
	cmd, err := nsenter.Command(nopts)
	if err != nil {
		return giveKind(errdefs.ErrInvalidArgument, err)
	}
	s, err := newExecStreams(x, cmd, opts)
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		s.closeAll()
		if !e.c.Running() {
			return notRunning(e)
		}
		return fmt.Errorf("exec in container %s: %w", e.id, err)
	}
	s.started()
	x.mu.Lock()
	x.running, x.pid = true, cmd.Pid()
	x.mu.Unlock()
	d.emitExec(e, moby.ActionExecStart, x.id, x.cfg.Cmd, nil)
	finish := func() error {
		code, err := cmd.Wait()
		detached := s.finish()
		x.mu.Lock()
		x.running, x.exitCode = false, &code
		if x.console != nil {
			x.console.Close()
			x.console = nil
		}
		x.mu.Unlock()
		d.emitExec(e, moby.ActionExecDie, x.id, nil, exitCode(code))
		if detached {
			d.emitExec(e, moby.ActionExecDetach, x.id, nil, nil)
			return api.ErrDetached
		}
		return err
	}
	if opts.Detach {
		go func() { _ = finish() }()
		return nil
	}
	// A client that goes away leaves the process running, as with
	// Docker; its output has nowhere to go, and finish waits for it.
	return finish()
}

// execOptions is what nsenter needs: the container's init and cgroup,
// and the command as the container's own would run: its environment
// with the exec's on top, its working directory and user unless the exec
// names others, its capabilities and no_new_privs.
func (d *Daemon) execOptions(x *execProc, st shim.State) (nsenter.Options, error) {
	e, req := x.e, x.cfg
	o := nsenter.Options{Pid: st.Pid, Args: req.Cmd, Tty: req.Tty}
	if cg, err := cgroupOf(e); err == nil {
		o.EarlyCgroupProcs, o.CgroupProcs = cg.ProcsFiles()
	}
	rec := e.rec
	if rec == nil {
		rec = &record{}
	}
	// A legacy link's variables, from its target as it is now, as
	// dockerd computes them for each exec (links.go).
	_, linkEnv, err := linkedTargets(d.opts.DataRoot, e.c.Name(), e.legacyLinks())
	if err != nil {
		return o, invalid("%v", err)
	}
	env := [][]string{namespace.DefaultEnv(rec.Config.Hostname), linkEnv, rec.Config.Env}
	if req.Tty {
		env = append(env, []string{"TERM=xterm"})
	}
	merged, err := rootfs.MergeEnv(append(env, withValues(req.Env))...)
	if err != nil {
		return o, invalid("%v", err)
	}
	o.Env = merged
	o.Dir = req.WorkingDir
	if o.Dir == "" {
		o.Dir = rec.Config.WorkingDir
	}
	user := req.User
	if user == "" {
		user = rec.Config.User
	}
	if o.UID, o.GID, err = image.LookupUser([]string{fmt.Sprintf("/proc/%d/root", st.Pid)}, user); err != nil {
		return o, invalid("%v", err)
	}
	if o.AdditionalGids, err = image.Groups([]string{fmt.Sprintf("/proc/%d/root", st.Pid)}, user, o.GID, rec.HostConfig.GroupAdd); err != nil {
		return o, invalid("%v", err)
	}
	if o.Capabilities, err = capabilities(rec.HostConfig.CapAdd, rec.HostConfig.CapDrop); err != nil {
		return o, err
	}
	if rec.HostConfig.Privileged {
		o.Capabilities = rootfs.AllCapabilities() // as the container's command
	}
	if req.Privileged {
		// docker exec --privileged: every capability, but the
		// container's own seccomp filter (compiled for its own
		// capabilities) and device cgroup, as with Docker.
		o.SeccompCapabilities = o.Capabilities
		if o.SeccompCapabilities == nil {
			o.SeccompCapabilities = rootfs.DefaultCapabilities
		}
		o.Capabilities = rootfs.AllCapabilities()
	}
	if o.NoNewPrivileges, err = securityOpts(rec.HostConfig.SecurityOpt); err != nil {
		return o, err
	}
	// The container's own profile, as its start resolved it (the
	// daemon's default may have changed since).
	var rs runSpec
	if err := e.c.DecodeSpec(&rs); err != nil {
		return o, err
	}
	o.Seccomp = rs.Run.FS.Seccomp
	if rec.HostConfig.Privileged {
		o.Seccomp = seccomp.Profile{Unconfined: true} // as its command runs
	}
	return o, nil
}

// execStreams connects an exec's process to its client.
type execStreams struct {
	x        *execProc
	opts     api.ExecStartOptions
	child    []*os.File // the process's ends, closed here once it runs
	stdinW   *os.File   // the client's input goes here; nil without stdin
	copies   sync.WaitGroup
	detached chan struct{} // closed when the client typed the detach keys
	once     sync.Once
	mine     []*os.File // the daemon's ends, closed at the end
}

// newExecStreams sets cmd's streams: the slave of a new terminal with
// Tty, pipes otherwise; nothing (/dev/null) for a detached exec.
func newExecStreams(x *execProc, cmd *nsenter.Cmd, opts api.ExecStartOptions) (*execStreams, error) {
	s := &execStreams{x: x, opts: opts, detached: make(chan struct{})}
	if opts.Detach {
		return s, nil
	}
	req := x.cfg
	if req.Tty {
		// A terminal of the container's own devpts: the process finds
		// it by name there (tty, ttyname), as with Docker.
		master, slave, err := shim.OpenPTYIn(fmt.Sprintf("/proc/%d/root", x.pid0))
		if err != nil {
			return nil, err
		}
		if cs := opts.ConsoleSize; cs != nil && cs[0] > 0 && cs[1] > 0 {
			_ = shim.SetWinsize(master, uint16(min(cs[0], 0xffff)), uint16(min(cs[1], 0xffff)))
		} else if cs := req.ConsoleSize; cs != nil && cs[0] > 0 && cs[1] > 0 {
			_ = shim.SetWinsize(master, uint16(min(cs[0], 0xffff)), uint16(min(cs[1], 0xffff)))
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		s.child = []*os.File{slave}
		s.mine = []*os.File{master}
		x.mu.Lock()
		x.console = master
		x.mu.Unlock()
		return s, nil
	}
	if req.AttachStdin && opts.Stdin != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("exec stdin: %w", err)
		}
		cmd.Stdin = r
		s.child = append(s.child, r)
		s.stdinW = w
	}
	for _, out := range []struct {
		want bool
		to   io.Writer
		set  func(*os.File)
	}{
		{req.AttachStdout, opts.Stdout, func(f *os.File) { cmd.Stdout = f }},
		{req.AttachStderr, opts.Stderr, func(f *os.File) { cmd.Stderr = f }},
	} {
		if !out.want || out.to == nil {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			s.closeAll()
			return nil, fmt.Errorf("exec output: %w", err)
		}
		out.set(w)
		s.child = append(s.child, w)
		s.mine = append(s.mine, r)
		to := out.to
		s.copies.Add(1)
		go func() {
			defer s.copies.Done()
			_, _ = io.Copy(to, r)
		}()
	}
	return s, nil
}

// started runs once the process has its ends: they are closed here, and
// the copying of input (and of a terminal's output) begins.
func (s *execStreams) started() {
	for _, f := range s.child {
		f.Close()
	}
	s.child = nil
	if s.opts.Detach {
		return
	}
	var keys []byte
	if s.x.cfg.Tty {
		keys, _ = parseDetachKeys(s.x.cfg.DetachKeys)
	}
	var in io.Writer
	if s.x.cfg.Tty {
		master := s.mine[0]
		if s.opts.Stdout != nil {
			s.copies.Add(1)
			go func() {
				defer s.copies.Done()
				_, _ = io.Copy(s.opts.Stdout, master) // ends with EIO once the process and its children are gone
			}()
		}
		in = master
	} else if s.stdinW != nil {
		in = s.stdinW
	}
	if in != nil && s.x.cfg.AttachStdin && s.opts.Stdin != nil {
		go func() {
			_, err := io.Copy(in, detachkeys.NewReader(s.opts.Stdin, keys, api.ErrDetached))
			if errors.Is(err, api.ErrDetached) {
				s.once.Do(func() { close(s.detached) })
				return
			}
			if s.stdinW != nil {
				s.stdinW.Close() // the process's input ends with the client's
			}
		}()
	}
}

// finish runs when the process has exited: the output left in the pipes
// (or the terminal) is copied, but not waited for beyond that: a process
// the command left in the background (sh -c 'daemon &') may hold them
// open for ever, and docker exec returns when its command has exited. It
// reports whether the client detached.
func (s *execStreams) finish() bool {
	for _, f := range s.mine {
		_ = f.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	}
	done := make(chan struct{})
	go func() { s.copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-s.detached:
	case <-time.After(5 * time.Second): // a client that reads very slowly
	}
	s.closeAll()
	select {
	case <-s.detached:
		return true
	default:
		return false
	}
}

func (s *execStreams) closeAll() {
	for _, f := range append(s.child, s.mine...) {
		f.Close()
	}
	if s.stdinW != nil {
		s.stdinW.Close()
	}
}

// ExecResize sets the size of an exec's terminal.
func (d *Daemon) ExecResize(ctx context.Context, execID string, height, width uint) error {
	x, err := d.execByID(execID)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.cfg.Tty {
		return invalid("exec %s has no terminal", execID)
	}
	if x.console == nil {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("exec %s is not running", execID))
	}
	return shim.SetWinsize(x.console, uint16(min(height, 0xffff)), uint16(min(width, 0xffff)))
}

// ExecInspect describes an exec: running or not, its exit code once it
// has one.
func (d *Daemon) ExecInspect(ctx context.Context, execID string) (container.ExecInspectResponse, error) {
	x, err := d.execByID(execID)
	if err != nil {
		return container.ExecInspectResponse{}, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	resp := container.ExecInspectResponse{
		ID:          x.id,
		Running:     x.running,
		ExitCode:    x.exitCode,
		OpenStdin:   x.cfg.AttachStdin,
		OpenStdout:  x.cfg.AttachStdout,
		OpenStderr:  x.cfg.AttachStderr,
		ContainerID: x.e.id,
		Pid:         x.pid,
		ProcessConfig: &container.ExecProcessConfig{
			Tty:        x.cfg.Tty,
			Entrypoint: x.cfg.Cmd[0],
			Arguments:  x.cfg.Cmd[1:],
			User:       x.cfg.User,
		},
	}
	if resp.ProcessConfig.Arguments == nil {
		resp.ProcessConfig.Arguments = []string{}
	}
	return resp, nil
}
