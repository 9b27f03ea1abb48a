package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"time"
)

// createV1 makes <mount>/<parent>/<name> in each hierarchy that carries
// one of v1Joined. Co-mounted controllers ("cpu,cpuacct") share one
// directory, which is made once.
func (h *Hierarchy) createV1(parentName, name string, r Resources) (*Cgroup, []string, error) {
	// Check before creating anything, so a missing controller leaves no
	// directories behind.
	for _, ctrl := range []string{"memory", "cpu", "cpuset", "pids", "devices", "blkio", "hugetlb", "net_cls", "net_prio"} {
		if r.needs(ctrl) && h.Mounts[ctrl] == "" {
			return nil, nil, fmt.Errorf("the %s controller is not mounted (no cgroup v1 hierarchy carries it)", ctrl)
		}
	}
	if len(r.Unified) > 0 {
		return nil, nil, ErrNoUnifiedV1
	}

	o := h.sys()
	c := &Cgroup{name: name, version: h.Version, paths: map[string]string{}, ops: o}
	var created []string
	byMount := map[string]string{} // mount point -> our directory in it
	for _, ctrl := range v1Joined() {
		mnt := h.Mounts[ctrl]
		if mnt == "" {
			continue
		}
		if dir, ok := byMount[mnt]; ok {
			c.paths[ctrl] = dir
			continue
		}
		var each func(string) error
		cpuset := mnt == h.Mounts["cpuset"] // maybe co-mounted with another
		if cpuset {
			each = inheritCpuset
		}
		parent, err := mkdirParent(o, mnt, parentName, each)
		if err != nil {
			return nil, created, err
		}
		// "memory" comes first in v1Controllers, so the memory
		// hierarchy's parent is fixed before any child is made in it.
		if ctrl == "memory" {
			if err := ensureUseHierarchy(parent); err != nil {
				return nil, created, err
			}
		}
		dir := filepath.Join(parent, name)
		if err := o.mkdir(dir); err != nil {
			return nil, created, fmt.Errorf("create cgroup: %w", err)
		}
		created = append(created, dir)
		if cpuset {
			if err := inheritCpuset(dir); err != nil {
				return nil, created, err
			}
		}
		byMount[mnt] = dir
		c.paths[ctrl] = dir
	}
	// A hybrid host's cgroup2 mount carries no controller, but it is a
	// hierarchy like the others: each process is somewhere in its tree,
	// and /proc/PID/cgroup's "0::" line says where. runc (and systemd)
	// put a container's processes in a directory of their own there
	// too, so a container is one cgroup in every hierarchy: a process
	// left in the host's would be counted as the host's by whatever
	// reads that tree.
	if h.Version == Hybrid && h.Unified != "" {
		parent, err := mkdirParent(o, h.Unified, parentName, nil)
		if err != nil {
			return nil, created, err
		}
		dir := filepath.Join(parent, name)
		if err := o.mkdir(dir); err != nil {
			return nil, created, fmt.Errorf("create cgroup: %w", err)
		}
		created = append(created, dir)
		c.paths[unifiedKey] = dir
	}
	if dir := c.paths["memory"]; dir != "" {
		if err := ensureOOMKill(dir); err != nil {
			return nil, created, err
		}
	}
	// Now, before any process can join: the container's first process
	// must never run one instruction with the host's devices open to it.
	// Written even when it allows everything: the new cgroup copied its
	// parent's list, which need not be "a".
	w, _ := devicePolicy(r.devices()) // checked by validate
	if c.paths["devices"] != "" {
		if err := setDevicesV1(o, c.paths["devices"], w); err != nil {
			return nil, created, err
		}
	}
	return c, created, nil
}

// inheritCpuset gives a new cpuset cgroup its parent's CPUs and memory
// nodes: it starts with none, and no task may join it until it has some.
// (cgroup.clone_children on the parent would do the copy at mkdir, but
// only for children made after it is set, and the file is the host's.)
func inheritCpuset(dir string) error {
	for _, name := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := readString(dir, name)
		if err != nil {
			return fmt.Errorf("check %s: %w", name, err)
		}
		if cur != "" {
			continue
		}
		up, err := readString(filepath.Dir(dir), name)
		if err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
		if err := writeString(dir, name, up); err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
	}
	return nil
}

// ensureUseHierarchy makes the berth parent of the memory hierarchy
// hierarchical. In v1's old non-hierarchical mode a child's memory was not
// charged to its parent, so a limit on "berth" would not cover the
// containers in it. The mode is inherited at mkdir and can only be changed
// while the cgroup has no children, hence the check right after the parent
// is made. Recent kernels are always hierarchical: the file reads 1 and
// writing 0 fails with EINVAL, so usually there is nothing to do.
func ensureUseHierarchy(parent string) error {
	v, err := readString(parent, "memory.use_hierarchy")
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no such knob: always hierarchical
	}
	if err != nil {
		return fmt.Errorf("check memory.use_hierarchy: %w", err)
	}
	if v == "0" {
		if err := writeString(parent, "memory.use_hierarchy", "1"); err != nil {
			return fmt.Errorf("enable memory.use_hierarchy: %w", err)
		}
	}
	return nil
}

// ensureOOMKill makes sure the OOM killer is on for the container. A new
// v1 memory cgroup inherits oom_kill_disable from its parent; with it set,
// a process that hits the limit is not killed but frozen until memory is
// freed, so the container hangs forever instead of dying, and oom_kill,
// which OOMKilled reads, never counts.
func ensureOOMKill(dir string) error {
	m, err := readKeyed(dir, "memory.oom_control")
	if err != nil {
		return fmt.Errorf("check memory.oom_control: %w", err)
	}
	if m["oom_kill_disable"] != 0 {
		if err := writeString(dir, "memory.oom_control", "0"); err != nil {
			return fmt.Errorf("enable the OOM killer: %w", err)
		}
	}
	return nil
}

func (c *Cgroup) updateV1(r Resources) error {
	if len(r.Unified) > 0 {
		return ErrNoUnifiedV1
	}
	if err := setMemoryV1(c.paths["memory"], r); err != nil {
		return fmt.Errorf("set memory limit: %w", err)
	}
	if err := setSwappinessV1(c.paths["memory"], r.Swappiness); err != nil {
		return err
	}
	if err := setKernelTCPV1(c.paths["memory"], r.KernelTCP); err != nil {
		return err
	}

	// The period goes first: the kernel checks a quota against the
	// period in force (and against the parent's bandwidth), so the quota
	// must meet the period we mean. -1 as quota means unlimited; then
	// the period goes after it, since any period suits no quota.
	dir := c.paths["cpu"]
	period := strconv.FormatUint(r.period(), 10)
	if r.CPUs > 0 {
		if err := setLimit(dir, "cpu.cfs_period_us", period, true); err != nil {
			return fmt.Errorf("set CPU limit: %w", err)
		}
		if err := setLimit(dir, "cpu.cfs_quota_us", strconv.FormatInt(quotaPer(r.CPUs, r.period()), 10), true); err != nil {
			return fmt.Errorf("set CPU limit: %w", err)
		}
	} else {
		if err := setLimit(dir, "cpu.cfs_quota_us", "-1", false); err != nil {
			return fmt.Errorf("set CPU limit: %w", err)
		}
		if err := setLimit(dir, "cpu.cfs_period_us", period, r.CPUPeriod != 0); err != nil {
			return fmt.Errorf("set CPU period: %w", err)
		}
	}
	if err := setRealtimeV1(dir, r); err != nil {
		return err
	}

	pids := "max"
	if r.PidsMax > 0 {
		pids = strconv.FormatInt(r.PidsMax, 10)
	}
	if err := setLimit(c.paths["pids"], "pids.max", pids, r.PidsMax > 0); err != nil {
		return fmt.Errorf("set pids limit: %w", err)
	}
	if err := c.weightsV1(r); err != nil {
		return err
	}
	if err := setIOV1(c.paths["blkio"], r); err != nil {
		return err
	}
	if err := setHugetlb(c.paths["hugetlb"], r.HugetlbLimits, "limit_in_bytes"); err != nil {
		return err
	}
	return c.setNetV1(r)
}

// weightsV1 writes what shares a resource rather than caps it: the CPU
// weight, the CPUs and memory nodes, the memory soft limit, and whether
// the OOM killer may act. Zero values write the kernel's defaults
// (1024 shares, the parent's cpuset, no soft limit, the killer on), so
// that an update can take each back.
func (c *Cgroup) weightsV1(r Resources) error {
	shares := uint64(1024)
	if r.CPUShares > 0 {
		shares = r.CPUShares
	}
	if err := setLimit(c.paths["cpu"], "cpu.shares", strconv.FormatUint(shares, 10), r.CPUShares > 0); err != nil {
		return fmt.Errorf("set CPU shares: %w", err)
	}
	if dir := c.paths["cpuset"]; dir != "" || r.needs("cpuset") {
		for _, f := range []struct{ name, value string }{{"cpuset.cpus", r.CpusetCpus}, {"cpuset.mems", r.CpusetMems}} {
			value := f.value
			if value == "" && dir != "" {
				// Back to the parent's: a new cpuset cgroup's
				// start (inheritCpuset).
				up, err := readString(filepath.Dir(dir), f.name)
				if err != nil {
					return fmt.Errorf("set %s: %w", f.name, err)
				}
				value = up
			}
			if err := setLimit(dir, f.name, value, f.value != ""); err != nil {
				return fmt.Errorf("set %s: %w", f.name, err)
			}
		}
	}
	mem := c.paths["memory"]
	soft := "-1"
	if r.MemoryReservation > 0 {
		soft = strconv.FormatInt(r.MemoryReservation, 10)
	}
	if err := setLimit(mem, "memory.soft_limit_in_bytes", soft, r.MemoryReservation > 0); err != nil {
		return fmt.Errorf("set memory reservation: %w", err)
	}
	// memory.oom_control takes 1 or 0 for oom_kill_disable; reading it
	// gives three keyed lines (ensureOOMKill).
	// Written only to change it: the file's other lines are counters.
	if mem == "" || !exists(mem, "memory.oom_control") {
		if r.OOMKillDisable {
			return errors.New("disable the OOM killer: the cgroup has no memory.oom_control")
		}
		return nil
	}
	m, err := readKeyed(mem, "memory.oom_control")
	if err != nil {
		return fmt.Errorf("check memory.oom_control: %w", err)
	}
	if off := m["oom_kill_disable"] != 0; off != r.OOMKillDisable {
		oom := "0"
		if r.OOMKillDisable {
			oom = "1"
		}
		if err := writeString(mem, "memory.oom_control", oom); err != nil {
			return fmt.Errorf("set the OOM killer: %w", err)
		}
	}
	return nil
}

// setMemoryV1 writes the memory limit and the memory+swap limit
// (swap.go): by default the same value, so that swap cannot be used to
// escape the memory limit.
//
// v1's memory.memsw.limit_in_bytes limits memory plus swap, and the
// kernel insists that it never be below memory.limit_in_bytes: a write
// that would break the rule fails with EINVAL. On a fresh cgroup both are
// "unlimited", so writing memsw first fails and the limit must go first.
// When a limit is raised, it is the other way round. memoryV1Order picks.
//
// memory.memsw.* exists only when the kernel accounts swap
// (CONFIG_MEMCG_SWAP and swapaccount); without it, swap is not ours to
// limit, and only a MemorySwap above Memory is an error.
func setMemoryV1(dir string, r Resources) error {
	value := "-1" // unlimited
	if r.Memory > 0 {
		value = strconv.FormatInt(r.Memory, 10)
	}
	swap, swapBytes, swapLimited := r.memsw()
	if dir == "" || !exists(dir, "memory.memsw.limit_in_bytes") {
		if swapLimited {
			return fmt.Errorf("memory+swap limit %s: this kernel does not account swap (no memory.memsw.limit_in_bytes: boot with swapaccount=1)", swap)
		}
		return setLimit(dir, "memory.limit_in_bytes", value, r.Memory > 0)
	}
	cur, err := readInt(dir, "memory.limit_in_bytes")
	if err != nil {
		return err
	}
	for _, file := range memoryV1Order(cur, swapBytes) {
		v := value
		if file == "memory.memsw.limit_in_bytes" {
			v = swap
		}
		if err := writeString(dir, file, v); err != nil {
			return err
		}
	}
	return nil
}

// memoryV1Order returns the order in which to write memory.limit_in_bytes
// and memory.memsw.limit_in_bytes so that memsw >= limit holds after each
// write. cur is the current memory.limit_in_bytes (memsw is always >= cur,
// as the kernel guarantees); swap is the memsw to be written, never below
// the new limit.
func memoryV1Order(cur, swap int64) []string {
	if swap > cur {
		// Raising: lift the outer (memsw) bound first.
		return []string{"memory.memsw.limit_in_bytes", "memory.limit_in_bytes"}
	}
	// Lowering (or a fresh, unlimited cgroup): the inner limit first.
	return []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}
}

// unlimitedV1 is the threshold above which a v1 byte count means "no
// limit": the kernel shows "unlimited" as the largest int64 rounded down to
// a page (9223372036854771712 with 4 KiB pages), a number no real limit
// comes near.
const unlimitedV1 = 1 << 62

func (c *Cgroup) statsV1() (Stats, error) {
	var s Stats
	cpu, err := optInt(c.paths["cpuacct"], "cpuacct.usage") // nanoseconds
	if err != nil {
		return Stats{}, err
	}
	s.CPUUsage = time.Duration(cpu)
	mem, pids := c.paths["memory"], c.paths["pids"]
	for _, f := range []struct {
		dir, name string
		dst       *int64
	}{
		{mem, "memory.usage_in_bytes", &s.MemoryUsage},
		{mem, "memory.max_usage_in_bytes", &s.MemoryPeak},
		{mem, "memory.limit_in_bytes", &s.MemoryLimit},
		{pids, "pids.current", &s.Pids},
		{pids, "pids.max", &s.PidsLimit},
	} {
		if *f.dst, err = optInt(f.dir, f.name); err != nil {
			return Stats{}, err
		}
	}
	if s.MemoryLimit < 0 || s.MemoryLimit >= unlimitedV1 {
		s.MemoryLimit = 0
	}
	if s.MemoryStat, err = optKeyed(mem, "memory.stat"); err != nil {
		return Stats{}, err
	}
	// The throttle file counts every I/O the cgroup issued, whatever the
	// I/O scheduler: blkio.io_service_bytes only counts with CFQ/BFQ.
	// Lines are "8:0 Read 4096"; "Total" lines and the final one are sums.
	if s.IO, err = readIO(c.paths["blkio"], "blkio.throttle.io_service_bytes_recursive", func(fields []string, d *DeviceIO) {
		if len(fields) != 3 {
			return
		}
		n, _ := strconv.ParseInt(fields[2], 10, 64)
		switch fields[1] {
		case "Read":
			d.Read += n
		case "Write":
			d.Write += n
		}
	}); err != nil {
		return Stats{}, err
	}
	return s, nil
}

// unifiedKey is a hybrid host's cgroup2 directory of the container in
// Cgroup.paths: no controller has that name.
const unifiedKey = "unified"
