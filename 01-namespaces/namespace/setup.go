package namespace

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// Spec is what init needs to know from the parent. Later chapters embed it
// in bigger specs (struct{ namespace.Spec; Rootfs rootfs.Spec }), and
// JSON flattens the embedded fields.
type Spec struct {
	Hostname string  `json:"hostname"`
	Command  Command `json:"command"`
	// Init keeps berth-init as PID 1 to forward signals and reap zombies
	// (RunInit) instead of replacing it with the command (Exec).
	Init bool `json:"init,omitempty"`
	// Sysctls are kernel parameters of the container's own namespaces
	// (--sysctl; see sysctl.go), written by Setup.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// Rlimits and OOMScoreAdj are per-process settings (chapter 02's
	// --ulimit and --oom-score-adj). Setup sets them on init itself, and
	// the command inherits them across exec.
	Rlimits     []Rlimit `json:"rlimits,omitempty"`
	OOMScoreAdj int      `json:"oomScoreAdj,omitempty"`
	// SetOOMScoreAdj writes OOMScoreAdj even when it is 0. Otherwise 0
	// leaves init with its starter's score, which for berth's own
	// programs is 0 anyway; an OCI config that names 0 means 0 whatever
	// the caller's is (containerd's shim runs at 1, dockerd at -500).
	SetOOMScoreAdj bool `json:"setOOMScoreAdj,omitempty"`
	// HostCgroupns keeps the host's cgroup namespace; otherwise Setup
	// makes a new one (see Config.cloneFlags for why there).
	HostCgroupns bool `json:"hostCgroupns,omitempty"`
	// Propagation, when set, is what Setup makes of the new mount
	// namespace's mounts instead of private (MakeMountsPrivate): an
	// OCI runtime's MS_SLAVE|MS_REC, under which a mount the host
	// makes later still reaches a container's volume that asked for
	// it (rslave, rshared), as under runc.
	Propagation uintptr `json:"propagation,omitempty"`
	// HostMounts: init shares its starter's mount namespace
	// (Config.HostMounts), so Setup changes no mount's propagation:
	// they are the host's, and "/" made private or slave would stay so
	// after the container.
	HostMounts bool `json:"hostMounts,omitempty"`
}

// Rlimit is one resource limit as setrlimit(2) takes it: the resource
// (RLIMIT_NOFILE...), the soft limit the kernel enforces and the hard
// limit up to which the process may raise it. Chapter 02 parses them.
type Rlimit struct {
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// Run ends init's work: with s.Init it supervises the command as PID 1,
// otherwise it becomes the command. It returns only with an exit status.
// The command starts only once the host says go (see Process.Go).
func Run(s Spec) int {
	if err := awaitGo(); err != nil {
		return InitFailed(err)
	}
	explain.CloseInside() // init's steps are done: the host's trace may end here
	UnignoreSignals()
	if s.Init {
		return RunInit(s.Command)
	}
	return Exec(s.Command)
}

// gate is the spec pipe, kept open after the spec until the host says go:
// what the decoder read past the spec, and the pipe.
var gate struct {
	f    *os.File
	rest io.Reader
}

// ReadSpec is init's first step: it blocks until the parent sends the
// spec (Release, or SendSpec), then decodes it into v.
func ReadSpec(v any) error {
	if slices.Contains(os.Args[1:], pdeathsigArg) {
		// Between the fork and here the parent may have died
		// already; nothing inside a joined PID namespace can tell
		// (getppid is 0). The thread that forked stays until Wait,
		// so that window is a crash's, not a normal exit's.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			return fmt.Errorf("asking for SIGKILL at the parent's death: %w", err)
		}
	}
	explain.Inherit() // the host's trace pipe, if it asked for one
	f := os.NewFile(specFD, "spec")
	if f == nil {
		return fmt.Errorf("spec: file descriptor %d is not open (was this process started by namespace.Start?)", specFD)
	}
	if slices.Contains(os.Args[1:], warmArg) {
		warmDecoder(v) // engine tuning (tuning_prestart.go): skip on first reading
	}
	dec := json.NewDecoder(f)
	if err := dec.Decode(v); err != nil {
		f.Close()
		return fmt.Errorf("reading spec from fd %d: %w", specFD, err)
	}
	// The pipe stays open for the go (awaitGo), but not into the
	// command.
	unix.CloseOnExec(specFD)
	gate.f, gate.rest = f, dec.Buffered()
	// Whatever else the program that started us had open without
	// close-on-exec (a pipe from its own parent, say) was inherited too.
	// None of it is the container's business: close it at the exec.
	if err := unix.CloseRange(specFD+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("marking inherited file descriptors close-on-exec: %w", err)
	}
	return nil
}

// awaitGo blocks until the host says go: the byte 'G' after the spec, on
// the same pipe. Release sends it with the spec; a host with more to do
// while init sets the container up (Container.OnRelease) sends it later,
// with Go. A pipe that ends without it means the host gave up on the
// container: the command must not start.
func awaitGo() error {
	if gate.f == nil {
		return nil // the spec did not come through ReadSpec
	}
	defer func() { gate.f.Close(); gate.f = nil }()
	r := io.MultiReader(gate.rest, gate.f)
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			switch b[0] {
			case 'G':
				return nil
			case ' ', '\n', '\r', '\t': // after the spec's JSON
				continue
			}
			return fmt.Errorf("spec pipe: %q instead of the go", b[0])
		}
		if err != nil {
			return fmt.Errorf("the host gave up on the container before its command could start: %w", err)
		}
	}
}

// Setup prepares the new namespaces from inside: it makes every mount
// private, sets the hostname, the process limits and the kernel
// parameters, and brings up the loopback interface.
func Setup(s Spec) error {
	// Name ourselves: `ps` in the container would otherwise show "exe",
	// the name of /proc/self/exe.
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte(InitName + "\x00")[0])), 0, 0, 0)
	if s.HostMounts {
		// Nothing to cut off: there is no mount namespace of our own.
	} else if s.Propagation != 0 {
		explain.Inside().Mount(explain.Mounts, "", "/", "", s.Propagation, "", "the container's mount propagation")
		if err := unix.Mount("", "/", "", s.Propagation, ""); err != nil {
			return fmt.Errorf("mount propagation of /: %w", err)
		}
	} else if err := MakeMountsPrivate(); err != nil {
		return err
	}
	if !s.HostCgroupns {
		// Now that the host has put init in the container's cgroup:
		// that cgroup becomes the root, "/", of what the container
		// sees in /proc/self/cgroup. Namespaces belong to threads: the
		// caller has locked init to this one (Init, InitWith), the one
		// that starts the command.
		explain.Inside().Unshare(unix.CLONE_NEWCGROUP)
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("new cgroup namespace: %w", err)
		}
	}
	if s.Hostname != "" {
		explain.Inside().Step(explain.Namespaces, "sethostname", "("+strconv.Quote(s.Hostname)+")")
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return fmt.Errorf("sethostname %q: %w", s.Hostname, err)
		}
	}
	// Now, while init still has every capability: raising a hard limit
	// takes CAP_SYS_RESOURCE, setgroups CAP_SETGID, and chapter 03
	// may drop both (--cap-drop ALL) before the command starts.
	if err := setProcessLimits(s.Rlimits, s.OOMScoreAdj, s.SetOOMScoreAdj); err != nil {
		return err
	}
	if err := setGroups(s.Command.Groups); err != nil {
		return err
	}
	if err := writeSysctls(s.Sysctls); err != nil {
		return err
	}
	return LoopbackUp()
}

// SetRlimits sets the calling process's resource limits as init sets
// its own: the command it then executes inherits them. final/nsenter
// uses it for a process started in a running container.
func SetRlimits(rlimits []Rlimit) error { return setProcessLimits(rlimits, 0, false) }

// setProcessLimits sets init's own resource limits and OOM score, which
// the command inherits: both belong to a process, not to a namespace or
// a cgroup, and survive exec.
func setProcessLimits(rlimits []Rlimit, oomScoreAdj int, always bool) error {
	for _, r := range rlimits {
		// syscall's Setrlimit, not a raw prlimit: Go raises its own
		// soft RLIMIT_NOFILE at start-up and puts the old value back
		// at exec, for the sake of programs that cannot handle many
		// descriptors. That would undo --ulimit nofile; Setrlimit
		// tells Go to leave the limit as set.
		lim := syscall.Rlimit{Cur: r.Soft, Max: r.Hard}
		explain.Inside().Stepf(explain.Rlimits, "setrlimit", "(resource %d, soft %d, hard %d)", r.Resource, r.Soft, r.Hard)
		if err := syscall.Setrlimit(r.Resource, &lim); err != nil {
			return fmt.Errorf("setrlimit resource %d to %d:%d: %w", r.Resource, r.Soft, r.Hard, err)
		}
	}
	if oomScoreAdj != 0 || always {
		// /proc/self is init, whichever /proc is mounted.
		v := []byte(strconv.Itoa(oomScoreAdj))
		explain.Inside().Write(explain.Rlimits, "/proc/self/oom_score_adj", string(v))
		if err := os.WriteFile("/proc/self/oom_score_adj", v, 0); err != nil {
			return fmt.Errorf("oom_score_adj %d: %w", oomScoreAdj, err)
		}
	}
	return nil
}

// MakeMountsPrivate stops mount events from crossing between this mount
// namespace and the host's.
//
// A new mount namespace starts as a copy of its parent's, and on systemd
// hosts "/" is a shared mount: a mount made under a shared mount is
// propagated to its peers, so without this step mounting /proc here would
// also mount it on the host. MS_REC applies it to every mount below "/",
// MS_PRIVATE cuts the peer groups. pivot_root(2) also refuses to work when
// the new root's parent mount is shared.
func MakeMountsPrivate() error {
	explain.Inside().Mount(explain.Mounts, "", "/", "", unix.MS_REC|unix.MS_PRIVATE, "", "no mount event crosses to or from the host")
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts under / private: %w", err)
	}
	return nil
}

// MountProc mounts a new proc filesystem at target. A proc instance shows
// the PID namespace of the process that mounts it, so this must run inside
// the new PID namespace: then `ps` sees only the container's processes.
func MountProc(target string) error {
	// nosuid, nodev, noexec: nothing in /proc is meant to be executed or
	// to act as a device, so don't let it.
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	explain.Inside().Mount(explain.Mounts, "proc", target, "proc", flags, "", "ps shows this PID namespace")
	if err := unix.Mount("proc", target, "proc", flags, ""); err != nil {
		return fmt.Errorf("mounting proc on %s: %w", target, err)
	}
	return nil
}

// LoopbackUp brings up "lo", the only interface in a new network
// namespace, which starts down: without it even 127.0.0.1 is unreachable.
// It uses the classic SIOCSIFFLAGS ioctl; chapter 05 uses netlink.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading flags of lo: %w", err)
	}
	if ifr.Uint16()&unix.IFF_UP != 0 {
		return nil // already up: the host's lo, when sharing its network
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	explain.Inside().Step(explain.Namespaces, "ioctl", "(SIOCSIFFLAGS, lo up): a new network namespace has only lo, down")
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}
