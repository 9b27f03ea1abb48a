package ociruntime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/nsenter"
)

// Exec: a new process in a running container (`berth-runtime exec`),
// which containerd's shim calls for `ctr task exec`, `docker exec` and
// the CRI's ExecSync. The caller describes the process as config.json
// describes the container's (a specs.Process: args, env, cwd, user,
// capabilities, rlimits, terminal), in a file (--process) or by runc's
// flags over the container's own process.
//
// The work is final/nsenter's, berth's docker exec: a helper re-executed
// from this binary enters the container's namespaces in a C constructor,
// before the Go runtime starts (setns refuses a threaded process the
// mount namespace), forks into its PID namespace, becomes the user, loads
// the container's seccomp filter, keeps the capabilities asked for, joins
// the cgroup last and executes the command:
//
//	shim ── berth-runtime exec ── berth-nsenter (waiter, host) ── command (in the container)
//	          │ reads the Record:      │ setns ×7, fork                │ setrlimit, umask, user,
//	          │ init's PID, cgroup,    │                               │ seccomp, caps, no_new_privs,
//	          │ config.json (seccomp)  │ --detach: exits at once,      │ cgroup.procs, execve
//	          │ --pid-file             │ the command goes to the shim  │
//	          └ waits, relays signals  └ else waits, exits with its status
//
// With --detach (always, from containerd) the shim, a subreaper, gets
// the command as its own child: the waiter leaves, the kernel re-parents
// the command, and the shim reaps it by the PID of --pid-file, as with
// runc. Without it, berth-runtime exec waits and exits with the
// command's status (128+N for signal N).
//
// A terminal (process.terminal) is a pseudo-terminal of the container's
// own devpts, opened from the host through /proc/PID/root (chapter 07's
// OpenPTYIn), so that the process finds it by name; its master goes to
// the caller over --console-socket as runc sends it, or, in the
// foreground without one, is copied to and from this process's own
// terminal.

// ExecFlags are runc exec's flags that shape the process when no
// --process document is given: they change the container's own process
// (its env, cwd, user, capabilities...).
type ExecFlags struct {
	Args           []string
	Cwd            string
	Env            []string
	Tty            *bool
	User           string // UID[:GID]
	AdditionalGids []string
	Caps           []string
	NoNewPrivs     *bool
	// ProcessLabel and AppArmor are refused when given: berth applies
	// no SELinux label or AppArmor profile.
	ProcessLabel, AppArmor string
}

// given names the process-shaping flags that were used.
func (f ExecFlags) given() []string {
	var g []string
	for _, x := range []struct {
		name string
		set  bool
	}{
		{"ARGS", len(f.Args) > 0}, {"--cwd", f.Cwd != ""}, {"--env", len(f.Env) > 0}, {"--tty", f.Tty != nil},
		{"--user", f.User != ""}, {"--additional-gids", len(f.AdditionalGids) > 0}, {"--cap", len(f.Caps) > 0},
		{"--no-new-privs", f.NoNewPrivs != nil},
	} {
		if x.set {
			g = append(g, x.name)
		}
	}
	return g
}

// ExecProcess is the process to run: processJSON (the --process
// document) when not nil, else the container's own process with the
// flags applied as runc applies them: ARGS replace args, --env adds to
// env, --cap adds to every set but the inheritable one (an ambient
// capability that is not inheritable is left out at the end, as runc
// leaves it out), --tty is off unless given.
//
// runc ignores the flags beside --process; berth refuses them, as it
// refuses every option it does not apply.
func ExecProcess(container *specs.Spec, processJSON []byte, f ExecFlags) (*specs.Process, error) {
	if f.ProcessLabel != "" {
		return nil, fmt.Errorf("--process-label %q: not supported (berth applies no SELinux label)", f.ProcessLabel)
	}
	if f.AppArmor != "" {
		return nil, fmt.Errorf("--apparmor %q: not supported (berth applies no AppArmor profile)", f.AppArmor)
	}
	if processJSON != nil {
		if g := f.given(); len(g) > 0 {
			return nil, fmt.Errorf("%s: not with --process (put it in the process document)", strings.Join(g, ", "))
		}
		// An unknown property: the rule of config.json (ParseConfig),
		// by the container's spec version, which the process document
		// (no version of its own) is written for: ignored with a
		// warning up to berth's version, refused by name beyond it.
		var p specs.Process
		d := json.NewDecoder(bytes.NewReader(processJSON))
		d.DisallowUnknownFields()
		if err := d.Decode(&p); err != nil {
			if !strings.Contains(err.Error(), "unknown field") || container == nil || newerSpec(container.Version) {
				return nil, fmt.Errorf("--process: %w", err)
			}
			p = specs.Process{}
			if err := json.Unmarshal(processJSON, &p); err != nil {
				return nil, fmt.Errorf("--process: %w", err)
			}
			Warn(fmt.Errorf("--process: %s: ignored, as the runtime spec asks of an unknown property", strings.TrimPrefix(err.Error(), "json: ")))
		}
		if len(p.Args) == 0 {
			return nil, errors.New("--process: process.args: empty")
		}
		return &p, nil
	}
	if len(f.Args) == 0 {
		return nil, errors.New("no command given (ARGS, or --process FILE)")
	}
	p := &specs.Process{Cwd: "/"}
	if container != nil && container.Process != nil {
		// A deep copy: the container's process stays as recorded.
		b, err := json.Marshal(container.Process)
		if err != nil {
			return nil, err
		}
		p = &specs.Process{}
		if err := json.Unmarshal(b, p); err != nil {
			return nil, err
		}
	}
	p.Args = slices.Clone(f.Args)
	p.Terminal = f.Tty != nil && *f.Tty
	if f.Cwd != "" {
		p.Cwd = f.Cwd
	}
	p.Env = append(p.Env, f.Env...)
	if f.NoNewPrivs != nil {
		p.NoNewPrivileges = *f.NoNewPrivs
	}
	if f.User != "" {
		u, g, hasGID := strings.Cut(f.User, ":")
		uid, err := strconv.ParseUint(u, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: want UID[:GID], numbers: %w", f.User, err)
		}
		p.User.UID = uint32(uid)
		if hasGID {
			gid, err := strconv.ParseUint(g, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: want UID[:GID], numbers: %w", f.User, err)
			}
			p.User.GID = uint32(gid)
		}
	}
	for _, g := range f.AdditionalGids {
		gid, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: %w", g, err)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	if len(f.Caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		c := p.Capabilities
		for _, name := range f.Caps {
			n, err := rootfs.ParseCapability(name)
			if err != nil {
				return nil, fmt.Errorf("--cap: %w", err)
			}
			name = rootfs.CapabilityName(n)
			c.Bounding = append(c.Bounding, name)
			c.Effective = append(c.Effective, name)
			c.Permitted = append(c.Permitted, name)
			c.Ambient = append(c.Ambient, name)
		}
	}
	return p, nil
}

// ExecOptions are exec's flags that are not about the process.
type ExecOptions struct {
	// ConsoleSocket receives the terminal's master (process.terminal).
	ConsoleSocket string
	// Detach returns once the process runs, leaving it to the caller's
	// subreaper (see the top of this file).
	Detach bool
	// PidFile gets the process's host PID.
	PidFile string
	// PreserveFDs passes descriptors 3... on: not supported (nsenter
	// closes every descriptor above the standard three at execve).
	PreserveFDs int
	// IgnorePaused lets exec into a paused container: the process then
	// starts once the container is resumed.
	IgnorePaused bool
	// Stdin, Stdout and Stderr are the process's streams when it has no
	// terminal, and the terminal's other end in the foreground.
	Stdin, Stdout, Stderr *os.File
}

// Exec runs p in container id and returns its exit status (0 when
// detached).
func Exec(root, id string, p *specs.Process, o ExecOptions) (int, error) {
	if o.PreserveFDs > 0 {
		return -1, fmt.Errorf("--preserve-fds %d: not supported by berth-runtime exec (only the standard streams reach the process)", o.PreserveFDs)
	}
	if o.ConsoleSocket != "" && !p.Terminal {
		return -1, fmt.Errorf("--console-socket %s: only with a terminal (--tty, process.terminal)", o.ConsoleSocket)
	}
	if p.Terminal && o.ConsoleSocket == "" && o.Detach {
		return -1, errors.New("--tty with --detach: needs --console-socket, to hand the terminal to someone")
	}
	rec, cg, err := liveCgroup(root, id)
	if err != nil {
		return -1, err
	}
	if !o.IgnorePaused {
		st, err := cg.FreezerState()
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			return -1, fmt.Errorf("container %s: %w", rec.ID, err)
		}
		if err == nil && st != cgroup.Thawed {
			return -1, fmt.Errorf("container %s is paused: resume it first (or --ignore-paused: the process then starts at the resume)", rec.ID)
		}
	}
	spec, err := RecordSpec(rec)
	if err != nil {
		return -1, err
	}
	withProcess := *spec
	withProcess.Process = p
	sec, err := NewSecurity(&withProcess)
	if err != nil {
		return -1, fmt.Errorf("container %s: exec: %w", rec.ID, err)
	}
	opts, err := execOptions(p, sec)
	if err != nil {
		return -1, fmt.Errorf("container %s: exec: %w", rec.ID, err)
	}
	opts.Pid = rec.Pid
	opts.EarlyCgroupProcs, opts.CgroupProcs = cg.ProcsFiles()
	opts.Detach = o.Detach
	// The helper starts from a read-only view of this binary rather
	// than a copy of it (R1's tuning_exe.go, as create's init).
	if exe, err := readonlyExe(); err == nil {
		defer exe.Close()
		opts.Exe = exe
	}
	cmd, err := nsenter.Command(opts)
	if err != nil {
		return -1, fmt.Errorf("container %s: exec: %w", rec.ID, err)
	}
	// Nil stays a nil interface (nsenter's /dev/null), not a nil *os.File.
	if o.Stdin != nil {
		cmd.Stdin = o.Stdin
	}
	if o.Stdout != nil {
		cmd.Stdout = o.Stdout
	}
	if o.Stderr != nil {
		cmd.Stderr = o.Stderr
	}

	var tty *execTerminal
	if p.Terminal {
		tty, err = openExecTerminal(rec.Pid, p.ConsoleSize)
		if err != nil {
			return -1, fmt.Errorf("container %s: exec: %w", rec.ID, err)
		}
		defer tty.close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty.slave, tty.slave, tty.slave
		if o.ConsoleSocket != "" {
			if err := sendConsole(o.ConsoleSocket, tty.master); err != nil {
				return -1, err
			}
		}
	}
	// Signals that arrive from now on are for the process (in the
	// foreground); those before Start are held in the channel.
	var sigs chan os.Signal
	if !o.Detach {
		sigs = make(chan os.Signal, 32)
		signal.Notify(sigs)
		defer func() {
			signal.Stop(sigs)
			close(sigs) // ends the relay below
		}()
	}
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("container %s: exec: %w", rec.ID, err)
	}
	if tty != nil {
		tty.slave.Close() // the process has its own copies
		tty.slave = nil
	}
	if o.PidFile != "" {
		if err := atomicfile.WriteFile(o.PidFile, []byte(strconv.Itoa(cmd.Pid())), atomicfile.Options{}); err != nil {
			// The caller learns of no process: none may be left.
			if o.Detach {
				_ = unix.Kill(cmd.Pid(), unix.SIGKILL) // the subreaper's child now, reaped there
			} else {
				_ = cmd.Signal(unix.SIGKILL)
				_, _ = cmd.Wait()
			}
			return -1, fmt.Errorf("--pid-file: %w", err)
		}
	}
	if o.Detach {
		return 0, nil
	}
	if tty != nil && o.ConsoleSocket == "" {
		tty.attach(o.Stdin, o.Stdout)
	}
	go func() {
		for s := range sigs {
			switch s {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				// ours: a child's end, the Go runtime's preemption, a
				// closed reader
			case unix.SIGWINCH:
				if tty != nil {
					tty.resizeFrom(o.Stdin)
				}
			default:
				_ = cmd.Signal(s)
			}
		}
	}()
	status, err := cmd.Wait()
	if tty != nil {
		tty.drain()
	}
	if err != nil {
		return status, fmt.Errorf("container %s: exec: %w", rec.ID, err)
	}
	return status, nil
}

// execOptions translates the process into nsenter's options: what
// nsenter applies, and a refusal by name for the rest.
func execOptions(p *specs.Process, sec *Security) (nsenter.Options, error) {
	if len(p.Args) == 0 {
		return nsenter.Options{}, errors.New("process.args: empty")
	}
	if p.ExecCPUAffinity != nil {
		return nsenter.Options{}, errors.New("process.execCPUAffinity: not supported")
	}
	if p.CommandLine != "" {
		return nsenter.Options{}, errors.New("process.commandLine: Windows only (process.args on Linux)")
	}
	// No process.capabilities: none at all, as under runc (nsenter's
	// nil would mean Docker's default set).
	caps := &rootfs.CapSets{}
	if sec.Caps != nil {
		caps = sec.Caps
	}
	rl, err := Rlimits(p.Rlimits)
	if err != nil {
		return nsenter.Options{}, err
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	// runc's umask when process.user.umask is absent.
	umask := uint32(0o022)
	if p.User.Umask != nil {
		umask = *p.User.Umask
	}
	filter := sec.Seccomp
	if filter == nil {
		filter = &seccomp.Filter{Unconfined: true} // config.json has none
	}
	return nsenter.Options{
		Args:            p.Args,
		Env:             p.Env,
		Dir:             cwd,
		UID:             sec.User.UID,
		GID:             sec.User.GID,
		AdditionalGids:  sec.User.AdditionalGids,
		CapSets:         caps,
		Capabilities:    []string{},
		NoNewPrivileges: sec.NoNewPrivileges,
		Filter:          filter,
		Rlimits:         rl,
		Umask:           &umask,
		ChownStdio:      true,
		OOMScoreAdj:     p.OOMScoreAdj,
		Tty:             p.Terminal,
	}, nil
}

// sendConsole hands the terminal's master to the caller listening on
// socket, as runc does: one message whose data is the terminal's name
// and whose ancillary data carries the descriptor (SCM_RIGHTS).
func sendConsole(socket string, master *os.File) error {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		return fmt.Errorf("--console-socket %s: %w", socket, err)
	}
	defer c.Close()
	// Fd puts the descriptor in blocking mode, which the receiver,
	// sharing the open file, expects.
	if _, _, err := c.WriteMsgUnix([]byte(master.Name()), unix.UnixRights(int(master.Fd())), nil); err != nil {
		return fmt.Errorf("--console-socket %s: sending the terminal: %w", socket, err)
	}
	return nil
}

// execTerminal is an exec's pseudo-terminal, from the container's devpts.
type execTerminal struct {
	master, slave *os.File
	restore       func()
	copied        sync.WaitGroup
}

func openExecTerminal(pid int, size *specs.Box) (*execTerminal, error) {
	master, slave, err := shim.OpenPTYIn(fmt.Sprintf("/proc/%d/root", pid))
	if err != nil {
		return nil, fmt.Errorf("process.terminal: %w", err)
	}
	if size != nil {
		if err := shim.SetWinsize(slave, uint16(size.Height), uint16(size.Width)); err != nil {
			master.Close()
			slave.Close()
			return nil, fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	return &execTerminal{master: master, slave: slave}, nil
}

// attach copies between this process's terminal (or streams) and the
// master: `berth-runtime exec -t` typed at a shell. Our terminal goes
// raw, so that every key reaches the container's line discipline.
func (t *execTerminal) attach(in, out *os.File) {
	if in != nil && term.IsTerminal(int(in.Fd())) {
		if st, err := term.MakeRaw(int(in.Fd())); err == nil {
			t.restore = func() { _ = term.Restore(int(in.Fd()), st) }
		}
		t.resizeFrom(in)
	}
	if in != nil {
		go func() { _, _ = io.Copy(t.master, in) }()
	}
	if out != nil {
		t.copied.Add(1)
		go func() {
			defer t.copied.Done()
			// EIO once the process's side is closed: the end.
			_, _ = io.Copy(out, t.master)
		}()
	}
}

// resizeFrom gives the terminal the window size of ours.
func (t *execTerminal) resizeFrom(in *os.File) {
	if in == nil {
		return
	}
	ws, err := unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ)
	if err == nil {
		_ = shim.SetWinsize(t.master, ws.Row, ws.Col)
	}
}

// drain waits for the output to be copied.
func (t *execTerminal) drain() { t.copied.Wait() }

func (t *execTerminal) close() {
	if t.restore != nil {
		t.restore()
	}
	if t.slave != nil {
		t.slave.Close()
	}
	t.master.Close()
}
