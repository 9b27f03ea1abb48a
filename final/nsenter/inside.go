package nsenter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// init takes over a helper process before the program's main runs: no
// program has to call anything for `exec` to work, and the program's own
// start-up code never runs inside a container.
func init() {
	if len(os.Args) == 0 {
		return
	}
	switch os.Args[0] {
	case enteredName:
		os.Exit(inside())
	case Name, detachedName:
		// nsenter.c would have taken this process over before Go
		// started: this binary does not have it.
		os.Exit(enterFailed(ErrNoCgo))
	}
}

// inside is the Go part of the helper's child, which nsenter.c has put
// into the container's namespaces. It becomes the command: user,
// capabilities, working directory, cgroup, execve. It returns only with
// the process's exit status, when that fails.
func inside() int {
	// Capabilities and the keep-capabilities flag belong to threads, and
	// in a program that links cgo rootfs.DropCapabilities changes only
	// the calling one: everything from here to execve runs on this one.
	runtime.LockOSThread()

	var c config
	if err := json.Unmarshal([]byte(os.Getenv(configEnv)), &c); err != nil {
		return enterFailed(fmt.Errorf("reading %s: %w", configEnv, err))
	}
	if err := joinCgroups(firstCgroupFD, c.EarlyCgroups); err != nil {
		return enterFailed(err)
	}
	if c.Tty {
		if err := takeTerminal(); err != nil {
			return enterFailed(err)
		}
	}
	// Limits and the OOM score while the process is still root with
	// every capability: raising a hard limit or lowering the score
	// takes CAP_SYS_RESOURCE. Both survive execve.
	if err := namespace.SetRlimits(c.Rlimits); err != nil {
		return enterFailed(err)
	}
	if c.OOMScoreAdj != nil {
		// /proc/self is this process in the container's /proc too.
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*c.OOMScoreAdj)), 0); err != nil {
			return enterFailed(fmt.Errorf("oom_score_adj %d: %w", *c.OOMScoreAdj, err))
		}
	}
	if c.Umask != nil {
		unix.Umask(int(*c.Umask))
	}
	if c.ChownStdio {
		if err := rootfs.ChownStdio(int(c.UID)); err != nil {
			return enterFailed(err)
		}
	}
	if err := becomeUser(c); err != nil {
		return enterFailed(err)
	}
	// Not the daemon's session keyring: a new one, as the container's
	// init has (rootfs.JoinNewSessionKeyring).
	if err := rootfs.JoinNewSessionKeyring(); err != nil {
		return enterFailed(err)
	}
	// The container's filter, at the same point as in its init: the last
	// moment that still has CAP_SYS_ADMIN, which installing a filter
	// without no_new_privs needs (see rootfs.InitSpec.Enter).
	if err := c.Seccomp.Load(); err != nil {
		return enterFailed(err)
	}
	if c.CapSets != nil {
		// The five sets: the bounding set while CAP_SETPCAP is still
		// effective, then the other four (becomeUser kept the
		// permitted set across the uid switch).
		if err := c.CapSets.ApplyBounding(); err != nil {
			return enterFailed(err)
		}
		if err := c.CapSets.Apply(); err != nil {
			return enterFailed(err)
		}
	} else if err := rootfs.DropCapabilities(c.Capabilities); err != nil {
		return enterFailed(err)
	}
	if c.NoNewPrivileges {
		if err := rootfs.NoNewPrivileges(); err != nil {
			return enterFailed(err)
		}
	}

	// From here on a failure is the command's, as a shell reports it: a
	// message on its stderr, and status 126 or 127.
	if c.Dir != "" {
		if err := os.Chdir(c.Dir); err != nil {
			return commandFailed(fmt.Errorf("working directory: %w", err), namespace.ExitCannotInvoke)
		}
	}
	path, err := namespace.LookPath(c.Args[0], pathOf(c.Env))
	if err != nil {
		return commandFailed(err, exitStatusFor(err))
	}
	if err := joinCgroups(firstCgroupFD+c.EarlyCgroups, c.Cgroups); err != nil {
		return enterFailed(err)
	}
	err = unix.Exec(path, c.Args, c.Env)
	return commandFailed(fmt.Errorf("exec %s: %w", path, err), exitStatusFor(err))
}

// takeTerminal makes the command the leader of a new session whose
// controlling terminal is its stdin, the pty slave the caller passed. The
// session is the container's own: the helper's waiter, outside, is in
// another one and holds no descriptor of the terminal.
func takeTerminal() error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("making stdin the controlling terminal (TIOCSCTTY): %w", err)
	}
	return nil
}

// becomeUser switches to the command's user, group and supplementary
// groups, keeping the capabilities for rootfs.DropCapabilities to
// trim.
//
// The order matters. Switching to a uid other than root empties the
// permitted and effective capability sets, after which nothing could be
// dropped from the bounding set (that takes CAP_SETPCAP) and the
// command would run with the full bounding set. Dropping first instead
// would lose CAP_SETUID before setuid whenever the kept set lacks it. So:
// keep-caps on, switch, keep-caps off, make the permitted set effective
// again; DropCapabilities then leaves the command exactly its share, and
// a non-root command gets none at execve (the ambient and inheritable
// sets are empty), as with Docker.
//
// In a user namespace this also makes the process the namespace's uid
// (host uid 100000 for uid 0): until now it is the host's root, which
// the namespace does not map.
func becomeUser(c config) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", err)
	}
	groups := make([]int, len(c.Groups))
	for i, g := range c.Groups {
		groups[i] = int(g)
	}
	// syscall's set*id calls change every thread of the process (Go's
	// runtime or glibc's, with cgo), unlike a raw system call.
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups %v: %w", c.Groups, err)
	}
	if err := syscall.Setresgid(int(c.GID), int(c.GID), int(c.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", c.GID, err)
	}
	if err := syscall.Setresuid(int(c.UID), int(c.UID), int(c.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", c.UID, err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Effective, data[1].Effective = data[0].Permitted, data[1].Permitted
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// joinCgroups moves the process into the container's cgroup, writing "0"
// (the writer itself; its PID in the container would mean nothing to the
// host's cgroupfs) to the cgroup.procs files nsenter.c opened on the
// host.
//
// It is the last step before execve, not the first, on purpose: the Go
// runtime's threads would count against the container's pids limit, and
// its memory against the container's memory limit (a cgroup v1 or v2
// memory charge stays where it was made). Moved now, the process brings
// all its threads along (a move may exceed pids.max; only forks are
// refused), and execve ends them at once; everything the command
// allocates is charged to the container.
//
// The files from first on, n of them, are joined. The early ones
// (Options.EarlyCgroupProcs) are joined first thing instead, before the
// capabilities go: this thread gives them up alone, and a v1 cpuset
// refuses a mover without CAP_SYS_NICE whose other threads still have
// more than it.
func joinCgroups(first, n int) error {
	for i := 0; i < n; i++ {
		fd := first + i
		if _, err := unix.Write(fd, []byte("0")); err != nil {
			return fmt.Errorf("joining the container's cgroup (%s): %w", fdPath(fd), err)
		}
		unix.Close(fd)
	}
	return nil
}

// fdPath names an open file for messages.
func fdPath(fd int) string {
	if p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil {
		return p
	}
	return fmt.Sprintf("fd %d", fd)
}

// enterFailed reports an error of getting into the container on the
// status pipe, for Start to return, and gives the process's exit status.
func enterFailed(err error) int {
	msg := "error " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n"
	if _, werr := unix.Write(statusFD, []byte(msg)); werr != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Name, err)
	}
	return 1
}

// commandFailed reports a command that cannot run on its stderr, as a
// shell does, and gives the status to exit with.
func commandFailed(err error, status int) int {
	fmt.Fprintf(os.Stderr, "%s: %v\n", Name, err)
	return status
}

// exitStatusFor is a shell's status for a command that cannot start: 127
// if it does not exist, 126 otherwise.
func exitStatusFor(err error) int {
	if errors.Is(err, namespace.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return namespace.ExitNotFound
	}
	return namespace.ExitCannotInvoke
}

// pathOf is the PATH of env, or Docker's default.
func pathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return namespace.DefaultPath
}
