package ociruntime

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/03-rootfs/seccomp"
)

// Security is what the container's init does last, to become the
// process config.json describes: who it runs as (process.user), which
// privileges it keeps (process.capabilities, noNewPrivileges) and which
// system calls it may make (linux.seccomp). NewSecurity reads it on the
// host, where a refusal can still fail `create` with a message; the init
// receives it as JSON inside the init spec and only applies it.
//
// The filter travels compiled (a BPF program, package seccomp): the init
// needs no parser and no compiler, and loads exactly what the host
// decided.
type Security struct {
	// User is process.user: uid, gid, additionalGids and umask.
	User specs.User `json:"user"`
	// Caps are process.capabilities' five sets. Nil when config.json
	// has no process.capabilities: the process then keeps none, in
	// any set, as under runc.
	Caps *rootfs.CapSets `json:"caps,omitempty"`
	// NoNewPrivileges is process.noNewPrivileges.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// Seccomp is linux.seccomp, compiled; nil when config.json has none.
	Seccomp *seccomp.Filter `json:"seccomp,omitempty"`
}

// NewSecurity reads the security part of spec. It refuses, by field
// name, what berth does not apply: LSM labels (this host has neither
// AppArmor nor SELinux, and a label that is silently not applied is a
// container that is less confined than its owner thinks), a seccomp
// profile that needs an agent, capability sets the kernel would refuse
// to set. An unknown capability name is not refused but warned about
// and left out (knownCapabilities).
func NewSecurity(spec *specs.Spec) (*Security, error) {
	if spec == nil || spec.Process == nil {
		return nil, errors.New("process: missing from config.json")
	}
	p := spec.Process
	if p.ApparmorProfile != "" {
		return nil, fmt.Errorf("process.apparmorProfile %q: not supported (berth applies no AppArmor profile)", p.ApparmorProfile)
	}
	if p.SelinuxLabel != "" {
		return nil, fmt.Errorf("process.selinuxLabel %q: not supported (berth applies no SELinux label)", p.SelinuxLabel)
	}
	if p.Scheduler != nil {
		return nil, errors.New("process.scheduler: not supported")
	}
	if p.IOPriority != nil {
		return nil, errors.New("process.ioPriority: not supported")
	}
	if p.User.Username != "" {
		return nil, fmt.Errorf("process.user.username %q: not supported on Linux (uid and gid are)", p.User.Username)
	}
	s := &Security{User: p.User, NoNewPrivileges: p.NoNewPrivileges}
	if c := p.Capabilities; c != nil {
		s.Caps = knownCapabilities(c)
		if err := s.Caps.Check(); err != nil {
			return nil, fmt.Errorf("process.%w", err)
		}
	}
	if l := spec.Linux; l != nil {
		if l.MountLabel != "" {
			return nil, fmt.Errorf("linux.mountLabel %q: not supported (berth applies no SELinux label)", l.MountLabel)
		}
		f, err := compileSeccomp(l.Seccomp)
		if err != nil {
			return nil, err
		}
		s.Seccomp = f
	}
	return s, nil
}

// knownCapabilities is process.capabilities without the names that no
// kernel interface maps to ("CAP_TEST", a misspelling, a capability of
// a kernel newer than berth), each left out of every set with one
// warning naming it and the sets it was in.
//
// Runtime-spec 1.0 said such a name MUST fail the create; 1.2 (the
// version berth implements) turned it round: a capability that cannot
// be mapped or granted is logged as a warning, and the runtime should
// not fail for it, so that one config can serve kernels of different
// ages. runc does the same ("ignoring unknown or unavailable
// capabilities"). Leaving a name out only ever grants less than asked:
// an unknown capability guards nothing the process could reach.
//
// Docker's --cap-add is another matter: its names are typed by a
// person, and dockerd refuses an unknown one, so berthd still does
// (chapter 03's ParseCapability, unchanged).
func knownCapabilities(c *specs.LinuxCapabilities) *rootfs.CapSets {
	unknown := map[string][]string{} // name -> the sets it was in
	var order []string
	keep := func(set string, names []string) []string {
		var out []string
		for _, n := range names {
			if _, err := rootfs.ParseCapability(n); err != nil {
				if _, seen := unknown[n]; !seen {
					order = append(order, n)
				}
				unknown[n] = append(unknown[n], set)
				continue
			}
			out = append(out, n)
		}
		return out
	}
	caps := &rootfs.CapSets{
		Bounding:    keep("bounding", c.Bounding),
		Effective:   keep("effective", c.Effective),
		Permitted:   keep("permitted", c.Permitted),
		Inheritable: keep("inheritable", c.Inheritable),
		Ambient:     keep("ambient", c.Ambient),
	}
	for _, n := range order {
		Warn(fmt.Errorf("process.capabilities: ignoring unknown or unavailable capability %q (in %s), as runtime-spec 1.2 asks", n, strings.Join(unknown[n], ", ")))
	}
	return caps
}

// defaultUmask is runc's umask when process.user.umask is absent.
const defaultUmask = 0o022

// Apply makes the calling process the configured one, in runc's order
// (runc 1.1's standard_init_linux.go and finalizeNamespace), and calls
// beforeExec where runc waits on the exec FIFO. The caller execs the
// command right after, from the same goroutine: Apply locks it to its
// thread, because capabilities and keep-caps belong to a thread, and
// in a program that links cgo only the calling thread can be changed.
//
//	umask
//	no_new_privs              (if asked; runc sets it before everything else here)
//	seccomp, early            (without no_new_privs the kernel takes a filter only
//	                           from a process with CAP_SYS_ADMIN: load it while init has it)
//	bounding set              (dropping needs CAP_SETPCAP, still effective)
//	keep-caps on              (the uid switch would clear the permitted set)
//	stdio chowned to uid      (so that the user can reopen /proc/self/fd/0..2)
//	setgroups, setgid, setuid  (the parent-death signal, which they clear, set again)
//	keep-caps off
//	effective, permitted, inheritable, ambient
//	beforeExec()              (the runtime's: exec FIFO wait, startContainer hooks;
//	                           they run as the user, with the final sets)
//	seccomp, late             (with no_new_privs: as near execve as possible, so
//	                           that the profile need not allow what init does)
//
// Everything after the early filter runs under it: Docker's profile and
// runc's order agree on that, and a custom profile that refuses setuid or
// capset fails the start, as under runc.
func (s *Security) Apply(beforeExec func() error) error {
	runtime.LockOSThread()
	umask := uint32(defaultUmask)
	if s.User.Umask != nil {
		umask = *s.User.Umask
	}
	unix.Umask(int(umask))
	if s.NoNewPrivileges {
		if err := rootfs.NoNewPrivileges(); err != nil {
			return err
		}
	}
	if s.Seccomp != nil && !s.NoNewPrivileges {
		if err := s.Seccomp.Load(); err != nil {
			return err
		}
	}
	caps := rootfs.CapSets{}
	if s.Caps != nil {
		caps = *s.Caps
	}
	if err := caps.ApplyBounding(); err != nil {
		return err
	}
	if err := rootfs.KeepCaps(true); err != nil {
		return err
	}
	// The kernel clears the parent-death signal at a change of
	// credentials, as a setuid program's would be: asked for by init,
	// it is set again after the switch (runc does the same).
	var pdeath int32
	if err := unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&pdeath)), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_GET_PDEATHSIG): %w", err)
	}
	if err := s.switchUser(); err != nil {
		return err
	}
	if pdeath != 0 {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(pdeath), 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_PDEATHSIG, %d): %w", pdeath, err)
		}
	}
	if err := rootfs.KeepCaps(false); err != nil {
		return err
	}
	if err := caps.Apply(); err != nil {
		return err
	}
	if beforeExec != nil {
		if err := beforeExec(); err != nil {
			return err
		}
	}
	if s.Seccomp != nil && s.NoNewPrivileges {
		if err := s.Seccomp.Load(); err != nil {
			return err
		}
	}
	return nil
}

// switchUser sets the groups, the gid and the uid, in that order: the
// groups and the gid need CAP_SETGID, which a non-root uid no longer
// has in its effective set. The syscall package's calls change every
// thread of the process (golang.org/x/sys/unix's change only the
// calling one).
//
// The supplementary groups are exactly additionalGids: with a numeric
// uid:gid, runc reads none from the container's /etc/group either.
func (s *Security) switchUser() error {
	u := s.User
	if err := rootfs.ChownStdio(int(u.UID)); err != nil {
		return err
	}
	groups := make([]int, len(u.AdditionalGids))
	for i, g := range u.AdditionalGids {
		groups[i] = int(g)
	}
	// In a user namespace whose creator wrote "deny" to setgroups (an
	// unprivileged one), setgroups fails: without groups to set there
	// is nothing to do, as under runc; with groups it is an error.
	if b, err := os.ReadFile("/proc/self/setgroups"); err == nil && strings.TrimSpace(string(b)) == "deny" {
		if len(groups) > 0 {
			return fmt.Errorf("process.user.additionalGids %v: setgroups is denied in this user namespace", u.AdditionalGids)
		}
	} else if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups(%v): %w", groups, err)
	}
	if err := syscall.Setgid(int(u.GID)); err != nil {
		return fmt.Errorf("setgid(%d): %w%s", u.GID, err, unmappedHint(err, "gid"))
	}
	if err := syscall.Setuid(int(u.UID)); err != nil {
		return fmt.Errorf("setuid(%d): %w%s", u.UID, err, unmappedHint(err, "uid"))
	}
	return nil
}

// unmappedHint explains setuid's and setgid's EINVAL: the id has no
// mapping in the container's user namespace.
func unmappedHint(err error, what string) string {
	if errors.Is(err, unix.EINVAL) {
		return " (the " + what + " is not mapped in the container's user namespace)"
	}
	return ""
}

// HomeEnv returns env with HOME set as runc sets it when process.env has
// none (or an empty one): the home directory of uid in the container's
// passwd file (read at passwd, "/etc/passwd" once init is in its root),
// or "/" when the file or the entry is missing. Docker always puts HOME
// in config.json; containerd's ctr and CRI leave it to the runtime.
func HomeEnv(env []string, uid uint32, passwd string) []string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok && v != "" {
			return env
		}
	}
	home := "/"
	if b, err := os.ReadFile(passwd); err == nil {
		want := strconv.FormatUint(uint64(uid), 10)
		for _, line := range strings.Split(string(b), "\n") {
			// name:password:uid:gid:gecos:home:shell
			f := strings.Split(line, ":")
			if len(f) >= 6 && f[2] == want && f[5] != "" {
				home = f[5]
				break
			}
		}
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HOME=") {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+home)
}
