package ociruntime

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// Resources translates linux.resources into chapter 02's limits, in
// runc's units (bytes, microseconds, v1 CPU shares, which chapter 02
// converts to a v2 cpu.weight as runc does). What chapter 02 does not
// apply is refused by name, never dropped:
//
//	memory.limit            Memory                (-1: unlimited)
//	memory.reservation      MemoryReservation     (-1: none)
//	memory.swap             only equal to the limit, or absent: chapter 02
//	                        always sets memory+swap to the memory limit,
//	                        so that swap cannot be used to escape it;
//	                        -1 only when memory is unlimited too
//	memory.disableOOMKiller OOMKillDisable        (v1 only: chapter 02 refuses it on v2)
//	memory.useHierarchy     only true (chapter 02 turns it on)
//	memory.kernel, kernelTCP, swappiness, checkBeforeUpdate: refused
//	cpu.shares              CPUShares             (2..262144)
//	cpu.quota, cpu.period   CPUs = quota / 100000 (chapter 02's period is
//	                        100 ms, the kernel's and Docker's: another
//	                        period is refused)
//	cpu.cpus, cpu.mems      CpusetCpus, CpusetMems
//	cpu.burst, idle, realtimeRuntime, realtimePeriod: refused unless 0
//	pids.limit              PidsMax               (0 or -1: unlimited)
//	blockIO, hugepageLimits, network, rdma, unified: refused (chapter 02
//	                        has no blkio, hugetlb, net_cls/net_prio or
//	                        rdma controller, and no raw v2 files)
//
// devices are DeviceRules': Devices is left nil here, which chapter 02
// reads as Docker's default policy, so the caller sets it from
// DeviceRules.
func Resources(r *specs.LinuxResources) (cgroup.Resources, error) {
	var out cgroup.Resources
	if r == nil {
		return out, nil
	}
	if err := memoryResources(r.Memory, &out); err != nil {
		return cgroup.Resources{}, err
	}
	if err := cpuResources(r.CPU, &out); err != nil {
		return cgroup.Resources{}, err
	}
	if r.Pids != nil && r.Pids.Limit > 0 {
		out.PidsMax = r.Pids.Limit
	}
	if err := unsupportedResources(r); err != nil {
		return cgroup.Resources{}, err
	}
	return out, nil
}

func memoryResources(m *specs.LinuxMemory, out *cgroup.Resources) error {
	if m == nil {
		return nil
	}
	limit, err := bytesOrUnlimited("linux.resources.memory.limit", m.Limit)
	if err != nil {
		return err
	}
	if limit > 0 && limit < cgroup.MinMemory {
		// runc would take it; chapter 02 refuses it at create, and
		// says why (the command would be OOM-killed at once).
		return fmt.Errorf("linux.resources.memory.limit %d: below berth's minimum of %d bytes (6 MiB)", limit, cgroup.MinMemory)
	}
	out.Memory = limit
	if out.MemoryReservation, err = bytesOrUnlimited("linux.resources.memory.reservation", m.Reservation); err != nil {
		return err
	}
	if m.Swap != nil {
		swap := *m.Swap
		switch {
		case limit > 0 && swap == limit:
		case limit == 0 && swap == -1:
		case limit > 0:
			return fmt.Errorf("linux.resources.memory.swap %d: not supported: berth limits memory and swap together to the memory limit (swap = limit, %d)", swap, limit)
		default:
			return fmt.Errorf("linux.resources.memory.swap %d: not supported without a memory limit (berth limits swap only as part of memory.limit)", swap)
		}
	}
	if m.Kernel != nil && *m.Kernel != 0 && *m.Kernel != -1 {
		return fmt.Errorf("linux.resources.memory.kernel %d: not supported (kernel memory limits are gone since Linux 5.4, and from cgroup v2)", *m.Kernel)
	}
	if m.KernelTCP != nil && *m.KernelTCP != 0 && *m.KernelTCP != -1 {
		return fmt.Errorf("linux.resources.memory.kernelTCP %d: not supported", *m.KernelTCP)
	}
	if m.Swappiness != nil {
		return fmt.Errorf("linux.resources.memory.swappiness %d: not supported", *m.Swappiness)
	}
	if m.DisableOOMKiller != nil {
		out.OOMKillDisable = *m.DisableOOMKiller
	}
	if m.UseHierarchy != nil && !*m.UseHierarchy {
		return errors.New("linux.resources.memory.useHierarchy false: not supported (berth's v1 memory cgroups are hierarchical)")
	}
	if m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate {
		return errors.New("linux.resources.memory.checkBeforeUpdate: not supported")
	}
	return nil
}

// bytesOrUnlimited reads a byte count where absent, 0 and -1 all mean
// "no limit" (runc writes nothing for 0, "unlimited" for -1).
func bytesOrUnlimited(field string, v *int64) (int64, error) {
	switch {
	case v == nil || *v == 0 || *v == -1:
		return 0, nil
	case *v < -1:
		return 0, fmt.Errorf("%s %d: negative (-1 means unlimited)", field, *v)
	}
	return *v, nil
}

func cpuResources(c *specs.LinuxCPU, out *cgroup.Resources) error {
	if c == nil {
		return nil
	}
	if c.Shares != nil && *c.Shares != 0 {
		if *c.Shares < cgroup.MinCPUShares || *c.Shares > cgroup.MaxCPUShares {
			return fmt.Errorf("linux.resources.cpu.shares %d: the kernel takes %d to %d", *c.Shares, cgroup.MinCPUShares, cgroup.MaxCPUShares)
		}
		out.CPUShares = *c.Shares
	}
	if c.Period != nil && *c.Period != 0 && *c.Period != cgroup.CPUPeriod {
		return fmt.Errorf("linux.resources.cpu.period %d: not supported (berth's CFS period is %d µs)", *c.Period, cgroup.CPUPeriod)
	}
	if c.Quota != nil && *c.Quota > 0 {
		if *c.Quota < 1000 {
			return fmt.Errorf("linux.resources.cpu.quota %d: below the kernel's 1000 µs", *c.Quota)
		}
		out.CPUs = float64(*c.Quota) / cgroup.CPUPeriod
	} else if c.Quota != nil && *c.Quota < -1 {
		return fmt.Errorf("linux.resources.cpu.quota %d: negative (-1 means unlimited)", *c.Quota)
	}
	if c.Burst != nil && *c.Burst != 0 {
		return fmt.Errorf("linux.resources.cpu.burst %d: not supported", *c.Burst)
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
		return fmt.Errorf("linux.resources.cpu.realtimeRuntime %d: not supported", *c.RealtimeRuntime)
	}
	if c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
		return fmt.Errorf("linux.resources.cpu.realtimePeriod %d: not supported", *c.RealtimePeriod)
	}
	if c.Idle != nil && *c.Idle != 0 {
		return fmt.Errorf("linux.resources.cpu.idle %d: not supported", *c.Idle)
	}
	for _, f := range []struct {
		field, set string
		to         *string
	}{{"cpus", c.Cpus, &out.CpusetCpus}, {"mems", c.Mems, &out.CpusetMems}} {
		if _, err := cgroup.ParseSet(f.set); err != nil {
			return fmt.Errorf("linux.resources.cpu.%s: %w", f.field, err)
		}
		*f.to = f.set
	}
	return nil
}

// unsupportedResources names the first section chapter 02 has no
// controller for.
func unsupportedResources(r *specs.LinuxResources) error {
	if b := r.BlockIO; b != nil {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"weight", b.Weight != nil},
			{"leafWeight", b.LeafWeight != nil},
			{"weightDevice", len(b.WeightDevice) > 0},
			{"throttleReadBpsDevice", len(b.ThrottleReadBpsDevice) > 0},
			{"throttleWriteBpsDevice", len(b.ThrottleWriteBpsDevice) > 0},
			{"throttleReadIOPSDevice", len(b.ThrottleReadIOPSDevice) > 0},
			{"throttleWriteIOPSDevice", len(b.ThrottleWriteIOPSDevice) > 0},
		} {
			if f.set {
				return fmt.Errorf("linux.resources.blockIO.%s: not supported (berth has no blkio controller)", f.name)
			}
		}
	}
	if len(r.HugepageLimits) > 0 {
		return fmt.Errorf("linux.resources.hugepageLimits (%s): not supported (berth has no hugetlb controller)", r.HugepageLimits[0].Pagesize)
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			return fmt.Errorf("linux.resources.network.classID %d: not supported (berth has no net_cls controller)", *n.ClassID)
		}
		if len(n.Priorities) > 0 {
			return errors.New("linux.resources.network.priorities: not supported (berth has no net_prio controller)")
		}
	}
	if len(r.Rdma) > 0 {
		return errors.New("linux.resources.rdma: not supported (berth has no rdma controller)")
	}
	if len(r.Unified) > 0 {
		keys := make([]string, 0, len(r.Unified))
		for k := range r.Unified {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return fmt.Errorf("linux.resources.unified (%s): not supported (berth writes no raw cgroup v2 files)", strings.Join(keys, ", "))
	}
	return nil
}
