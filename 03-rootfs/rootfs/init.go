package rootfs

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/seccomp"
)

// InitSpec is what a chapter 03 container's init reads: chapter 01's spec
// plus the root filesystem and the privileges to keep. Later chapters
// embed it in their own specs.
type InitSpec struct {
	namespace.Spec
	Rootfs Spec `json:"rootfs"`
	// Capabilities the command keeps; nil means DefaultCapabilities,
	// and an empty list none at all (--cap-drop ALL). No omitempty: it
	// would turn the empty list into nil on its way to init, which
	// then kept the default set.
	Capabilities []string `json:"capabilities"`
	// NoNewPrivileges sets no_new_privs: setuid binaries and file
	// capabilities cannot raise the command's privileges.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// Seccomp is the syscall filter, compiled on the host for exactly
	// Capabilities (CompileSeccomp): the init only loads it. Nil is an
	// error, not "no filter": a container without one says so with
	// seccomp.Unconfined.
	Seccomp *seccomp.Filter `json:"seccomp"`
}

// CompileSeccomp compiles profile for the capabilities the command
// keeps, and sets Seccomp. Call it again after changing Capabilities:
// Docker's profile allows some syscalls only with a capability (mount
// with CAP_SYS_ADMIN), and Enter refuses a filter made for others.
//
// A privileged container (Spec.Privileged) gets no filter, whatever the
// profile, as with Docker: it keeps every capability, and a filter
// would only pretend to confine it.
func (s *InitSpec) CompileSeccomp(profile seccomp.Profile) error {
	if s.Rootfs.Privileged {
		profile = seccomp.Profile{Unconfined: true}
	}
	caps, err := s.keptCapabilities()
	if err != nil {
		return err
	}
	f, err := seccomp.Compile(profile, caps)
	if err != nil {
		return err
	}
	s.Seccomp = f
	return nil
}

// keptCapabilities are the names of the capabilities the command keeps,
// as CapabilityName spells them.
func (s *InitSpec) keptCapabilities() ([]string, error) {
	caps := s.Capabilities
	if caps == nil {
		caps = DefaultCapabilities
	}
	out := make([]string, len(caps))
	for i, c := range caps {
		n, err := ParseCapability(c)
		if err != nil {
			return nil, err
		}
		out[i] = CapabilityName(n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// loadSeccomp installs the container's filter (see Enter for when).
func (s *InitSpec) loadSeccomp() error {
	if s.Seccomp == nil {
		return errors.New("seccomp: the spec has no filter (seccomp.Unconfined runs a container without one)")
	}
	if !s.Seccomp.Unconfined {
		caps, err := s.keptCapabilities()
		if err != nil {
			return err
		}
		if !slices.Equal(caps, s.Seccomp.Caps) {
			return fmt.Errorf("seccomp: the filter was compiled for capabilities %v, the command keeps %v", s.Seccomp.Caps, caps)
		}
	}
	return s.Seccomp.Load()
}

// Init is the container side of chapter 03: chapter 01's, with the root
// switch and the capability drop (Enter) between Setup and Run.
func Init() int { return namespace.InitWith[InitSpec]() }

// Enter is chapter 03's part of the container side, for Init and for the
// inits of later chapters: switch to the root filesystem, then give up
// the privileges a container does not get: the syscall filter, then the
// capabilities.
//
// The filter comes after the mounts, which it would refuse (mount needs
// CAP_SYS_ADMIN, so Docker's profile leaves it out), and before the
// capability drop. The kernel installs a filter only for a process that
// has CAP_SYS_ADMIN or no_new_privs set; Docker does not set no_new_privs
// by default (it would break setuid programs such as su), so, as runc
// does, the filter goes in while the init still has every capability.
// From then on the init itself runs under the filter: what it still does
// (prctl and capset for the drop, setgroups/setuid for -u, ioctl for a
// terminal, execve) must be allowed by the profile. Docker's is; a
// custom profile that refuses execve makes the start fail, as with
// Docker. (When no_new_privs is asked for, runc loads the filter later,
// just before execve, so that a custom profile needs to allow less;
// berth keeps one place for both.)
func (s *InitSpec) Enter() error {
	s.Rootfs.HostCgroupns = s.Spec.HostCgroupns
	if err := Enter(s.Rootfs); err != nil {
		return err
	}
	// The program's AfterEnter (chapter 07's terminal) runs now, in the
	// finished root but before the filter and the capability drop: it
	// binds the terminal onto /dev/console, which takes CAP_SYS_ADMIN
	// and a mount(2) that the container's filter refuses.
	if err := namespace.RunAfterEnter(); err != nil {
		return err
	}
	// The host's session keyring stays behind (keyring.go), while
	// keyctl is still allowed.
	if err := JoinNewSessionKeyring(); err != nil {
		return err
	}
	if err := s.loadSeccomp(); err != nil {
		return err
	}
	caps := s.Capabilities
	if caps == nil {
		caps = DefaultCapabilities
	}
	if s.Rootfs.Privileged {
		caps = AllCapabilities()
	}
	if err := DropCapabilities(caps); err != nil {
		return err
	}
	if s.NoNewPrivileges {
		return NoNewPrivileges()
	}
	return nil
}

// Options are chapter 03's flags: --rootfs, -v, --tmpfs, --shm-size, -e, -w,
// --read-only, --privileged, --device and --seccomp.
type Options struct {
	Spec
	Env EnvList
	// Seccomp is the syscall filter's profile; the zero Profile is
	// Docker's default.
	Seccomp seccomp.Profile `json:"seccomp,omitzero"`
}

// AddFlags registers chapter 03's flags on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Root, "rootfs", "", "the container's root filesystem: a directory")
	fs.Var((*VolumeList)(&o.Volumes), "v", "mount a volume: HOST:CONTAINER[:MODE] (chapter 04: NAME:CONTAINER, CONTAINER) (repeatable)")
	fs.Var((*TmpfsList)(&o.Volumes), "tmpfs", "mount a tmpfs: CONTAINER[:size=..,mode=..,...] (repeatable)")
	fs.Int64Var(&o.ShmSize, "shm-size", 0, "size of /dev/shm in bytes (default 64 MiB)")
	fs.Var(&o.Env, "e", "set an environment variable: KEY=VALUE, or KEY to copy the host's (repeatable)")
	fs.StringVar(&o.Workdir, "w", "", "the command's working directory, created if missing")
	fs.BoolVar(&o.ReadonlyRootfs, "read-only", false, "mount the root filesystem read-only")
	fs.BoolVar(&o.Privileged, "privileged", false, "turn the confinement off: every capability and device, writable /sys and /proc/sys")
	fs.Var((*DeviceList)(&o.Devices), "device", "give the container a host device: HOST[:CONTAINER][:rwm] (repeatable)")
	fs.Func("seccomp", "the syscall filter: a profile in Docker's JSON format, unconfined or builtin (default: Docker's)", func(arg string) error {
		p, err := seccomp.ReadProfile(arg)
		o.Seccomp = p
		return err
	})
}

// InitSpec checks the options and adds them to a chapter 01 spec: the
// environment from -e on top of the defaults, and the working directory.
func (o *Options) InitSpec(base namespace.Spec) (InitSpec, error) {
	if err := o.Validate(); err != nil {
		return InitSpec{}, err
	}
	extra, err := ParseEnv(o.Env, os.LookupEnv)
	if err != nil {
		return InitSpec{}, err
	}
	if base.Command.Env, err = MergeEnv(base.Command.Env, extra); err != nil {
		return InitSpec{}, err
	}
	base.Command.Dir = o.Workdir
	spec := InitSpec{Spec: base, Rootfs: o.Spec}
	// For the default capabilities; a caller that changes them compiles
	// again (the filter is cached per capability set).
	if err := spec.CompileSeccomp(o.Seccomp); err != nil {
		return InitSpec{}, err
	}
	return spec, nil
}

// RunOptions are the flags of chapter 03's run: chapter 02's and the root
// filesystem's. Later chapters embed them in their own.
type RunOptions struct {
	cgroup.RunOptions
	FS Options
}

// AddFlags registers the flags of chapters 01 to 03 on fs.
func (o *RunOptions) AddFlags(fs *flag.FlagSet) {
	o.RunOptions.AddFlags(fs)
	o.FS.AddFlags(fs)
}

// Container is chapter 02's container, with its own root filesystem. The
// options are checked before the cgroup exists. Each --device gets its
// rule in the cgroup's device policy (on a copy: o is left as it was).
func (o *RunOptions) Container(id string, command []string, stdio namespace.Stdio) (*namespace.Container, error) {
	base, err := o.RunOptions.NewSpec(id, command)
	if err != nil {
		return nil, err
	}
	spec, err := o.FS.InitSpec(base)
	if err != nil {
		return nil, err
	}
	cg := o.RunOptions
	cg.Limits.Devices = WithDeviceRules(cg.Limits.Devices, o.FS.Devices)
	if o.FS.Privileged {
		// Every device of the host is in its /dev: the cgroup lets it
		// open them all.
		cg.Limits.Devices = cgroup.AllowAllDevices
	}
	c, err := cg.Container(id, command, stdio)
	if err != nil {
		return nil, err
	}
	c.Spec = spec
	return c, nil
}
