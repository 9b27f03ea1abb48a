package rootfs

import (
	"flag"
	"os"
	"runtime"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// InitSpec is what a chapter 03 container's init reads: chapter 01's spec
// plus the root filesystem and the privileges to keep. Later chapters
// embed it in their own specs.
type InitSpec struct {
	namespace.Spec
	Rootfs Spec `json:"rootfs"`
	// Capabilities the command keeps; nil means DefaultCapabilities.
	Capabilities []string `json:"capabilities,omitempty"`
	// NoNewPrivileges sets no_new_privs: setuid binaries and file
	// capabilities cannot raise the command's privileges.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
}

// Init is the container side of chapter 03: chapter 01's steps, with the
// root switch and the capability drop between Setup and Run.
func Init() int {
	// Capabilities belong to threads. When the binary links cgo, the
	// runtime cannot change every thread at once, so DropCapabilities
	// changes only this one: stay on it until the command is executed.
	runtime.LockOSThread()
	var s InitSpec
	if err := namespace.ReadSpec(&s); err != nil {
		return namespace.InitFailed(err)
	}
	if err := namespace.Setup(s.Spec); err != nil {
		return namespace.InitFailed(err)
	}
	if err := s.Enter(); err != nil {
		return namespace.InitFailed(err)
	}
	return namespace.Run(s.Spec)
}

// Enter is chapter 03's part of the container side, for Init and for the
// inits of later chapters: switch to the root filesystem, then give up
// the privileges a container does not get.
func (s *InitSpec) Enter() error {
	if err := Enter(s.Rootfs); err != nil {
		return err
	}
	caps := s.Capabilities
	if caps == nil {
		caps = DefaultCapabilities
	}
	if err := DropCapabilities(caps); err != nil {
		return err
	}
	if s.NoNewPrivileges {
		return NoNewPrivileges()
	}
	return nil
}

// Options are chapter 03's flags: --rootfs, -v, -e, -w and --read-only.
type Options struct {
	Spec
	Env EnvList
}

// AddFlags registers chapter 03's flags on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Root, "rootfs", "", "the container's root filesystem: a directory")
	fs.Var((*VolumeList)(&o.Volumes), "v", "bind mount a volume: HOST:CONTAINER[:ro] (repeatable)")
	fs.Var(&o.Env, "e", "set an environment variable: KEY=VALUE, or KEY to copy the host's (repeatable)")
	fs.StringVar(&o.Workdir, "w", "", "the command's working directory, created if missing")
	fs.BoolVar(&o.ReadonlyRootfs, "read-only", false, "mount the root filesystem read-only")
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
	return InitSpec{Spec: base, Rootfs: o.Spec}, nil
}
