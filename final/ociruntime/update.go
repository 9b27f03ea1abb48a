package ociruntime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the limits of a running container (`berth-runtime
// update`, which containerd's shim calls for `ctr task update` and the
// CRI's UpdateContainerResources): r is linux.resources as config.json
// spells it, holding only what changes. It is laid over the resources the
// container has (those create applied, or the last update's), the whole
// is translated by Resources as at create, written with chapter 02's
// Update, and recorded, so that the next update starts from it.
//
// Why merge instead of writing r alone: chapter 02's Update takes the
// complete limits, a zero meaning "no limit" (docker update works so),
// while an OCI update names only what changes; `update --memory 64m`
// must not lift the CPU limit.
//
// What Update can change is runc's list: memory (limit, reservation,
// swap, disableOOMKiller), cpu (shares, quota, period, cpus, mems),
// pids.limit and blockIO.weight, each as far as Resources translates it.
// Any other field of r is accepted only if it asks for what the
// container has already (containerd sends the whole linux.resources,
// devices included, to change one limit), and refused by name
// otherwise.
func Update(root, id string, r *specs.LinuxResources) error {
	rec, cg, err := liveCgroup(root, id)
	if err != nil {
		return err
	}
	spec, err := RecordSpec(rec)
	if err != nil {
		return err
	}
	var cur specs.LinuxResources
	if spec.Linux != nil && spec.Linux.Resources != nil {
		cur = *spec.Linux.Resources
	}
	merged, err := mergeResources(cur, r)
	if err != nil {
		return fmt.Errorf("container %s: update: %w", rec.ID, err)
	}
	res, err := Resources(&merged)
	if err != nil {
		return fmt.Errorf("container %s: update: %w", rec.ID, err)
	}
	if err := cg.Update(res); err != nil {
		return fmt.Errorf("container %s: update: %w", rec.ID, err)
	}
	cfg, err := setResources(rec.Config, &merged)
	if err != nil {
		return fmt.Errorf("container %s: update: recording the new resources: %w", rec.ID, err)
	}
	rec.Config = cfg
	if err := rec.Save(root); err != nil {
		return fmt.Errorf("container %s: update: the limits are applied but not recorded: %w", rec.ID, err)
	}
	return nil
}

// RecordSpec decodes the config.json create recorded.
func RecordSpec(rec *Record) (*specs.Spec, error) {
	var s specs.Spec
	if len(rec.Config) == 0 {
		return &s, nil
	}
	if err := json.Unmarshal(rec.Config, &s); err != nil {
		return nil, fmt.Errorf("container %s: its recorded config.json: %w", rec.ID, err)
	}
	return &s, nil
}

// mergeResources lays the fields r sets over cur (see Update).
func mergeResources(cur specs.LinuxResources, r *specs.LinuxResources) (specs.LinuxResources, error) {
	if r == nil {
		return cur, nil
	}
	// The fields Update does not apply: equal to cur's, or refused.
	for _, f := range []struct {
		name     string
		new, old any
		set      bool
	}{
		{"devices", r.Devices, cur.Devices, r.Devices != nil},
		{"memory.kernel", memField(r, func(m *specs.LinuxMemory) any { return m.Kernel }), memField(&cur, func(m *specs.LinuxMemory) any { return m.Kernel }), r.Memory != nil && r.Memory.Kernel != nil},
		{"memory.kernelTCP", memField(r, func(m *specs.LinuxMemory) any { return m.KernelTCP }), memField(&cur, func(m *specs.LinuxMemory) any { return m.KernelTCP }), r.Memory != nil && r.Memory.KernelTCP != nil},
		{"memory.swappiness", memField(r, func(m *specs.LinuxMemory) any { return m.Swappiness }), memField(&cur, func(m *specs.LinuxMemory) any { return m.Swappiness }), r.Memory != nil && r.Memory.Swappiness != nil},
		{"memory.useHierarchy", memField(r, func(m *specs.LinuxMemory) any { return m.UseHierarchy }), memField(&cur, func(m *specs.LinuxMemory) any { return m.UseHierarchy }), r.Memory != nil && r.Memory.UseHierarchy != nil},
		{"cpu.burst", cpuField(r, func(c *specs.LinuxCPU) any { return c.Burst }), cpuField(&cur, func(c *specs.LinuxCPU) any { return c.Burst }), r.CPU != nil && r.CPU.Burst != nil},
		{"cpu.realtimeRuntime", cpuField(r, func(c *specs.LinuxCPU) any { return c.RealtimeRuntime }), cpuField(&cur, func(c *specs.LinuxCPU) any { return c.RealtimeRuntime }), r.CPU != nil && r.CPU.RealtimeRuntime != nil},
		{"cpu.realtimePeriod", cpuField(r, func(c *specs.LinuxCPU) any { return c.RealtimePeriod }), cpuField(&cur, func(c *specs.LinuxCPU) any { return c.RealtimePeriod }), r.CPU != nil && r.CPU.RealtimePeriod != nil},
		{"cpu.idle", cpuField(r, func(c *specs.LinuxCPU) any { return c.Idle }), cpuField(&cur, func(c *specs.LinuxCPU) any { return c.Idle }), r.CPU != nil && r.CPU.Idle != nil},
		{"blockIO (other than weight)", blkioRest(r.BlockIO), blkioRest(cur.BlockIO), r.BlockIO != nil && !isZeroJSON(blkioRest(r.BlockIO))},
		{"hugepageLimits", r.HugepageLimits, cur.HugepageLimits, r.HugepageLimits != nil},
		{"network", r.Network, cur.Network, r.Network != nil},
		{"rdma", r.Rdma, cur.Rdma, r.Rdma != nil},
		{"unified", r.Unified, cur.Unified, r.Unified != nil},
	} {
		if f.set && !sameJSON(f.new, f.old) {
			return cur, fmt.Errorf("linux.resources.%s: update cannot change it", f.name)
		}
	}

	out := cur
	if m := r.Memory; m != nil {
		var nm specs.LinuxMemory
		if cur.Memory != nil {
			nm = *cur.Memory
		}
		for _, p := range []struct{ dst, src **int64 }{
			{&nm.Limit, &m.Limit}, {&nm.Reservation, &m.Reservation}, {&nm.Swap, &m.Swap},
		} {
			if *p.src != nil {
				*p.dst = *p.src
			}
		}
		if m.DisableOOMKiller != nil {
			nm.DisableOOMKiller = m.DisableOOMKiller
		}
		out.Memory = &nm
	}
	if c := r.CPU; c != nil {
		var nc specs.LinuxCPU
		if cur.CPU != nil {
			nc = *cur.CPU
		}
		if c.Shares != nil {
			nc.Shares = c.Shares
		}
		if c.Quota != nil {
			nc.Quota = c.Quota
		}
		if c.Period != nil {
			nc.Period = c.Period
		}
		if c.Cpus != "" {
			nc.Cpus = c.Cpus
		}
		if c.Mems != "" {
			nc.Mems = c.Mems
		}
		out.CPU = &nc
	}
	if r.Pids != nil {
		p := *r.Pids
		out.Pids = &p
	}
	if r.BlockIO != nil && r.BlockIO.Weight != nil {
		var nb specs.LinuxBlockIO
		if cur.BlockIO != nil {
			nb = *cur.BlockIO
		}
		nb.Weight = r.BlockIO.Weight
		out.BlockIO = &nb
	}
	return out, nil
}

func memField(r *specs.LinuxResources, f func(*specs.LinuxMemory) any) any {
	if r.Memory == nil {
		return nil
	}
	return f(r.Memory)
}

func cpuField(r *specs.LinuxResources, f func(*specs.LinuxCPU) any) any {
	if r.CPU == nil {
		return nil
	}
	return f(r.CPU)
}

// blkioRest is blockIO without its weight.
func blkioRest(b *specs.LinuxBlockIO) any {
	if b == nil {
		return nil
	}
	c := *b
	c.Weight = nil
	return c
}

// sameJSON compares two values as config.json would spell them, so that
// a nil pointer and a pointer to nothing, or nil and an empty list, are
// the same request.
func sameJSON(a, b any) bool {
	return bytes.Equal(canonJSON(a), canonJSON(b))
}

func isZeroJSON(a any) bool { return len(canonJSON(a)) == 0 }

// canonJSON is v's JSON, with "null", "{}" and "[]" as nothing.
func canonJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(fmt.Sprint(v))
	}
	switch string(b) {
	case "null", "{}", "[]", `""`:
		return nil
	}
	return b
}

// setResources replaces linux.resources in a recorded config.json and
// leaves every other byte of it as create recorded it (fields this
// version of specs-go does not know included).
func setResources(config json.RawMessage, r *specs.LinuxResources) (json.RawMessage, error) {
	top := map[string]json.RawMessage{}
	if len(config) > 0 {
		if err := json.Unmarshal(config, &top); err != nil {
			return nil, err
		}
	}
	linux := map[string]json.RawMessage{}
	if l, ok := top["linux"]; ok && !strings.EqualFold(string(l), "null") {
		if err := json.Unmarshal(l, &linux); err != nil {
			return nil, fmt.Errorf("linux: %w", err)
		}
	}
	rb, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	linux["resources"] = rb
	lb, err := json.Marshal(linux)
	if err != nil {
		return nil, err
	}
	top["linux"] = lb
	return json.Marshal(top)
}

// UpdateFlags are runc's update flags, each nil unless given; they take
// precedence over --resources.
type UpdateFlags struct {
	Memory, MemoryReservation, MemorySwap *int64
	CPUShares                             *uint64
	CPUQuota                              *int64
	CPUPeriod                             *uint64
	CpusetCpus, CpusetMems                *string
	PidsLimit                             *int64
	BlkioWeight                           *uint16
}

// Apply lays the flags over r, the --resources document (nil: none).
func (f UpdateFlags) Apply(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil {
		r = &specs.LinuxResources{}
	}
	if f.Memory != nil || f.MemoryReservation != nil || f.MemorySwap != nil {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		if f.Memory != nil {
			r.Memory.Limit = f.Memory
		}
		if f.MemoryReservation != nil {
			r.Memory.Reservation = f.MemoryReservation
		}
		if f.MemorySwap != nil {
			r.Memory.Swap = f.MemorySwap
		}
	}
	if f.CPUShares != nil || f.CPUQuota != nil || f.CPUPeriod != nil || f.CpusetCpus != nil || f.CpusetMems != nil {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		if f.CPUShares != nil {
			r.CPU.Shares = f.CPUShares
		}
		if f.CPUQuota != nil {
			r.CPU.Quota = f.CPUQuota
		}
		if f.CPUPeriod != nil {
			r.CPU.Period = f.CPUPeriod
		}
		if f.CpusetCpus != nil {
			r.CPU.Cpus = *f.CpusetCpus
		}
		if f.CpusetMems != nil {
			r.CPU.Mems = *f.CpusetMems
		}
	}
	if f.PidsLimit != nil {
		r.Pids = &specs.LinuxPids{Limit: *f.PidsLimit}
	}
	if f.BlkioWeight != nil {
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = f.BlkioWeight
	}
	return r
}
