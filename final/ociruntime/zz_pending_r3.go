package ociruntime

// Throwaway: R2's Resources (resources.go), minimal, until it is on
// main. Deleted at the merge.

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/02-cgroups/cgroup"
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
