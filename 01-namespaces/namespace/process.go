package namespace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// InitName is argv[0] of the re-executed init. IsInit checks for it.
const InitName = "berth-init"

// pdeathsigArg, init's argument, has it ask for SIGKILL at its
// parent's death itself (see start).
const pdeathsigArg = "--pdeathsig"

// specFD is the file descriptor on which init reads its spec: the first of
// cmd.ExtraFiles, after stdin, stdout and stderr.
const specFD = 3

// FilesFD is the descriptor of init's first inherited file
// (Config.Files), right after the spec.
const FilesFD = specFD + 1

// IsInit reports whether this process is a container's init, started by
// Start. A program that uses Start must check it first thing in main (and
// a test binary in TestMain) and then run its init code instead of its
// usual work.
func IsInit() bool { return len(os.Args) > 0 && os.Args[0] == InitName }

// Stdio is what the container's standard streams are connected to. Nil
// fields mean /dev/null, as with os/exec.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// Process is a container's init, started but waiting for its spec.
type Process struct {
	cmd      *exec.Cmd
	spec     *os.File      // write end of the spec pipe; nil once released
	specSent bool          // the spec is sent, the go is not (SendSpec)
	exited   chan struct{} // closed by Wait: the forking thread may go
	traced   func()        // waits for init's explain pipe to close (explain.Trace.Pipe)
}

// Start re-executes the running program as a container init in the
// namespaces that cfg asks for. The new process waits, before doing
// anything inside the container, until Release sends it its spec. Between
// Start and Release the caller can act on Pid (put it in a cgroup, give it
// a network interface).
func Start(cfg Config, stdio Stdio) (*Process, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// An init started ahead of need has no trace pipe: with a trace,
	// fork anew (DiscardPrestarted ends the one left).
	if cfg.Trace == nil {
		if p := takePrestarted(cfg, stdio); p != nil {
			return p, nil // started ahead of need: engine tuning, tuning_prestart.go
		}
	}
	return start(cfg, stdio)
}

// start forks init; args are init's arguments after its name.
func start(cfg Config, stdio Stdio, args ...string) (*Process, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("spec pipe: %w", err)
	}
	defer r.Close() // the child has its own copy after Start

	// /proc/self/exe is this very binary, even if it was deleted or
	// replaced on disk since it started (go run, go test). But init
	// lives in the container, where its /proc/PID/exe must not lead to
	// the host's file (exe.go): it starts from the sealed copy. A
	// program that runs from the copy already (chapter 07's shim) just
	// re-executes itself; another passes the copy to init as its last
	// inherited descriptor and execve opens it there, as
	// /proc/self/fd/N: the child's own descriptor, which it may open
	// even in a new user namespace, where our /proc/PID/fd would be out
	// of its reach. ReadSpec marks it close-on-exec, so the command does
	// not inherit it.
	exe, err := cfg.Exe, error(nil)
	if exe == nil {
		exe, err = SealedSelf()
	}
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	path, extra := "/proc/self/exe", append([]*os.File{r}, cfg.Files...)
	env := append([]string{}, cfg.InitEnv...) // the command's environment travels in the spec
	// With a trace, init's own steps come back on a pipe of their own
	// (explain's doc.go): the descriptor after the Files.
	tw, traced, err := cfg.Trace.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	if tw != nil {
		defer tw.Close() // init has its own copy after Start
		env = append(env, fmt.Sprintf("%s=%d", explain.EnvFD, specFD+len(extra)))
		extra = append(extra, tw)
	}
	if exe != nil {
		path = fmt.Sprintf("/proc/self/fd/%d", specFD+len(extra)) // after the others
		extra = append(extra, exe)
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        append([]string{InitName}, args...),
		Env:         env,
		Stdin:       stdio.In,
		Stdout:      stdio.Out,
		Stderr:      stdio.Err,
		ExtraFiles:  extra,
		SysProcAttr: &syscall.SysProcAttr{Cloneflags: cfg.cloneFlags()},
	}
	switch {
	case cfg.Detached:
	case cfg.JoinPidns != "":
		// Go's fork checks, after setting the death signal, that its
		// parent is still the one it had (getppid), and kills itself
		// if not. In a joined PID namespace the parent is outside it,
		// and getppid is 0 there: the check would kill every child.
		// (A new namespace's PID 1 ignores that kill: no handler.)
		// So init asks for the signal itself, first thing (ReadSpec).
		cmd.Args = append(cmd.Args, pdeathsigArg)
	default:
		// If the program that started the container dies, so does
		// the container: nobody would be left to wait for it. (A
		// detached container gets a long-lived parent in chapter 07.)
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if cfg.UserNS {
		cmd.SysProcAttr.UidMappings = idMappings(cfg.UIDRange())
		cmd.SysProcAttr.GidMappings = idMappings(cfg.GIDRange())
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// The child is still host root, which the map does not cover: it
		// would be "nobody" inside, with no capabilities. Becoming uid 0
		// of the namespace (host uid IDBase) before the exec gives it the
		// namespace's full capability set, and nothing outside it.
		// Groups: root's own group as its one supplementary group, as a
		// login gives it (and as the host's root has it): an empty list
		// would make `id` differ with and without the namespace.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{0}}
	}
	p := &Process{cmd: cmd, spec: w, exited: make(chan struct{}), traced: traced}
	cfg.Trace.Clone(cfg.cloneFlags())
	joins := cfg.joins()
	for _, j := range joins {
		cfg.Trace.Step(explain.Namespaces, "setns", "("+j.path+", "+explain.CloneFlags(uintptr(j.kind))+") on the forking thread: the child is born in that namespace")
	}
	if err := p.startOnOwnThread(joins); err != nil {
		w.Close()
		return nil, fmt.Errorf("starting %s in new namespaces: %w", InitName, err)
	}
	if cfg.UserNS && cfg.Trace.On() { // Go's exec wrote the maps between clone and exec
		u, g := cfg.UIDRange(), cfg.GIDRange()
		cfg.Trace.Write(explain.UserNS, fmt.Sprintf("/proc/%d/uid_map", p.Pid()), fmt.Sprintf("0 %d %d", u.Base, u.Size))
		cfg.Trace.Write(explain.UserNS, fmt.Sprintf("/proc/%d/gid_map", p.Pid()), fmt.Sprintf("0 %d %d", g.Base, g.Size))
	}
	return p, nil
}

// join is a namespace that init is born in rather than given a new one
// of: the file to enter (/proc/PID/ns/...), its kind (CLONE_NEW*), and
// the file of the forking thread's own namespace of that kind, to go
// back to.
type join struct {
	path string
	kind int
	home string
}

// joins are the namespaces cfg joins. A PID namespace is entered
// for the thread's children only (setns(CLONE_NEWPID) changes
// pid_for_children; the thread itself stays in its own), which is what
// a fork needs; home is then the thread's pid_for_children.
func (c *Config) joins() []join {
	var out []join
	for _, j := range []join{
		{c.JoinNetns, unix.CLONE_NEWNET, "/proc/thread-self/ns/net"},
		{c.JoinPidns, unix.CLONE_NEWPID, "/proc/thread-self/ns/pid_for_children"},
		{c.JoinIpcns, unix.CLONE_NEWIPC, "/proc/thread-self/ns/ipc"},
		{c.JoinUtsns, unix.CLONE_NEWUTS, "/proc/thread-self/ns/uts"},
		{c.JoinCgroupns, unix.CLONE_NEWCGROUP, "/proc/thread-self/ns/cgroup"},
		// Last: the paths above are opened in the process's own mount
		// namespace, where /proc is the one they name.
		{c.JoinMntns, unix.CLONE_NEWNS, "/proc/thread-self/ns/mnt"},
	} {
		if j.path != "" {
			out = append(out, j)
		}
	}
	return out
}

// startOnOwnThread forks init from an OS thread that stays alive, locked
// and idle, until Wait. Pdeathsig fires when the *thread* that forked the
// child exits, not the process: Go may retire an ordinary thread at any
// time (for instance one that a goroutine locked to enter a network
// namespace and let die), and the container would get SIGKILL with it.
//
// With joins, the thread enters those namespaces first (network, PID,
// IPC: another container's, --network/--pid/--ipc container:ID; UTS
// and cgroup: an OCI bundle's namespace paths), and
// the child, forked without the matching CLONE_NEW* flags, is born in
// them: a new process inherits the namespaces of the thread that forks
// it. Go's exec offers no hook between fork and exec in which the child
// could call setns itself, and entering a mount or user namespace from a
// multithreaded process fails (pitfall 3), but network, PID, IPC, UTS
// and cgroup namespaces can be entered by one thread alone. A mount
// namespace can too, once the thread has a filesystem state (root,
// working directory) of its own: setns refuses a mount namespace to a
// thread that shares it with others, so the thread unshares it first
// (CLONE_FS). Such a thread is no longer like the others, and ends
// locked. Once the child has
// exited, the thread goes back to its own namespaces, or, if even that
// fails, ends locked, so that the Go runtime never runs anything else in
// a joined namespace (pitfall 4).
func (p *Process) startOnOwnThread(joins []join) error {
	started := make(chan error, 1)
	exited := p.exited
	go func() {
		runtime.LockOSThread()
		var homes []*os.File
		leave := func() bool {
			ok := true
			for i := len(homes) - 1; i >= 0; i-- {
				if unix.Setns(int(homes[i].Fd()), joins[i].kind) != nil {
					ok = false
				}
				homes[i].Close()
			}
			return ok
		}
		ownFS := false // the thread unshared its filesystem state: it ends locked
		for _, j := range joins {
			if j.kind == unix.CLONE_NEWNS {
				if err := unix.Unshare(unix.CLONE_FS); err != nil {
					leave()
					started <- fmt.Errorf("a filesystem state of its own for the thread that joins %s: %w", j.path, err)
					return
				}
				ownFS = true
			}
			home, err := enterNS(j)
			if err != nil {
				if leave() && !ownFS {
					runtime.UnlockOSThread()
				}
				started <- err
				return
			}
			homes = append(homes, home)
		}
		err := p.cmd.Start()
		started <- err
		if err == nil {
			<-exited
		}
		if !leave() || ownFS {
			return // stuck in a joined namespace, or unlike the others: the thread ends locked
		}
		runtime.UnlockOSThread()
	}()
	return <-started
}

// enterNS moves the calling thread, locked to its goroutine, into j's
// namespace, and returns the namespace it leaves (for its children's
// sake, for a PID namespace).
func enterNS(j join) (home *os.File, err error) {
	target, err := os.Open(j.path)
	if err != nil {
		return nil, fmt.Errorf("namespace to join: %w", err)
	}
	defer target.Close()
	if home, err = os.Open(j.home); err != nil {
		return nil, fmt.Errorf("this thread's namespace: %w", err)
	}
	if err := unix.Setns(int(target.Fd()), j.kind); err != nil {
		home.Close()
		return nil, fmt.Errorf("entering namespace %s: %w", j.path, err)
	}
	return home, nil
}

// EnterNetns moves the calling thread, which must be locked to its
// goroutine (runtime.LockOSThread), into the network namespace at path
// (/proc/PID/ns/net, or /proc/self/fd/N for an open one), and returns the
// thread's own namespace, for LeaveNetns. A network namespace, unlike a
// mount or user namespace, can be entered by one thread of a
// multithreaded process (pitfall 3); the others stay where they are.
func EnterNetns(path string) (home *os.File, err error) {
	target, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	defer target.Close()
	if home, err = os.Open("/proc/thread-self/ns/net"); err != nil {
		return nil, fmt.Errorf("this thread's network namespace: %w", err)
	}
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		home.Close()
		return nil, fmt.Errorf("entering network namespace %s: %w", path, err)
	}
	return home, nil
}

// LeaveNetns moves the calling thread back into home, the namespace
// EnterNetns returned, and closes it. If it fails, the thread is still in
// the other namespace: keep it locked, so that it ends with its goroutine
// and the Go runtime never runs anything else there (pitfall 4).
func LeaveNetns(home *os.File) error {
	defer home.Close()
	if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("leaving for the network namespace %s: %w", home.Name(), err)
	}
	return nil
}

// Pid is the host's PID of the container's init.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Release sends the spec to init, which then sets up the container and
// starts the command. spec is encoded as JSON; init decodes it with
// ReadSpec into a value of the same type. It is SendSpec and Go at once.
func (p *Process) Release(spec any) error {
	if err := p.SendSpec(spec); err != nil {
		return err
	}
	return p.Go()
}

// SendSpec sends the spec to init, which sets the container up and then
// waits, before the command, until Go. What the host does meanwhile
// (Container.OnRelease) runs beside init's own set-up.
func (p *Process) SendSpec(spec any) error {
	if p.spec == nil || p.specSent {
		return errors.New("spec already sent")
	}
	if err := json.NewEncoder(p.spec).Encode(spec); err != nil {
		return fmt.Errorf("sending spec to init (pid %d): %w", p.Pid(), err)
	}
	p.specSent = true
	return nil
}

// Go lets init start the command, once it has set the container up: the
// byte 'G' on the spec pipe, which is then closed.
func (p *Process) Go() error {
	if p.spec == nil || !p.specSent {
		return errors.New("go before the spec, or twice")
	}
	_, err := p.spec.Write([]byte{'G'})
	p.spec.Close()
	p.spec = nil
	if err != nil {
		return fmt.Errorf("letting init (pid %d) go: %w", p.Pid(), err)
	}
	return nil
}

// TraceDone waits until init's steps are all in the trace (with
// --explain): init closes its end of the trace pipe when it lets the
// command go (namespace.Run), so once the command runs this returns at
// once. Without a trace it returns at once.
func (p *Process) TraceDone() {
	if p.traced != nil {
		p.traced()
	}
}

// Wait waits for init to exit and returns its exit status, which is the
// command's (see ExitCode).
func (p *Process) Wait() (int, error) {
	err := p.cmd.Wait()
	if p.traced != nil {
		p.traced() // the last of init's steps are written before Wait returns
		p.traced = nil
	}
	if p.exited != nil {
		close(p.exited)
		p.exited = nil
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return -1, fmt.Errorf("waiting for init (pid %d): %w", p.Pid(), err)
	}
	return ExitCode(p.cmd.ProcessState), nil
}

// Kill stops a container whose spec, or whose go, was never sent: it
// kills init, closes the spec pipe and waits for init. Use it to undo
// Start when a later step fails. The signal comes first: init, which is
// waiting for its spec or its go, would otherwise read the pipe's end,
// and say so on the stderr (and the exec watch) that it shares with
// whatever replaces it.
func (p *Process) Kill() error {
	_ = p.cmd.Process.Kill()
	if p.spec != nil {
		p.spec.Close()
		p.spec = nil
	}
	_, err := p.Wait()
	return err
}

// ForwardSignals relays the signals that a terminal or `kill` sends to
// this program (SIGINT, SIGTERM, ...) to the container's init, which
// relays them to the command. Without it, Ctrl-C would kill this program
// and, through Pdeathsig, the container with SIGKILL: no chance to clean
// up. Call the returned function to stop forwarding.
func (p *Process) ForwardSignals() (stop func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, forwarded...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				_ = p.cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// ExitCode is the status a shell would report for a finished process: its
// exit code, or 128+N if signal N killed it.
func ExitCode(state *os.ProcessState) int {
	if state == nil {
		return -1
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return state.ExitCode()
}
