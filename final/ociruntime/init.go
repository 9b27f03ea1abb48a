package ociruntime

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// InitSpec is everything the container's init needs, sent by create on
// chapter 01's spec pipe as JSON: chapter 01's Spec (hostname, sysctls,
// rlimits, oomScoreAdj, the command), R4's Rootfs, R2's Security, the
// hooks that run inside, and the numbers of the descriptors init
// inherited (Files of namespace.Config, from namespace.FilesFD on):
//
//	fd 3  the spec pipe (chapter 01)
//	fd 4  the sync pipe: init writes "ready" or why it failed (syncFD)
//	fd 5  the state directory, O_PATH: the exec FIFO is opened through
//	      it, after pivot_root (stateDirFD)
//	fd 6  the console socket, with process.terminal (ConsoleFD)
//	...   then --preserve-fds' descriptors, which become 3, 4, ... again
//	      just before the exec (PreserveFrom, PreserveFDs)
type InitSpec struct {
	namespace.Spec
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Pid is init's PID on the host, for the hooks' state (inside its
	// PID namespace it is 1).
	Pid        int    `json:"pid"`
	Domainname string `json:"domainname,omitempty"`

	Rootfs   *Rootfs   `json:"rootfs"`
	Security *Security `json:"security"`

	CreateContainer []specs.Hook `json:"createContainer,omitempty"`
	StartContainer  []specs.Hook `json:"startContainer,omitempty"`

	Terminal     bool       `json:"terminal,omitempty"`
	ConsoleSize  *specs.Box `json:"consoleSize,omitempty"`
	ConsoleFD    int        `json:"consoleFD,omitempty"`
	NoNewKeyring bool       `json:"noNewKeyring,omitempty"`
	PreserveFrom int        `json:"preserveFrom,omitempty"`
	PreserveFDs  int        `json:"preserveFDs,omitempty"`

	// sync is the sync pipe until init has reported ready, nil after.
	sync *os.File
}

// The fixed descriptors init inherits (see InitSpec).
const (
	syncFD     = namespace.FilesFD
	stateDirFD = namespace.FilesFD + 1
)

// readyMsg is what init writes on the sync pipe once it waits on the
// exec FIFO; anything else is the reason it failed.
const readyMsg = "ready"

// ContainerInit is the container's side: berth-runtime re-executed by
// create (namespace.IsInit). It returns init's exit status when the
// container cannot be set up or the process cannot be executed; on
// success it never returns (the process replaces it).
func ContainerInit() int {
	// Namespaces (the cgroup one Setup makes), credentials and
	// capabilities belong to threads: the whole of init runs on this
	// one, which executes the process.
	runtime.LockOSThread()
	s := InitSpec{sync: os.NewFile(syncFD, "sync")}
	err := namespace.ReadSpec(&s)
	if err == nil {
		err = s.run()
	}
	// Only failures get here. Before the exec FIFO, create is waiting
	// for the reason on the sync pipe; after it, the caller of start
	// is gone, and stderr (the container's) is the only witness.
	if s.sync != nil {
		if _, werr := s.sync.WriteString(err.Error()); werr == nil {
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "berth-runtime init: %v\n", err)
	if errors.Is(err, namespace.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return namespace.ExitNotFound
	}
	return namespace.ExitCannotInvoke
}

// run sets the container up in runc's order and executes the process;
// it returns only an error.
func (s *InitSpec) run() error {
	// 1. Chapter 01: private mounts, the cgroup namespace (init is in
	// its cgroup by now), hostname, oomScoreAdj, sysctls, lo. Not the
	// rlimits: see step 7.
	setup := s.Spec
	setup.Rlimits = nil
	if err := namespace.Setup(setup); err != nil {
		if s.OOMScoreAdj < 0 && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)) {
			return fmt.Errorf("process.oomScoreAdj %d: this host refuses a negative oom_score_adj, even to root: %w", s.OOMScoreAdj, err)
		}
		return err
	}
	if s.Domainname != "" {
		if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
			return fmt.Errorf("setdomainname %q: %w", s.Domainname, err)
		}
	}
	// A new session keyring (runc's default, --no-new-keyring keeps
	// the caller's), before anything might refuse keyctl.
	if !s.NoNewKeyring {
		if err := rootfs.JoinNewSessionKeyring(); err != nil {
			return err
		}
	}
	// 2. R4: config.json's mounts inside the new root, up to but not
	// including pivot_root.
	if err := s.Rootfs.Prepare(); err != nil {
		return err
	}
	// 3. createContainer hooks: in the container's namespaces, but
	// before pivot_root, so that their paths resolve on the host as
	// the spec says.
	if err := runHooks(hookCreateContainer, s.CreateContainer, s.state(Creating)); err != nil {
		return err
	}
	// 4. pivot_root, masked and read-only paths (chroot, for a
	// container in the runtime's mount namespace).
	if err := s.Rootfs.Pivot(); err != nil {
		return err
	}
	// 5. The terminal, from the container's own devpts (mounted by
	// now), before the process's credentials could forbid it.
	if s.Terminal {
		if err := setupConsole(s.ConsoleFD, s.ConsoleSize); err != nil {
			return err
		}
	}
	// 6. The working directory, inside the new root, while init is
	// still root: a directory only the process's user may enter is
	// still entered by a root that can.
	if err := chdir(s.Command.Dir); err != nil {
		return err
	}
	// 7. process.rlimits, as late as runc sets them, while init may
	// still raise a hard limit (CAP_SYS_RESOURCE): init's own work is a
	// Go runtime's, which maps memory and starts threads, and must not
	// run under the container's limits (runtime-tools sets an address
	// space of 1 GiB: "runtime: cannot allocate memory" at create).
	if err := namespace.SetRlimits(s.Spec.Rlimits); err != nil {
		return err
	}
	// 8. R2: credentials, capabilities, no_new_privs, seccomp, in
	// runc's order; the FIFO wait is where runc has it (beforeExec).
	var path string
	err := s.Security.Apply(func() error {
		var err error
		path, err = s.beforeExec()
		return err
	})
	if err != nil {
		return err
	}
	// 9. The process. Signals init ignored would stay ignored across
	// execve: give them back their default.
	namespace.UnignoreSignals()
	err = unix.Exec(path, s.Command.Args, s.Command.Env)
	return fmt.Errorf("exec %s: %w", path, err)
}

// beforeExec runs at the point of R2's Security.Apply where runc waits
// for start: it finds the process's executable (so that create, not
// start, reports a missing one), tells create that the container is
// ready, and blocks opening the exec FIFO until start opens its other
// end. Then the startContainer hooks run and the preserved descriptors
// go to their numbers.
func (s *InitSpec) beforeExec() (string, error) {
	path, err := namespace.LookPath(s.Command.Args[0], pathOf(s.Command.Env))
	if err != nil {
		return "", fmt.Errorf("process.args[0]: %w", err)
	}
	if _, err := s.sync.WriteString(readyMsg); err != nil {
		return "", fmt.Errorf("telling create that init is ready: %w", err)
	}
	// From here on create is gone: a failure is the container's
	// stderr's.
	s.sync.Close()
	s.sync = nil
	if err := waitExecFifo(); err != nil {
		return "", err
	}
	if err := runHooks(hookStartContainer, s.StartContainer, s.state(Created)); err != nil {
		return "", err
	}
	if err := s.placePreserved(); err != nil {
		return "", err
	}
	return path, nil
}

// waitExecFifo is the gate between create and start (doc.go): open the
// FIFO for writing, which blocks until start opens it for reading, and
// write one byte that start reads. The FIFO is reached through the
// state directory's descriptor: init's root is the container's by now.
// The FIFO stays open, close-on-exec, until the process replaces init:
// start reads on to its end, and so returns (and runs the poststart
// hooks) only once the process is executed, or init has failed.
func waitExecFifo() error {
	fd, err := unix.Openat(stateDirFD, ExecFifo, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the exec FIFO: %w", err)
	}
	unix.Close(stateDirFD)
	if _, err := unix.Write(fd, []byte{'0'}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("writing the exec FIFO: %w", err)
	}
	return nil
}

// placePreserved moves --preserve-fds' descriptors to 3, 4, ... as the
// caller had them, without close-on-exec. They travel after init's own
// descriptors, which may sit on the numbers they must take: first all
// go above every one of those, then down into place.
func (s *InitSpec) placePreserved() error {
	if s.PreserveFDs == 0 {
		return nil
	}
	floor := s.PreserveFrom + s.PreserveFDs
	high := make([]int, s.PreserveFDs)
	for i := range high {
		fd, err := unix.FcntlInt(uintptr(s.PreserveFrom+i), unix.F_DUPFD_CLOEXEC, floor)
		if err != nil {
			return fmt.Errorf("--preserve-fds: descriptor %d: %w", 3+i, err)
		}
		high[i] = fd
	}
	for i, fd := range high {
		if err := unix.Dup3(fd, 3+i, 0); err != nil {
			return fmt.Errorf("--preserve-fds: descriptor %d: %w", 3+i, err)
		}
		unix.Close(fd)
	}
	return nil
}

// state is the OCI state the hooks that run in init get.
func (s *InitSpec) state(status Status) *specs.State {
	return hookState(s.ID, status, s.Pid, s.Bundle, s.Annotations)
}

// chdir enters the process's working directory, creating it if the
// image lacks it, as runc does.
func chdir(dir string) error {
	err := unix.Chdir(dir)
	if errors.Is(err, unix.ENOENT) {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			err = unix.Chdir(dir)
		}
	}
	if err != nil {
		return fmt.Errorf("process.cwd %s: %w", dir, err)
	}
	return nil
}

// pathOf is the PATH of the process's environment: the executable is
// looked up there, in the container, not in the runtime's PATH.
func pathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return namespace.DefaultPath
}
