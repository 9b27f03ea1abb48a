// Throwaway: minimal stand-ins for R2's security.go/resources.go/
// devices.go/rlimits.go and R4's rootfs.go, so that R1's life cycle builds
// and runs before theirs land on main. Deleted at the merge.

package ociruntime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

type Security struct {
	User            specs.User `json:"user"`
	Keep            []string   `json:"keep,omitempty"`
	NoNewPrivileges bool       `json:"noNewPrivileges,omitempty"`
}

func NewSecurity(spec *specs.Spec) (*Security, error) {
	s := &Security{}
	if spec.Process != nil {
		s.User = spec.Process.User
		s.NoNewPrivileges = spec.Process.NoNewPrivileges
		if c := spec.Process.Capabilities; c != nil {
			s.Keep = c.Bounding
		}
	}
	return s, nil
}

func (s *Security) Apply(beforeExec func() error) error {
	gids := make([]int, len(s.User.AdditionalGids))
	for i, g := range s.User.AdditionalGids {
		gids[i] = int(g)
	}
	if err := unix.Setgroups(gids); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := unix.Setgid(int(s.User.GID)); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if s.User.UID == 0 {
		if err := rootfs.DropCapabilities(s.Keep); err != nil {
			return err
		}
	}
	if err := unix.Setuid(int(s.User.UID)); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	if s.NoNewPrivileges {
		if err := rootfs.NoNewPrivileges(); err != nil {
			return err
		}
	}
	return beforeExec()
}

func Resources(r *specs.LinuxResources) (cgroup.Resources, error) { return cgroup.Resources{}, nil }

func DeviceRules(l *specs.Linux) ([]cgroup.DeviceRule, error) { return nil, nil }

func Rlimits(r []specs.POSIXRlimit) ([]namespace.Rlimit, error) {
	var out []namespace.Rlimit
	for _, l := range r {
		n, ok := map[string]int{"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_CORE": unix.RLIMIT_CORE}[l.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits: %s: not supported", l.Type)
		}
		out = append(out, namespace.Rlimit{Resource: n, Soft: l.Soft, Hard: l.Hard})
	}
	return out, nil
}

type Rootfs struct {
	Root string `json:"root"`
}

func NewRootfs(spec *specs.Spec, bundle string, noPivot bool) (*Rootfs, error) {
	if spec.Root == nil {
		return nil, fmt.Errorf("root: missing")
	}
	root := spec.Root.Path
	if root == "" || root[0] != '/' {
		root = bundle + "/" + root
	}
	return &Rootfs{Root: root}, nil
}

func (r *Rootfs) Prepare() error { return nil }

func (r *Rootfs) Pivot() error { return rootfs.Enter(rootfs.Spec{Root: r.Root}) }
