package ociruntime

// Throwaway: R2's Resources (resources.go), minimal, until it is on
// main. Deleted at the merge.

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/seccomp"
)

func Resources(r *specs.LinuxResources) (cgroup.Resources, error) {
	var out cgroup.Resources
	if r == nil {
		return out, nil
	}
	if m := r.Memory; m != nil {
		if m.Limit != nil && *m.Limit > 0 {
			out.Memory = *m.Limit
		}
		if m.Reservation != nil && *m.Reservation > 0 {
			out.MemoryReservation = *m.Reservation
		}
		if m.Swap != nil && *m.Swap != -1 && (m.Limit == nil || *m.Swap != *m.Limit) {
			return out, errors.New("linux.resources.memory.swap: not supported")
		}
		if m.DisableOOMKiller != nil {
			out.OOMKillDisable = *m.DisableOOMKiller
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil {
			out.CPUShares = *c.Shares
		}
		if c.Quota != nil && *c.Quota > 0 {
			period := uint64(cgroup.CPUPeriod)
			if c.Period != nil && *c.Period != 0 {
				period = *c.Period
			}
			out.CPUs = float64(*c.Quota) / float64(period)
		}
		out.CpusetCpus, out.CpusetMems = c.Cpus, c.Mems
	}
	if p := r.Pids; p != nil && p.Limit > 0 {
		out.PidsMax = p.Limit
	}
	if b := r.BlockIO; b != nil && b.Weight != nil {
		return out, errors.New("linux.resources.blockIO.weight: not supported")
	}
	return out, nil
}

// Throwaway: R2's Security (security.go), only what exec reads.
type Security struct {
	User            specs.User
	NoNewPrivileges bool
	Seccomp         *seccomp.Filter
}

func NewSecurity(spec *specs.Spec) (*Security, error) {
	p := spec.Process
	if p.ApparmorProfile != "" {
		return nil, errors.New("process.apparmorProfile: not supported")
	}
	if p.SelinuxLabel != "" {
		return nil, errors.New("process.selinuxLabel: not supported")
	}
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		return nil, errors.New("linux.seccomp: pending R2")
	}
	return &Security{User: p.User, NoNewPrivileges: p.NoNewPrivileges}, nil
}

func Rlimits(r []specs.POSIXRlimit) ([]namespace.Rlimit, error) {
	var out []namespace.Rlimit
	for _, l := range r {
		if l.Type != "RLIMIT_NOFILE" {
			return nil, errors.New("process.rlimits: pending R2")
		}
		out = append(out, namespace.Rlimit{Resource: unix.RLIMIT_NOFILE, Soft: l.Soft, Hard: l.Hard})
	}
	return out, nil
}
