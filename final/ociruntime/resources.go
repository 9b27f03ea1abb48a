package ociruntime

import (
	"errors"
	"fmt"
	"maps"
	"math"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// Resources translates linux.resources into chapter 02's limits, in
// runc's units (bytes, microseconds, v1 CPU shares and block I/O
// weights, which chapter 02 converts for v2 as runc does) and with
// runc's meaning where the spec leaves one open. What chapter 02 does
// not apply is refused by name, never dropped:
//
//	memory.limit            Memory                (-1: unlimited; below
//	                        Docker's 6 MiB too: runc takes it, and so
//	                        does the kernel: the container may then be
//	                        OOM-killed at once, which is the spec's deal)
//	memory.reservation      MemoryReservation     (-1: none)
//	memory.swap             MemorySwap: memory plus swap (-1 unlimited);
//	                        absent or 0 with a limit is unlimited swap,
//	                        as runc leaves memsw (v1) and memory.swap.max
//	                        (v2) alone then. Needs a limit, and not below it
//	memory.swappiness       Swappiness            (v1 only; 2^64-1, runc's
//	                        "-1", is not set)
//	memory.disableOOMKiller OOMKillDisable        (v1 only: chapter 02 refuses it on v2)
//	memory.useHierarchy     only true (chapter 02 turns it on)
//	memory.kernel           ignored, with a warning in the log, as runc
//	                        1.1 does: the kernel no longer applies it
//	                        (5.16+; v2 never had it)
//	memory.kernelTCP        KernelTCP             (v1 only: chapter 02 refuses it on v2)
//	memory.checkBeforeUpdate: refused
//	cpu.shares              CPUShares             (2..262144)
//	cpu.quota, cpu.period   CPUs = quota / period, CPUPeriod = period
//	                        (1000..1000000 µs; absent: 100000)
//	cpu.realtimeRuntime,    CPURealtimeRuntime, CPURealtimePeriod (v1 only;
//	cpu.realtimePeriod      the parent needs a real-time budget: realtime.go)
//	cpu.cpus, cpu.mems      CpusetCpus, CpusetMems
//	cpu.burst, idle: refused unless 0
//	pids.limit              PidsMax               (0 or -1: unlimited)
//	blockIO.weight          BlkioWeight           (10..1000; 0: not set)
//	blockIO.weightDevice    BlkioWeightDevice     (their leafWeight refused)
//	blockIO.throttle*       ReadBps, WriteBps, ReadIOPS, WriteIOPS
//	blockIO.leafWeight      refused (blkio.leaf_weight left with CFQ, Linux 5.0)
//	hugepageLimits          HugetlbLimits
//	network.classID         NetClassID            (v1 only)
//	network.priorities      NetPriorities         (v1 only)
//	unified                 Unified               (v2 only; each file must exist)
//	rdma                    refused (chapter 02 has no rdma controller)
//
// The v1-only and v2-only fields are refused by chapter 02 on the other
// version, by name, when the cgroup is made or updated.
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
	if err := blockIOResources(r.BlockIO, &out); err != nil {
		return cgroup.Resources{}, err
	}
	for _, l := range r.HugepageLimits {
		out.HugetlbLimits = append(out.HugetlbLimits, cgroup.HugetlbLimit{PageSize: l.Pagesize, Limit: l.Limit})
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			out.NetClassID = *n.ClassID
		}
		for _, p := range n.Priorities {
			out.NetPriorities = append(out.NetPriorities, cgroup.NetPriority{Interface: p.Name, Priority: p.Priority})
		}
	}
	if len(r.Rdma) > 0 {
		return cgroup.Resources{}, errors.New("linux.resources.rdma: not supported (berth has no rdma controller)")
	}
	if len(r.Unified) > 0 {
		out.Unified = maps.Clone(r.Unified)
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
	out.Memory = limit
	if out.MemoryReservation, err = bytesOrUnlimited("linux.resources.memory.reservation", m.Reservation); err != nil {
		return err
	}
	swap := int64(0)
	if m.Swap != nil {
		swap = *m.Swap
	}
	switch {
	case swap == -1 || (swap == 0 && limit > 0):
		out.MemorySwap = -1
	case swap == 0:
	case swap < -1:
		return fmt.Errorf("linux.resources.memory.swap %d: negative (-1 means unlimited)", swap)
	case limit == 0:
		return fmt.Errorf("linux.resources.memory.swap %d: needs linux.resources.memory.limit (it limits memory and swap together)", swap)
	case swap < limit:
		return fmt.Errorf("linux.resources.memory.swap %d: below linux.resources.memory.limit %d (it limits memory and swap together)", swap, limit)
	default:
		out.MemorySwap = swap
	}
	if m.Kernel != nil && *m.Kernel != 0 && *m.Kernel != -1 {
		// The kernel itself no longer applies it: memory.kmem.
		// limit_in_bytes takes a write and limits nothing since
		// Linux 5.16 (v2 never had it). runc 1.1 ignores it with a
		// warning; so does berth, in the log. Refusing it would
		// refuse bundles runc runs (runtime-tools' memory programs).
		Warn(fmt.Errorf("linux.resources.memory.kernel %d: kernel memory is no longer limited apart by the kernel: ignored", *m.Kernel))
	}
	if m.KernelTCP != nil && *m.KernelTCP != 0 {
		out.KernelTCP = *m.KernelTCP // chapter 02: v1's memory.kmem.tcp.limit_in_bytes
	}
	if m.Swappiness != nil && *m.Swappiness != math.MaxUint64 {
		if *m.Swappiness > 100 {
			return fmt.Errorf("linux.resources.memory.swappiness %d: the kernel takes 0 to 100", *m.Swappiness)
		}
		v := *m.Swappiness
		out.Swappiness = &v
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
	period := uint64(cgroup.CPUPeriod)
	if c.Period != nil && *c.Period != 0 {
		if *c.Period < cgroup.MinCPUPeriod || *c.Period > cgroup.MaxCPUPeriod {
			return fmt.Errorf("linux.resources.cpu.period %d: the kernel takes %d to %d µs", *c.Period, cgroup.MinCPUPeriod, cgroup.MaxCPUPeriod)
		}
		period = *c.Period
		out.CPUPeriod = period
	}
	if c.Quota != nil && *c.Quota > 0 {
		if *c.Quota < 1000 {
			return fmt.Errorf("linux.resources.cpu.quota %d: below the kernel's 1000 µs", *c.Quota)
		}
		out.CPUs = float64(*c.Quota) / float64(period)
	} else if c.Quota != nil && *c.Quota < -1 {
		return fmt.Errorf("linux.resources.cpu.quota %d: negative (-1 means unlimited)", *c.Quota)
	}
	if c.Burst != nil && *c.Burst != 0 {
		return fmt.Errorf("linux.resources.cpu.burst %d: not supported", *c.Burst)
	}
	if c.RealtimeRuntime != nil {
		out.CPURealtimeRuntime = *c.RealtimeRuntime
	}
	if c.RealtimePeriod != nil {
		out.CPURealtimePeriod = *c.RealtimePeriod
	}
	if out.CPURealtimePeriod != 0 && out.CPURealtimeRuntime > int64(out.CPURealtimePeriod) {
		return fmt.Errorf("linux.resources.cpu.realtimeRuntime %d: above linux.resources.cpu.realtimePeriod %d", out.CPURealtimeRuntime, out.CPURealtimePeriod)
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

// blockIOResources maps linux.resources.blockIO: weights and throttles
// by device number.
func blockIOResources(b *specs.LinuxBlockIO, out *cgroup.Resources) error {
	if b == nil {
		return nil
	}
	weight := func(field string, w uint16) error {
		if w < cgroup.MinBlkioWeight || w > cgroup.MaxBlkioWeight {
			return fmt.Errorf("linux.resources.blockIO.%s %d: the range is %d to %d", field, w, cgroup.MinBlkioWeight, cgroup.MaxBlkioWeight)
		}
		return nil
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := weight("weight", *b.Weight); err != nil {
			return err
		}
		out.BlkioWeight = *b.Weight
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		return fmt.Errorf("linux.resources.blockIO.leafWeight %d: not supported (blkio.leaf_weight left the kernel with CFQ in Linux 5.0)", *b.LeafWeight)
	}
	for _, d := range b.WeightDevice {
		if d.LeafWeight != nil && *d.LeafWeight != 0 {
			return fmt.Errorf("linux.resources.blockIO.weightDevice %d:%d leafWeight: not supported (blkio.leaf_weight left the kernel with CFQ in Linux 5.0)", d.Major, d.Minor)
		}
		if d.Weight == nil {
			continue // nothing asked for this device (runc writes nothing)
		}
		if err := weight("weightDevice", *d.Weight); err != nil {
			return err
		}
		out.BlkioWeightDevice = append(out.BlkioWeightDevice, cgroup.WeightDevice{Major: d.Major, Minor: d.Minor, Weight: *d.Weight})
	}
	for _, t := range []struct {
		in  []specs.LinuxThrottleDevice
		out *[]cgroup.ThrottleDevice
	}{
		{b.ThrottleReadBpsDevice, &out.ReadBps},
		{b.ThrottleWriteBpsDevice, &out.WriteBps},
		{b.ThrottleReadIOPSDevice, &out.ReadIOPS},
		{b.ThrottleWriteIOPSDevice, &out.WriteIOPS},
	} {
		for _, d := range t.in {
			*t.out = append(*t.out, cgroup.ThrottleDevice{Major: d.Major, Minor: d.Minor, Rate: d.Rate})
		}
	}
	return nil
}
