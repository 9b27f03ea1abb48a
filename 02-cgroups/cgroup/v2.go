package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// v2Controllers are the controllers a container's v2 cgroup gets.
var v2Controllers = []string{"cpu", "memory", "pids"}

// createV2 makes <Unified>/<parent>/<name> (berth's default parent in
// the picture below).
//
// In v2 a cgroup has only the controllers its parent hands down: a child
// gets memory.max only if "memory" is listed in the parent's
// cgroup.subtree_control. So before the container's directory is made,
// the controllers are enabled down the path, root first:
//
//	/sys/fs/cgroup/cgroup.subtree_control        += cpu memory pids
//	/sys/fs/cgroup/berth/cgroup.subtree_control  += cpu memory pids
//	/sys/fs/cgroup/berth/<name>/                    memory.max cpu.max pids.max
//
// This is where the "no internal processes" rule bites: a cgroup that hands
// controllers down to children may not hold processes itself (only the
// root is exempt). That is why berth's processes live only in the leaves
// and the berth parent always stays empty.
func (h *Hierarchy) createV2(parentName, name string, r Resources) (*Cgroup, []string, error) {
	o := h.sys()
	root := h.Unified
	avail, err := readString(root, "cgroup.controllers")
	if err != nil {
		return nil, nil, fmt.Errorf("list available controllers: %w", err)
	}
	if err := r.v1Only(); err != nil {
		return nil, nil, err
	}
	var want []string
	ctrls := v2Controllers
	for _, ctrl := range []string{"cpuset", "io", "hugetlb"} {
		if r.needs(ctrl) {
			// Only when asked: cpuset is not handed down otherwise,
			// which spares each container the copy of its parent's
			// sets; io and hugetlb are not needed otherwise.
			ctrls = append(slices.Clone(ctrls), ctrl)
		}
	}
	for _, ctrl := range ctrls {
		if slices.Contains(strings.Fields(avail), ctrl) {
			want = append(want, ctrl)
		} else if r.needs(ctrl) {
			// On a hybrid host, for one, the controller is busy in
			// a v1 hierarchy and cannot appear in v2 at the same time.
			return nil, nil, fmt.Errorf("controller %q is not available in %s (it lists %q)",
				ctrl, filepath.Join(root, "cgroup.controllers"), avail)
		}
	}

	if err := enableControllers(root, want); err != nil {
		return nil, nil, err
	}
	parent, err := mkdirParent(o, root, parentName, func(dir string) error { return enableControllers(dir, want) })
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(parent, name)
	if err := o.mkdir(dir); err != nil {
		return nil, nil, fmt.Errorf("create cgroup: %w", err)
	}
	c := &Cgroup{name: name, version: V2, paths: map[string]string{}, ops: o}
	for _, ctrl := range v1Controllers {
		c.paths[ctrl] = dir
	}
	// v2 has no devices controller: the policy is an eBPF program,
	// attached before any process can join.
	if r.needs("devices") {
		w, _ := devicePolicy(r.devices()) // checked by validate
		if err := o.attachDevices(dir, w); err != nil {
			return nil, []string{dir}, fmt.Errorf("set device policy: %w", err)
		}
	}
	return c, []string{dir}, nil
}

// enableControllers makes sure each of want is listed in
// dir/cgroup.subtree_control. It reads the file first and writes only the
// missing ones, all in one write ("+cpu +memory"): usually everything is
// already enabled, and then we do not write at all, which also works for a
// delegated subtree where the file belongs to someone else.
func enableControllers(dir string, want []string) error {
	cur, err := readString(dir, "cgroup.subtree_control")
	if err != nil {
		return fmt.Errorf("enable controllers: %w", err)
	}
	var enabled []string
	for _, f := range strings.Fields(cur) {
		enabled = append(enabled, strings.TrimPrefix(f, "+"))
	}
	var add []string
	for _, ctrl := range want {
		if !slices.Contains(enabled, ctrl) {
			add = append(add, "+"+ctrl)
		}
	}
	if len(add) == 0 {
		return nil
	}
	err = writeString(dir, "cgroup.subtree_control", strings.Join(add, " "))
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("enable controllers: %w (%s holds processes, and a v2 cgroup with processes cannot enable controllers for its children)", err, dir)
	}
	if err != nil {
		return fmt.Errorf("enable controllers: %w", err)
	}
	return nil
}

// updateV2 writes the limits. Unlike v1, memory.swap.max limits swap
// alone (not memory plus swap), so the two files can be written in any
// order; "0" forbids swapping, so the container cannot slip past
// memory.max by pushing its pages out to disk.
func (c *Cgroup) updateV2(r Resources) error {
	if err := r.v1Only(); err != nil {
		return err
	}
	dir := c.Path("memory")

	mem := "max"
	if r.Memory > 0 {
		mem = strconv.FormatInt(r.Memory, 10)
	}
	if err := setLimit(dir, "memory.max", mem, r.Memory > 0); err != nil {
		return fmt.Errorf("set memory limit: %w", err)
	}
	// memory.swap.max exists only with swap accounting; without it there
	// is no swap to forbid, but an allowance of swap cannot be kept.
	swap, limited := r.swapMax()
	if err := setLimit(dir, "memory.swap.max", swap, limited); err != nil {
		return fmt.Errorf("set swap limit: %w", err)
	}

	// cpu.max is "$QUOTA $PERIOD" in microseconds, in one write.
	period := strconv.FormatUint(r.period(), 10)
	cpu := "max " + period
	if r.CPUs > 0 {
		cpu = strconv.FormatInt(quotaPer(r.CPUs, r.period()), 10) + " " + period
	}
	if err := setLimit(dir, "cpu.max", cpu, r.CPUs > 0 || r.CPUPeriod != 0); err != nil {
		return fmt.Errorf("set CPU limit: %w", err)
	}

	pids := "max"
	if r.PidsMax > 0 {
		pids = strconv.FormatInt(r.PidsMax, 10)
	}
	if err := setLimit(dir, "pids.max", pids, r.PidsMax > 0); err != nil {
		return fmt.Errorf("set pids limit: %w", err)
	}
	if err := c.weightsV2(r); err != nil {
		return err
	}
	if err := setIOV2(dir, r); err != nil {
		return err
	}
	if err := setHugetlb(dir, r.HugetlbLimits, "max"); err != nil {
		return err
	}
	// Last: a raw file has the last word over the fields above.
	return setUnified(dir, r.Unified)
}

// v1Only refuses, on v2, the fields only v1 has files for.
func (r Resources) v1Only() error {
	switch {
	case r.OOMKillDisable:
		return ErrNoOOMKillDisable
	case r.Swappiness != nil:
		return ErrNoSwappinessV2
	case r.KernelTCP != 0:
		return ErrNoKernelTCPV2
	case r.CPURealtimeRuntime != 0 || r.CPURealtimePeriod != 0:
		return ErrNoRealtimeV2
	case r.NetClassID != 0 || len(r.NetPriorities) > 0:
		return ErrNoNetV2
	}
	return nil
}

// ErrNoOOMKillDisable is New's and Update's error for OOMKillDisable
// on cgroup v2: v2 has no memory.oom_control, nothing that keeps the
// OOM killer away from a cgroup at its memory.max. (runc warns and
// goes on without it; dockerd 20.10 drops the option with a warning. A
// container run without what its user asked is what berth refuses.)
var ErrNoOOMKillDisable = errors.New("the OOM killer cannot be disabled on cgroup v2 (v2 has no memory.oom_control)")

// weightsV2 is weightsV1 in v2's files: cpu.weight (converted from
// shares as runc converts them), cpuset.cpus and cpuset.mems (written
// only when set: a new cgroup has its parent's), memory.low (the reservation:
// v2's is a protection, where v1's soft limit marks who is reclaimed
// first; runc maps one to the other all the same).
func (c *Cgroup) weightsV2(r Resources) error {
	if r.OOMKillDisable {
		return ErrNoOOMKillDisable
	}
	dir := c.Path("memory")
	weight := "100" // v2's default
	if r.CPUShares > 0 {
		weight = strconv.FormatUint(sharesToWeight(r.CPUShares), 10)
	}
	if err := setLimit(dir, "cpu.weight", weight, r.CPUShares > 0); err != nil {
		return fmt.Errorf("set CPU weight: %w", err)
	}
	for _, f := range []struct{ name, value string }{{"cpuset.cpus", r.CpusetCpus}, {"cpuset.mems", r.CpusetMems}} {
		if f.value == "" {
			continue // the parent's already, unless set before: update keeps a set (as dockerd's merge does)
		}
		if err := setLimit(dir, f.name, f.value, true); err != nil {
			return fmt.Errorf("set %s: %w", f.name, err)
		}
	}
	low := "0"
	if r.MemoryReservation > 0 {
		low = strconv.FormatInt(r.MemoryReservation, 10)
	}
	if err := setLimit(dir, "memory.low", low, r.MemoryReservation > 0); err != nil {
		return fmt.Errorf("set memory reservation: %w", err)
	}
	return nil
}

func (c *Cgroup) statsV2() (Stats, error) {
	dir := c.Path("memory")
	var s Stats
	// cpu.stat is a core file, there even without the cpu controller.
	cpu, err := readKeyed(dir, "cpu.stat")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Stats{}, err
	}
	s.CPUUsage = time.Duration(cpu["usage_usec"]) * time.Microsecond
	for _, f := range []struct {
		name string
		dst  *int64
	}{
		{"memory.current", &s.MemoryUsage},
		{"memory.peak", &s.MemoryPeak}, // Linux 5.19+
		{"memory.max", &s.MemoryLimit},
		{"pids.current", &s.Pids},
		{"pids.max", &s.PidsLimit},
	} {
		if *f.dst, err = optInt(dir, f.name); err != nil {
			return Stats{}, err
		}
	}
	if s.MemoryStat, err = optKeyed(dir, "memory.stat"); err != nil {
		return Stats{}, err
	}
	// io.stat lines are "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 ...".
	if s.IO, err = readIO(dir, "io.stat", func(fields []string, d *DeviceIO) {
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "rbytes":
				d.Read += n
			case "wbytes":
				d.Write += n
			}
		}
	}); err != nil {
		return Stats{}, err
	}
	return s, nil
}
