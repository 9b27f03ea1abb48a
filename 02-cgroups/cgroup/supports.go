package cgroup

import (
	"fmt"
	"slices"
	"strings"
)

// Supports reports whether this host has the files r's less common
// controls are written to (swap.go, realtime.go, io.go, hugetlb.go,
// net.go), so that a daemon can refuse a container at create, by name,
// rather than fail its start. It looks in each hierarchy's root, which
// has the same optional files as its children: memory.memsw.* without
// swap accounting, cpu.rt_* without CONFIG_RT_GROUP_SCHED, blkio.weight
// without a weighing I/O scheduler, one hugetlb file per page size the
// CPU has. On v2 it checks the controllers the root offers.
func (h *Hierarchy) Supports(r Resources) error {
	if h.Version == V2 {
		if err := r.v1Only(); err != nil {
			return err
		}
		avail, err := readString(h.Unified, "cgroup.controllers")
		if err != nil {
			return fmt.Errorf("list available controllers: %w", err)
		}
		for _, ctrl := range []string{"io", "hugetlb"} {
			if r.needs(ctrl) && !slices.Contains(strings.Fields(avail), ctrl) {
				return fmt.Errorf("controller %q is not available in %s", ctrl, h.Unified)
			}
		}
		return nil
	}
	if len(r.Unified) > 0 {
		return ErrNoUnifiedV1
	}
	_, _, swap := r.memsw()
	weighs := r.BlkioWeight != 0 || len(r.BlkioWeightDevice) > 0
	throttles := len(r.ReadBps)+len(r.WriteBps)+len(r.ReadIOPS)+len(r.WriteIOPS) > 0
	type check struct {
		asked       bool
		ctrl, files string // files: any of them, "|"-separated
		what, why   string
	}
	checks := []check{
		{swap, "memory", "memory.memsw.limit_in_bytes", "a swap limit", " (the kernel does not account swap: boot with swapaccount=1)"},
		{r.Swappiness != nil, "memory", "memory.swappiness", "memory swappiness", ""},
		{r.KernelTCP != 0, "memory", "memory.kmem.tcp.limit_in_bytes", "a kernel TCP memory limit", ""},
		{r.CPURealtimeRuntime != 0 || r.CPURealtimePeriod != 0, "cpu", "cpu.rt_runtime_us", "real-time CPU time", " (a kernel without CONFIG_RT_GROUP_SCHED)"},
		{weighs, "blkio", "blkio.weight|blkio.bfq.weight", "a block I/O weight", " (the I/O scheduler, neither CFQ nor BFQ, does not weigh)"},
		{throttles, "blkio", "blkio.throttle.read_bps_device", "block I/O throttles", ""},
		{r.NetClassID != 0, "net_cls", "net_cls.classid", "a network class", ""},
		{len(r.NetPriorities) > 0, "net_prio", "net_prio.ifpriomap", "network priorities", ""},
	}
	for _, l := range r.HugetlbLimits {
		checks = append(checks, check{true, "hugetlb", "hugetlb." + l.PageSize + ".limit_in_bytes", "huge pages of " + l.PageSize, ""})
	}
	for _, c := range checks {
		if !c.asked {
			continue
		}
		mnt := h.Mounts[c.ctrl]
		if mnt == "" {
			return fmt.Errorf("%s cannot be set: the %s controller is not mounted (no cgroup v1 hierarchy carries it)", c.what, c.ctrl)
		}
		if !slices.ContainsFunc(strings.Split(c.files, "|"), func(f string) bool { return exists(mnt, f) }) {
			return fmt.Errorf("%s cannot be set: %s has no %s%s", c.what, mnt, strings.ReplaceAll(c.files, "|", " nor "), c.why)
		}
	}
	return nil
}
