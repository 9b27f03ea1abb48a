package nsenter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/03-rootfs/seccomp"
)

// Name is argv[0] of the helper process that Start runs: the program
// itself, re-executed. The C constructor in nsenter.c acts on it before
// the Go runtime starts.
const Name = "berth-nsenter"

// detachedName is argv[0] of a helper whose waiter leaves the command
// to the caller's subreaper (Options.Detach).
const detachedName = Name + "-detached"

// enteredName is argv[0] as the Go runtime sees it in the helper's child,
// once the constructor has put it inside the container (nsenter.c sets
// it). The package's init function then runs the command (inside.go).
const enteredName = Name + ":entered"

// configEnv carries the Go part's instructions (a JSON config) in the
// helper's environment; the command gets its own environment at execve.
const configEnv = "_BERTH_NSENTER_CONFIG"

// File descriptors of the helper, shared with nsenter.c.
const (
	statusFD      = 3 // the status pipe: "pid N" and "error MSG" lines, EOF once the command runs
	firstCgroupFD = 4 // the cgroup.procs files, in the order of Options.CgroupProcs
)

// ErrNoCgo is Command's error in a program built without cgo
// (CGO_ENABLED=0): only code that runs before the Go runtime starts can
// enter a mount namespace, and that code is C.
var ErrNoCgo = errors.New("entering a container needs the C part of package nsenter, which runs before the Go runtime: this program was built with CGO_ENABLED=0")

// Namespaces are the namespace types Command can enter, by their names in
// /proc/PID/ns, in the order it enters them. The user namespace comes
// first (see nsenter.c); the PID namespace applies only to a new process,
// which the helper forks after joining it.
var Namespaces = []string{"user", "ipc", "uts", "net", "pid", "cgroup", "mnt"}

// Options describe a process to run in a running container (docker exec).
type Options struct {
	// Pid is the host's PID of a process in the container: its init.
	Pid int
	// Namespaces restricts which namespaces are entered (names as in
	// Namespaces). Nil means all of them. Either way a namespace that
	// the container shares with this process (the host's network with
	// --net host, the user namespace of a container without one) is
	// left alone: there is nothing to enter.
	Namespaces []string
	// CgroupProcs are the host paths of the cgroup.procs files of the
	// container's cgroup (one per hierarchy on cgroup v1; see
	// cgroup.Cgroup.Dirs), so that its limits hold for the command too.
	CgroupProcs []string
	// EarlyCgroupProcs are cgroup.procs files joined first thing, while
	// the process still has every capability, instead of last: those of
	// hierarchies that charge nothing but check the mover's capabilities
	// against every thread it moves. A v1 cpuset does (CAP_SYS_NICE),
	// and the helper's Go threads keep capabilities its last thread has
	// given up (see inside).
	EarlyCgroupProcs []string

	// Args is the command and its arguments. A name without a slash is
	// looked up in the PATH of Env (namespace.DefaultPath without one),
	// inside the container.
	Args []string
	// Env is the command's whole environment: the container's, with the
	// exec's -e values merged in (rootfs.MergeEnv).
	Env []string
	// Dir is the working directory inside the container; it must exist
	// and be absolute. Empty means the container's "/".
	Dir string
	// UID and GID are the user and group inside the container (docker
	// exec -u), AdditionalGids its supplementary groups.
	UID, GID       uint32
	AdditionalGids []uint32
	// Capabilities are those the command keeps (rootfs.ParseCapability
	// names); nil means rootfs.DefaultCapabilities, what the container's
	// own command got. A command run as a user other than root gets
	// none of them in its effective set, as with Docker, but they bound
	// what it can ever gain.
	Capabilities []string
	// NoNewPrivileges sets no_new_privs, as for the container itself.
	NoNewPrivileges bool
	// Seccomp is the container's syscall filter profile; the zero
	// Profile is Docker's default. It is compiled for Capabilities, as
	// for the container's own command, so an exec can do no more than
	// the container (docker exec gets the container's filter too).
	Seccomp seccomp.Profile
	// SeccompCapabilities are the capabilities Seccomp is compiled for;
	// nil means Capabilities. A privileged exec (docker exec
	// --privileged) keeps every capability but runs, as with Docker,
	// under the container's own filter: the one compiled for the
	// container's capabilities.
	SeccompCapabilities []string
	// Tty says that the caller gives the slave of a pseudo-terminal as
	// Stdin, Stdout and Stderr: the command then starts a session of its
	// own, with that terminal as its controlling terminal (docker exec
	// -t), so that ^C and job control work.
	Tty bool

	// What an OCI runtime's exec (berth-runtime exec, from a
	// process.json) asks for besides; the fork server takes none of
	// them.

	// CapSets are the five capability sets (an OCI process.capabilities):
	// when set, they replace Capabilities, and the command gets exactly
	// them (rootfs.CapSets.Apply) instead of one list for the bounding,
	// effective and permitted sets. The zero CapSets keeps none.
	CapSets *rootfs.CapSets
	// Filter is a seccomp filter compiled already (an OCI runtime's
	// linux.seccomp, which is not a Docker profile): when set, it is
	// loaded as it is and Seccomp is not used. seccomp.Filter{Unconfined:
	// true} loads none.
	Filter *seccomp.Filter
	// Rlimits are set with setrlimit before the user is switched (raising
	// a hard limit takes CAP_SYS_RESOURCE), as init sets the container's
	// (process.rlimits). Nil leaves the helper's, which are the caller's.
	Rlimits []namespace.Rlimit
	// Umask, if set, is the command's umask (process.user.umask); nil
	// leaves the caller's.
	Umask *uint32
	// OOMScoreAdj, if set, is written to the command's oom_score_adj
	// (process.oomScoreAdj); nil leaves the caller's.
	OOMScoreAdj *int
	// Exe, when set, is the file the helper is executed from instead of
	// the sealed copy of the program (namespace.Executable). It must
	// protect the program's file as well as the copy does (see
	// "CVE-2019-5736" in doc.go): final/ociruntime's read-only detached
	// mount of its binary, which costs two system calls where a copy
	// costs a process that runs once (berth-runtime exec) some
	// milliseconds per megabyte.
	Exe *os.File
	// ChownStdio gives the standard streams to UID before the switch,
	// as runc does for its exec: a pipe or terminal made by the caller
	// belongs to root, and a command of another user could not reopen
	// its own /proc/self/fd/1 (as `echo > /dev/stdout` does). /dev/null
	// is left alone, and a change the kernel refuses (an owner the
	// user namespace does not map) is passed over.
	ChownStdio bool
	// Detach leaves the command to the caller's subreaper instead of a
	// waiter: the helper's waiter exits as soon as the command runs, so
	// the command is re-parented to the nearest subreaper ancestor (an
	// OCI runtime's caller, containerd's shim, which reaps it and reads
	// its status itself). Wait and Signal are then not available, and
	// the streams must be files (or nil): nothing is left to copy them.
	Detach bool
}

// config is what the helper's Go part needs, from configEnv.
type config struct {
	Args            []string           `json:"args"`
	Env             []string           `json:"env"`
	Dir             string             `json:"dir,omitempty"`
	UID             uint32             `json:"uid"`
	GID             uint32             `json:"gid"`
	Groups          []uint32           `json:"groups,omitempty"`
	Capabilities    []string           `json:"capabilities"`
	NoNewPrivileges bool               `json:"noNewPrivileges,omitempty"`
	Seccomp         *seccomp.Filter    `json:"seccomp"`
	Tty             bool               `json:"tty,omitempty"`
	Cgroups         int                `json:"cgroups"` // cgroup.procs files at firstCgroupFD..., after EarlyCgroups
	EarlyCgroups    int                `json:"earlyCgroups,omitempty"`
	CapSets         *rootfs.CapSets    `json:"capSets,omitempty"`
	Rlimits         []namespace.Rlimit `json:"rlimits,omitempty"`
	Umask           *uint32            `json:"umask,omitempty"`
	OOMScoreAdj     *int               `json:"oomScoreAdj,omitempty"`
	ChownStdio      bool               `json:"chownStdio,omitempty"`
}

// Cmd is a command prepared to run in a container. Set the standard
// streams, then Start and Wait (or Run), as with os/exec.
type Cmd struct {
	// Stdin, Stdout and Stderr are the command's streams, as in
	// exec.Cmd: an *os.File is passed as it is (a pty slave must be);
	// anything else is copied through a pipe. Nil is /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// WaitDelay is exec.Cmd's: how long Wait waits, after the command
	// has exited, for the copying of Stdin, Stdout and Stderr to end (a
	// process the command left behind may hold them). Zero waits for
	// ever.
	WaitDelay time.Duration

	pid int      // the container's process
	cfg config   // what the command gets
	nss []nsFile // the namespaces to enter
	// cgroupProcs are the early, then the other cgroup.procs files.
	cgroupProcs []string
	srv         *Server  // nil: Start starts a helper
	served      *served  // started through srv
	req         []byte   // srv's request, encoded once
	held        *held    // the files Hold keeps
	args        []string // the helper's argv
	env         []string // the helper's environment
	cmd         *exec.Cmd
	cmdPid      int // the command's host PID, once started
	waited      bool
	detach      bool     // Options.Detach
	exe         *os.File // Options.Exe
}

// Command prepares Args to run inside the container of process
// opts.Pid: in its namespaces and cgroup, as opts.UID, with
// opts.Capabilities. It checks the options and finds the namespaces to
// enter now; Start does the rest.
func Command(opts Options) (*Cmd, error) {
	if err := validate(opts); err != nil {
		return nil, err
	}
	nss, err := namespacesToEnter(opts.Pid, opts.Namespaces)
	if err != nil {
		return nil, err
	}
	if !haveConstructor {
		return nil, ErrNoCgo
	}
	caps := opts.Capabilities
	if caps == nil {
		caps = rootfs.DefaultCapabilities
	}
	// Compiled here, in the caller, as for a container's init: the
	// helper only loads it. The same rootfs.InitSpec method, so that
	// the exec's filter is the container's for the same capabilities.
	filter := rootfs.InitSpec{Capabilities: caps}
	if opts.SeccompCapabilities != nil {
		filter.Capabilities = opts.SeccompCapabilities
	}
	if opts.Filter != nil {
		filter.Seccomp = opts.Filter
	} else if err := filter.CompileSeccomp(opts.Seccomp); err != nil {
		return nil, err
	}
	conf := config{
		Args: opts.Args, Env: opts.Env, Dir: opts.Dir,
		UID: opts.UID, GID: opts.GID, Groups: opts.AdditionalGids,
		Capabilities: caps, NoNewPrivileges: opts.NoNewPrivileges,
		Seccomp: filter.Seccomp,
		Tty:     opts.Tty, Cgroups: len(opts.CgroupProcs), EarlyCgroups: len(opts.EarlyCgroupProcs),
		CapSets: opts.CapSets, Rlimits: opts.Rlimits, Umask: opts.Umask, OOMScoreAdj: opts.OOMScoreAdj,
		ChownStdio: opts.ChownStdio,
	}
	cfg, err := json.Marshal(conf)
	if err != nil {
		return nil, fmt.Errorf("encoding the exec config: %w", err)
	}
	list := make([]string, len(nss))
	for i, ns := range nss {
		list[i] = ns.name + ":" + strconv.FormatUint(ns.ino, 10)
	}
	nsArg := strings.Join(list, ",")
	if nsArg == "" {
		nsArg = "-"
	}
	name := Name
	if opts.Detach {
		name = detachedName
	}
	args := append(append([]string{name, strconv.Itoa(opts.Pid), nsArg}, opts.EarlyCgroupProcs...), opts.CgroupProcs...)
	return &Cmd{
		exe:         opts.Exe,
		detach:      opts.Detach,
		pid:         opts.Pid,
		cfg:         conf,
		nss:         nss,
		cgroupProcs: append(slices.Clone(opts.EarlyCgroupProcs), opts.CgroupProcs...),
		args:        args,
		env:         []string{configEnv + "=" + string(cfg)},
	}, nil
}

// validate rejects options the helper could only fail on, with a message
// that names the culprit.
func validate(o Options) error {
	if o.Pid <= 0 {
		return fmt.Errorf("container process %d: not a PID", o.Pid)
	}
	if len(o.Args) == 0 || o.Args[0] == "" {
		return errors.New("no command given")
	}
	for _, s := range append(append([]string{o.Dir}, o.Args...), o.Env...) {
		// execve takes C strings: a NUL would cut the value short.
		if strings.ContainsRune(s, 0) {
			return fmt.Errorf("%q: contains a NUL byte", s)
		}
	}
	for _, e := range o.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("environment entry %q: want KEY=VALUE", e)
		}
	}
	if o.CapSets != nil {
		if err := o.CapSets.Check(); err != nil {
			return err
		}
	}
	if o.Umask != nil && *o.Umask > 0o777 {
		return fmt.Errorf("umask %#o: more than 0777", *o.Umask)
	}
	if o.Dir != "" && !strings.HasPrefix(o.Dir, "/") {
		return fmt.Errorf("working directory %q: not an absolute path", o.Dir)
	}
	for _, c := range o.Capabilities {
		if _, err := rootfs.ParseCapability(c); err != nil {
			return err
		}
	}
	for _, n := range o.Namespaces {
		if !slices.Contains(Namespaces, n) {
			return fmt.Errorf("unknown namespace type %q (known: %s)", n, strings.Join(Namespaces, ", "))
		}
	}
	for _, p := range append(slices.Clone(o.EarlyCgroupProcs), o.CgroupProcs...) {
		if !filepath.IsAbs(p) || strings.ContainsRune(p, 0) {
			return fmt.Errorf("cgroup.procs file %q: not an absolute path", p)
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
	}
	return nil
}

// nsFile is one namespace to enter: its type and its inode, the
// namespace's identity.
type nsFile struct {
	name string
	ino  uint64
}

// namespacesToEnter lists the namespaces of process pid that differ from
// this process's, among want (nil: all), in the order of Namespaces.
func namespacesToEnter(pid int, want []string) ([]nsFile, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return nil, fmt.Errorf("container process %d: %w", pid, err)
	}
	var out []nsFile
	for _, name := range Namespaces {
		if want != nil && !slices.Contains(want, name) {
			continue
		}
		theirs, err := nsInode(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
		if errors.Is(err, fs.ErrNotExist) {
			if _, ourErr := nsInode("/proc/self/ns/" + name); errors.Is(ourErr, fs.ErrNotExist) {
				continue // a namespace type this kernel lacks
			}
		}
		if err != nil {
			return nil, fmt.Errorf("container process %d: %w", pid, err)
		}
		ours, err := nsInode("/proc/self/ns/" + name)
		if err != nil {
			return nil, err
		}
		if theirs != ours {
			out = append(out, nsFile{name: name, ino: theirs})
		}
	}
	return out, nil
}

// nsInode is the inode of a namespace file: two processes are in the
// same namespace exactly when their files have the same inode.
func nsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	return st.Ino, nil
}

// Start starts the command in the container. It returns once the command
// runs there: with an error if the helper could not get into the
// container (the container has exited, a namespace could not be
// entered, the user could not be set), in which case nothing runs and
// Wait must not be called. A command that does not exist or cannot be
// executed is not an error of Start: like a shell, the process reports
// it on Stderr and ends with status 127 or 126, which Wait returns.
//
// Start blocks until the command runs, which in a paused (frozen)
// container does not happen before it is thawed: do not exec into one
// (Docker refuses to).
func (c *Cmd) Start() error {
	if c.cmd != nil || c.served != nil {
		return errors.New("nsenter: already started")
	}
	if c.srv != nil {
		return c.startServed()
	}
	if c.detach {
		for _, s := range []any{c.Stdin, c.Stdout, c.Stderr} {
			if _, ok := s.(*os.File); s != nil && !ok {
				return errors.New("nsenter: a detached command's streams must be files: nothing would be left to copy them")
			}
		}
	}
	// A sealed copy of the program (chapter 01's exe.go): the helper
	// runs in the container, where its /proc/PID/exe must not lead to
	// the host's binary.
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("status pipe: %w", err)
	}
	defer r.Close()
	extra := []*os.File{w} // statusFD
	var exe string
	if c.exe != nil {
		// The helper's own descriptor 4 (firstCgroupFD), which execve
		// opens; nsenter.c then puts the first cgroup.procs file
		// there, or leaves it close-on-exec.
		exe = fmt.Sprintf("/proc/self/fd/%d", firstCgroupFD)
		extra = append(extra, c.exe)
	} else if exe, err = namespace.Executable(); err != nil {
		w.Close()
		return err
	}
	c.cmd = &exec.Cmd{
		Path:       exe,
		Args:       c.args,
		Env:        c.env,
		Stdin:      c.Stdin,
		Stdout:     c.Stdout,
		Stderr:     c.Stderr,
		ExtraFiles: extra,
		WaitDelay:  c.WaitDelay,
		SysProcAttr: &syscall.SysProcAttr{
			// A session of its own: a terminal that this program may
			// run in sends its ^C to this program, not to commands
			// running in containers.
			Setsid: true,
		},
	}
	err = c.cmd.Start()
	w.Close() // our copy: EOF comes when the helper's are closed
	if err != nil {
		c.waited = true
		return fmt.Errorf("starting %s: %w", Name, err)
	}

	// Read until EOF: the waiter closes its end after the "pid" line,
	// the child's closes on its execve (close-on-exec) or at its exit.
	status, err := io.ReadAll(r)
	if err != nil {
		_ = c.cmd.Process.Kill()
		_, _ = c.wait()
		return fmt.Errorf("reading %s's status: %w", Name, err)
	}
	var msgs []string
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "pid "); ok {
			c.cmdPid, _ = strconv.Atoi(v)
		} else if v, ok := strings.CutPrefix(line, "error "); ok {
			msgs = append(msgs, v)
		}
	}
	if len(msgs) > 0 || c.cmdPid <= 0 {
		c.cmdPid = 0 // nothing runs: no Pid, no Wait
		code, werr := c.wait()
		if len(msgs) == 0 {
			msgs = append(msgs, fmt.Sprintf("%s ended with status %d before entering it", Name, code))
			if werr != nil {
				msgs = append(msgs, werr.Error())
			}
		}
		return fmt.Errorf("entering the container of process %d: %s", c.pid, strings.Join(msgs, "; "))
	}
	if c.detach {
		// The waiter has exited once it reported the PID: reap it.
		// The command is its new parent's now.
		if _, err := c.wait(); err != nil {
			return err
		}
	}
	return nil
}

// Pid is the host's PID of the command (not of the helper's waiter,
// which is its parent). It is 0 before Start.
func (c *Cmd) Pid() int { return c.cmdPid }

// Wait waits for the command to exit and for the copying of its streams
// to end, and returns its exit status: its exit code, or 128+N if signal
// N killed it. The error is about Wait itself (a stream that could not be
// copied), not about the status.
func (c *Cmd) Wait() (int, error) {
	if c.served != nil {
		if c.waited {
			return -1, errors.New("nsenter: Wait already called")
		}
		c.waited = true
		return c.waitServed()
	}
	if c.cmd == nil || c.cmdPid == 0 {
		return -1, errors.New("nsenter: not started")
	}
	if c.detach {
		return -1, errors.New("nsenter: a detached command's status goes to its new parent")
	}
	if c.waited {
		return -1, errors.New("nsenter: Wait already called")
	}
	return c.wait()
}

func (c *Cmd) wait() (int, error) {
	c.waited = true
	err := c.cmd.Wait()
	code := namespace.ExitCode(c.cmd.ProcessState)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return code, fmt.Errorf("waiting for %s (pid %d): %w", Name, c.cmd.Process.Pid, err)
	}
	return code, nil
}

// Run starts the command and waits for it.
func (c *Cmd) Run() (int, error) {
	if err := c.Start(); err != nil {
		return -1, err
	}
	return c.Wait()
}

// Signal sends sig to the command. The helper's waiter relays every
// signal it can catch; SIGKILL and SIGSTOP, which it cannot, go to the
// command directly. After the command has exited it returns
// os.ErrProcessDone.
func (c *Cmd) Signal(sig os.Signal) error {
	if (c.cmd == nil && c.served == nil) || c.cmdPid == 0 {
		return errors.New("nsenter: not started")
	}
	if c.detach {
		return errors.New("nsenter: a detached command is its new parent's to signal")
	}
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("signal %v: not a syscall.Signal", sig)
	}
	if c.served != nil {
		// No waiter to relay it: the server is the parent.
		return c.signalCommand(s)
	}
	if s != unix.SIGKILL && s != unix.SIGSTOP {
		// os.Process signals through a pidfd: never a stranger that
		// got the waiter's PID after it exited.
		return c.cmd.Process.Signal(s)
	}
	return c.signalCommand(s)
}

// signalCommand sends s to the command itself. The PID alone could
// belong to another process by now, if the waiter has reaped the command
// meanwhile: a pidfd pins one process, and its parent being our waiter
// (which forks once) proves it is the command.
func (c *Cmd) signalCommand(s syscall.Signal) error {
	fd, err := unix.PidfdOpen(c.cmdPid, 0)
	if errors.Is(err, unix.ESRCH) {
		return os.ErrProcessDone
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", c.cmdPid, err)
	}
	defer unix.Close(fd)
	parent := 0
	if c.served != nil {
		parent = c.served.parent
	} else {
		parent = c.cmd.Process.Pid
	}
	ppid, err := parentOf(c.cmdPid)
	if err != nil || ppid != parent {
		return os.ErrProcessDone
	}
	if err := unix.PidfdSendSignal(fd, s, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return os.ErrProcessDone
		}
		return fmt.Errorf("signal %v to process %d: %w", s, c.cmdPid, err)
	}
	return nil
}

// parentOf reads the PPid line of /proc/PID/status.
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no PPid", pid)
}
