package namespace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Command is the user's command as init runs it.
type Command struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Dir  string   `json:"dir,omitempty"`
	// UID and GID run the command as another user (docker run -u). Zero
	// is root.
	UID uint32 `json:"uid,omitempty"`
	GID uint32 `json:"gid,omitempty"`
	// Groups are the supplementary groups (the user's groups in the
	// image's /etc/group, and --group-add). Set for every user, root
	// included: otherwise the command would keep init's, the host's.
	Groups []uint32 `json:"groups,omitempty"`
}

// DefaultPath is the PATH a container gets when its environment sets none:
// Docker's default.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Exit statuses with a fixed meaning, as a shell and `docker run` use them.
const (
	ExitCannotInvoke = 126 // found, but not executable
	ExitNotFound     = 127 // no such command
)

// forwarded are the signals that init passes on to the command. SIGCHLD is
// init's own business (reaping); SIGKILL and SIGSTOP cannot be caught.
var forwarded = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT, unix.SIGALRM,
}

// Exec replaces init with the command, which becomes PID 1 itself, as in
// `docker run` without --init. It returns only if the command cannot be
// started, with the status a shell would give (127 or 126).
func Exec(c Command) int {
	if len(c.Args) == 0 {
		fmt.Fprintln(os.Stderr, "berth-init: no command given")
		return ExitCannotInvoke
	}
	path, err := LookPath(c.Args[0], pathOf(c.Env))
	if err == nil {
		err = becomeUser(c)
	}
	if err == nil {
		err = unix.Exec(path, c.Args, c.Env)
		err = fmt.Errorf("exec %s: %w", path, err)
	}
	fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
	return exitStatusFor(err)
}

// becomeUser switches to the command's working directory and user, for
// Exec (RunInit lets os.StartProcess do it in the child).
func becomeUser(c Command) error {
	if c.Dir != "" {
		if err := os.Chdir(c.Dir); err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
	}
	// Supplementary groups first, then the group, then the user: after
	// setuid there is no privilege left to change the others. (Setup
	// has set the groups already; this changes nothing then.)
	if err := setGroups(c.Groups); err != nil {
		return err
	}
	if c.UID == 0 && c.GID == 0 {
		return nil
	}
	if err := unix.Setgid(int(c.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", c.GID, err)
	}
	if err := unix.Setuid(int(c.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", c.UID, err)
	}
	return nil
}

// setGroups makes groups the supplementary groups of the calling
// process, unless they are already: setgroups takes CAP_SETGID even to
// set the same list again.
func setGroups(groups []uint32) error {
	have, err := unix.Getgroups()
	if err == nil && sameIDs(have, groups) {
		return nil
	}
	ids := make([]int, len(groups))
	for i, g := range groups {
		ids[i] = int(g)
	}
	if err := unix.Setgroups(ids); err != nil {
		return fmt.Errorf("setgroups %v: %w", groups, err)
	}
	return nil
}

// sameIDs reports whether have and want hold the same IDs, in any order
// (the kernel keeps the groups sorted).
func sameIDs(have []int, want []uint32) bool {
	set := map[int]bool{}
	for _, g := range want {
		set[int(g)] = true
	}
	if len(set) != len(have) {
		return false
	}
	for _, g := range have {
		if !set[g] {
			return false
		}
	}
	return true
}

// RunInit is the body of PID 1 when the container asks for an init
// (--init): it starts the command, forwards signals to
// it, reaps every child that exits (orphans included), and returns the
// command's exit status once the command itself has exited. The caller
// exits with that status; the kernel then kills whatever else is left in
// the PID namespace.
//
// Errors are reported on stderr, the way a shell reports them, with status
// 127 for a command that does not exist and 126 for one that cannot be
// executed.
func RunInit(c Command) int {
	if len(c.Args) == 0 {
		fmt.Fprintln(os.Stderr, "berth-init: no command given")
		return ExitCannotInvoke
	}
	path, err := LookPath(c.Args[0], pathOf(c.Env))
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
		return exitStatusFor(err)
	}

	// Stay PID 1 but become undumpable: other processes in the container,
	// even its root (which lacks CAP_SYS_PTRACE), can then not open
	// /proc/1/exe, the host's berth binary, and overwrite it once we exit
	// (the runc CVE-2019-5736 attack). The command gets a fresh dumpable
	// flag when it executes its own binary.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)

	// Ask for the signals before the command exists, so none is missed.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, append([]os.Signal{unix.SIGCHLD}, forwarded...)...)

	attr := &os.ProcAttr{
		Dir:   c.Dir,
		Env:   c.Env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{},
	}
	// Setup gave init the command's groups already, while it could:
	// setgroups needs CAP_SETGID, which --cap-drop ALL takes away.
	if err := setGroups(c.Groups); err != nil {
		fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
		return ExitCannotInvoke
	}
	if c.UID != 0 || c.GID != 0 {
		attr.Sys.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID, NoSetGroups: true}
	}
	proc, err := os.StartProcess(path, c.Args, attr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
		return exitStatusFor(err)
	}

	for sig := range sigs {
		if sig != unix.SIGCHLD {
			_ = proc.Signal(sig)
			continue
		}
		// One SIGCHLD may stand for many exits: reap until none is left.
		// We never call proc.Wait, so os/exec's bookkeeping and ours
		// cannot race for the same child.
		if status, done := reap(proc.Pid); done {
			return status
		}
	}
	return 0 // unreachable: sigs is never closed
}

// reap collects every exited child without blocking. It reports the
// command's status once the command (pid) is among them.
func reap(pid int) (status int, done bool) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || got <= 0 {
			return 0, false
		}
		if got == pid {
			if ws.Signaled() {
				return 128 + int(ws.Signal()), true
			}
			return ws.ExitStatus(), true
		}
	}
}

// pathOf returns the PATH in env, or DefaultPath.
func pathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return DefaultPath
}

// ErrNotFound and ErrNotExecutable classify LookPath's failures.
var (
	ErrNotFound      = errors.New("executable file not found in $PATH")
	ErrNotExecutable = errors.New("permission denied")
)

// LookPath finds the command name in the container's PATH (not the
// program's own: the container has its own filesystem and environment). A
// name containing a slash is used as it is.
func LookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, checkExecutable(name)
	}
	var denied error // a match that cannot run, as a shell reports it
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, name)
		err := checkExecutable(candidate)
		if err == nil {
			return candidate, nil
		}
		if denied == nil && errors.Is(err, ErrNotExecutable) {
			denied = err
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", fmt.Errorf("%s: %w", name, ErrNotFound)
}

// checkExecutable returns nil for a file that exec(2) can run, an error
// wrapping fs.ErrNotExist for a missing one and ErrNotExecutable otherwise.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err // *fs.PathError names the path
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: is a directory: %w", path, ErrNotExecutable)
	}
	if unix.Access(path, unix.X_OK) != nil {
		return fmt.Errorf("%s: %w", path, ErrNotExecutable)
	}
	return nil
}

// exitStatusFor maps a failure to start the command to a shell's status.
func exitStatusFor(err error) int {
	if errors.Is(err, ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return ExitNotFound
	}
	return ExitCannotInvoke
}

// DefaultEnv is the environment Docker gives a container before any -e:
// a PATH, the HOSTNAME and root's HOME.
func DefaultEnv(hostname string) []string {
	return []string{"PATH=" + DefaultPath, "HOSTNAME=" + hostname, "HOME=/root"}
}
