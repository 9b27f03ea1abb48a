package cgroup

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Resources are the limits of one container. A zero field means
// "unlimited", so Resources{} puts a process in a cgroup (to account for
// it and to kill it cleanly later) without restricting it.
type Resources struct {
	Memory  int64   // bytes; 0 = unlimited. Swap is not allowed on top.
	CPUs    float64 // cores' worth of CPU time; 0.5 = half a core, 0 = unlimited
	PidsMax int64   // most tasks (processes and threads) at once; 0 = unlimited
	// CPUShares is the container's weight against its siblings when
	// the CPUs are busy (docker run --cpu-shares): 1024 is the
	// default, 512 half as much, 2 to 262144; 0 = the default. Unlike
	// CPUs it limits nothing on an idle machine.
	CPUShares uint64
	// CpusetCpus and CpusetMems are the CPUs and memory nodes the
	// container may run on ("0-2,4"; --cpuset-cpus, --cpuset-mems);
	// "" = its parent's.
	CpusetCpus, CpusetMems string
	// MemoryReservation is a soft limit in bytes (--memory-reservation):
	// under memory pressure the kernel reclaims from cgroups above
	// theirs first. 0 = none.
	MemoryReservation int64
	// OOMKillDisable: a process that hits Memory waits for memory
	// instead of being killed (--oom-kill-disable). v1 only: v2 has
	// no such switch, and New refuses it there.
	OOMKillDisable bool
	// MemorySwap limits memory plus swap together, in bytes, as v1
	// counts it and docker run --memory-swap takes it: at least Memory,
	// without which it means nothing. 0 = no swap at all (memory plus
	// swap = Memory), berth's own default; -1 = swap unlimited.
	// DockerSwap is Docker's default, twice Memory (swap.go).
	MemorySwap int64
	// Swappiness (0..100) is how readily the kernel swaps the cgroup's
	// pages out rather than drop its page cache (--memory-swappiness);
	// nil = the parent's. v1 only.
	Swappiness *uint64
	// KernelTCP limits the memory of the cgroup's TCP buffers, in bytes
	// (v1's memory.kmem.tcp.limit_in_bytes; an OCI config's
	// memory.kernelTCP); 0 = the parent's, -1 = unlimited. v1 only: v2
	// counts TCP buffers in memory.max with the rest.
	KernelTCP int64
	// CPUPeriod is the CFS period in microseconds over which CPUs is
	// measured (--cpu-period, 1000..1000000); 0 = CPUPeriod, 100 ms.
	CPUPeriod uint64
	// CPURealtimeRuntime and CPURealtimePeriod give the cgroup that many
	// microseconds of real-time scheduling per period (--cpu-rt-runtime,
	// --cpu-rt-period); 0 = the kernel's (none, and 1 s). v1 only.
	CPURealtimeRuntime int64
	CPURealtimePeriod  uint64
	// BlkioWeight (10..1000) is the container's share of block I/O
	// against its siblings', BlkioWeightDevice the same for one device;
	// the four throttles cap bytes or operations per second on one
	// device each (--blkio-weight, --device-read-bps, ...). io.go.
	BlkioWeight         uint16
	BlkioWeightDevice   []WeightDevice
	ReadBps, WriteBps   []ThrottleDevice
	ReadIOPS, WriteIOPS []ThrottleDevice
	// HugetlbLimits cap the huge pages of each size the container may
	// use, in bytes. hugetlb.go.
	HugetlbLimits []HugetlbLimit
	// NetClassID tags the container's packets for tc and iptables
	// (net_cls.classid); NetPriorities set their priority per interface
	// (net_prio.ifpriomap). v1 only: v2 has no such controllers.
	NetClassID    uint32
	NetPriorities []NetPriority
	// Unified are v2 interface files written verbatim, after the rest
	// ("memory.high": "1G"): what this struct has no field for. v2 only.
	Unified map[string]string
	// Devices is the device policy: which device nodes the container
	// may open or make. nil means DefaultDevices, Docker's, so that a
	// container is confined unless someone says otherwise;
	// AllowAllDevices lifts it (--privileged). New applies it; Update
	// leaves it alone (docker update does not change devices).
	Devices []DeviceRule
}

// devices returns the policy in force: Devices, or DefaultDevices.
func (r Resources) devices() []DeviceRule {
	if r.Devices == nil {
		return DefaultDevices()
	}
	return r.Devices
}

// limited reports whether r sets any of the limits Update writes.
func (r Resources) limited() bool {
	return r.Memory != 0 || r.CPUs != 0 || r.PidsMax != 0 || r.CPUShares != 0 ||
		r.CpusetCpus != "" || r.CpusetMems != "" || r.MemoryReservation != 0 || r.OOMKillDisable ||
		r.MemorySwap != 0 || r.Swappiness != nil || r.KernelTCP != 0 || r.CPUPeriod != 0 || r.CPURealtimeRuntime != 0 ||
		r.CPURealtimePeriod != 0 || r.needs("blkio") || r.needs("hugetlb") || r.needs("net_cls") ||
		r.needs("net_prio") || len(r.Unified) > 0
}

// Docker's bounds of --cpu-shares, which are the kernel's for v1's
// cpu.shares (v2's cpu.weight is converted from it: sharesToWeight).
const (
	MinCPUShares = 2
	MaxCPUShares = 262144
)

// sharesToWeight converts v1 CPU shares (2..262144) to a v2 cpu.weight
// (1..10000), as runc 1.1 does, linearly: 2 is 1, 262144 is 10000, and
// Docker's default 1024 is 39 (v2's own default is 100, so an explicit
// --cpu-shares 1024 is not quite "nothing asked" on v2: as under runc).
func sharesToWeight(shares uint64) uint64 {
	return 1 + (shares-2)*9999/262142
}

// MinMemory is the smallest memory limit accepted: 6 MiB, Docker's rule.
// Below that the runtime, the shell and the dynamic loader of a typical
// container do not fit, so the first process is OOM-killed before it does
// anything and the user sees a confusing exit code 137 instead of an error.
const MinMemory = 6 << 20

// CPUPeriod is the scheduler period, in microseconds, used to express a
// CPU limit. The CFS bandwidth controller grants a cgroup "quota"
// microseconds of CPU time per "period": 50000 per 100000 is half a core,
// 200000 per 100000 is two full cores. 100 ms is the kernel's default
// period and the one Docker uses.
const CPUPeriod = 100000

// minQuota is the kernel's smallest CFS quota (1 ms); a smaller write to
// cpu.max or cpu.cfs_quota_us fails with EINVAL. With a 100 ms period
// that is 0.01 CPU.
const minQuota = 1000

// quota converts a CPU count to microseconds per CPUPeriod.
func quota(cpus float64) int64 {
	return quotaPer(cpus, CPUPeriod)
}

// quotaPer converts a CPU count to microseconds per period.
func quotaPer(cpus float64, period uint64) int64 {
	return int64(math.Round(cpus * float64(period)))
}

// period is the CFS period in force: CPUPeriod unless r names one.
func (r Resources) period() uint64 {
	if r.CPUPeriod == 0 {
		return CPUPeriod
	}
	return r.CPUPeriod
}

// The kernel's bounds of cpu.cfs_period_us and cpu.max's period: 1 ms
// to 1 s (Docker's --cpu-period takes the same).
const (
	MinCPUPeriod = 1000
	MaxCPUPeriod = 1000000
)

// validate rejects values the kernel would refuse, before anything is
// created, so a bad limit cannot leave a half-built cgroup behind.
func (r Resources) validate() error {
	if r.Memory < 0 {
		return fmt.Errorf("memory limit %d: must not be negative (0 means unlimited)", r.Memory)
	}
	// MinMemory is Docker's rule, checked where a user types a limit
	// (ParseMemory, the daemon); the kernel takes less, and so does an
	// OCI runtime (runc), so New does too.
	if math.IsNaN(r.CPUs) || math.IsInf(r.CPUs, 0) || r.CPUs < 0 {
		return fmt.Errorf("CPU limit %v: must be a positive number (0 means unlimited)", r.CPUs)
	}
	if r.CPUPeriod != 0 && (r.CPUPeriod < MinCPUPeriod || r.CPUPeriod > MaxCPUPeriod) {
		return fmt.Errorf("CPU period %d: the kernel takes %d to %d microseconds", r.CPUPeriod, MinCPUPeriod, MaxCPUPeriod)
	}
	if r.CPUs > 0 && quotaPer(r.CPUs, r.period()) < minQuota {
		return fmt.Errorf("CPU limit %v: the smallest CPU quota is 1 ms per period (0.01 CPU per 100 ms)", r.CPUs)
	}
	if err := r.validateMore(); err != nil {
		return err
	}
	if r.PidsMax < 0 {
		return fmt.Errorf("pids limit %d: must not be negative (0 means unlimited)", r.PidsMax)
	}
	if r.CPUShares != 0 && (r.CPUShares < MinCPUShares || r.CPUShares > MaxCPUShares) {
		return fmt.Errorf("CPU shares %d: the allowed range is %d to %d", r.CPUShares, MinCPUShares, MaxCPUShares)
	}
	for _, set := range []string{r.CpusetCpus, r.CpusetMems} {
		if _, err := ParseSet(set); err != nil {
			return err
		}
	}
	if r.MemoryReservation < 0 {
		return fmt.Errorf("memory reservation %d: must not be negative (0 means none)", r.MemoryReservation)
	}
	if _, err := devicePolicy(r.devices()); err != nil {
		return err
	}
	return nil
}

// memoryUnits maps a lower-cased size suffix to its multiplier. Like
// Docker, "k", "kb" and "kib" all mean 1024: nobody limits a container's
// memory in powers of ten.
var memoryUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// ParseMemory parses a memory limit as a user types it on the command
// line: a number of bytes ("1048576") or a number with a binary unit
// ("512k", "32m", "1.5g", "2GB"; case does not matter). It rejects empty,
// negative and malformed values, and limits below MinMemory.
func ParseMemory(s string) (int64, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	// Split "1.5gb" into "1.5" and "gb".
	end := strings.IndexFunc(in, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		end = len(in)
	}
	num, unit := in[:end], in[end:]
	mult, ok := memoryUnits[unit]
	if num == "" || !ok || strings.Count(num, ".") > 1 || num == "." {
		return 0, fmt.Errorf("invalid memory limit %q: want a size such as 64m, 1g or 1048576", s)
	}

	var bytes int64
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("invalid memory limit %q: too large", s)
		}
		bytes = n * mult
	} else {
		// "1.5g": fractions are handy for the larger units. Go through
		// float64 and round down to whole bytes.
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid memory limit %q: %w", s, err)
		}
		v := f * float64(mult)
		if v >= math.MaxInt64 {
			return 0, fmt.Errorf("invalid memory limit %q: too large", s)
		}
		bytes = int64(v)
	}
	if bytes < MinMemory {
		return 0, fmt.Errorf("memory limit %q: minimum memory limit allowed is 6MB", s)
	}
	return bytes, nil
}

// ParseCPUs parses a CPU limit such as "0.5" or "2": how many cores' worth
// of CPU time the container may use. It must lie between 0.01 (the
// kernel's 1 ms minimum quota per 100 ms period) and the number of CPUs
// this process may run on: a larger quota would be accepted by the kernel
// but could never be used up, which is almost certainly a typo.
func ParseCPUs(s string) (float64, error) {
	n := runtime.NumCPU()
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("invalid CPU limit %q: want a number of CPUs such as 0.5 or 2", s)
	}
	if quota(f) < minQuota || f > float64(n) {
		return 0, fmt.Errorf("CPU limit %q: range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", s, n, n)
	}
	return f, nil
}

// ParsePidsLimit parses the most tasks (processes plus threads) a
// container may have at once. It must be a whole number >= 1. Docker also
// takes 0 and -1 for "unlimited"; here unlimited is expressed by not
// passing the flag, so a 0 is most likely a mistake.
func ParsePidsLimit(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid pids limit %q: want a whole number such as 64", s)
	}
	if n < 1 {
		return 0, fmt.Errorf("pids limit %q: must be at least 1", s)
	}
	return n, nil
}

// needs reports whether r sets a limit that controller ctrl enforces, so
// the cgroup cannot do without that controller.
func (r Resources) needs(ctrl string) bool {
	switch ctrl {
	case "memory":
		return r.Memory > 0 || r.MemoryReservation > 0 || r.OOMKillDisable || r.MemorySwap > 0 || r.Swappiness != nil || r.KernelTCP != 0
	case "cpu":
		return r.CPUs > 0 || r.CPUShares > 0 || r.CPUPeriod != 0 || r.CPURealtimeRuntime != 0 || r.CPURealtimePeriod != 0
	case "blkio", "io":
		return r.BlkioWeight != 0 || len(r.BlkioWeightDevice) > 0 || len(r.ReadBps) > 0 ||
			len(r.WriteBps) > 0 || len(r.ReadIOPS) > 0 || len(r.WriteIOPS) > 0
	case "hugetlb":
		return len(r.HugetlbLimits) > 0
	case "net_cls":
		return r.NetClassID != 0
	case "net_prio":
		return len(r.NetPriorities) > 0
	case "cpuset":
		return r.CpusetCpus != "" || r.CpusetMems != ""
	case "pids":
		return r.PidsMax > 0
	case "devices":
		// Only a policy that restricts nothing can do without it.
		w, err := devicePolicy(r.devices())
		return err != nil || !w.allowAll || len(w.exceptions) > 0
	}
	return false
}

// ParseSet parses a list of CPUs or memory nodes as cpuset.cpus takes
// it, "0-2,4" ("" is the empty set), and returns the numbers in it,
// ascending. The kernel's own check comes at the write; this one
// catches a typo at create, with the value in the message.
func ParseSet(s string) ([]int, error) {
	var out []int
	if s == "" {
		return out, nil
	}
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b-a > 1<<16 {
			return nil, fmt.Errorf("invalid format: %s", s)
		}
		for n := a; n <= b; n++ {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// Available are the CPUs and memory nodes the host's root cgroup has,
// as "0-3" strings: what --cpuset-cpus and --cpuset-mems may name
// (dockerd's check, made at create). On v2 the root's effective sets;
// on v1 the cpuset hierarchy's root.
func (h *Hierarchy) Available() (cpus, mems string, err error) {
	dir, suffix := h.Mounts["cpuset"], ""
	if h.Version == V2 {
		dir, suffix = h.Unified, ".effective"
	}
	if dir == "" {
		return "", "", fmt.Errorf("no cpuset controller: the cgroup v1 cpuset hierarchy is not mounted")
	}
	if cpus, err = readString(dir, "cpuset.cpus"+suffix); err == nil {
		mems, err = readString(dir, "cpuset.mems"+suffix)
	}
	if err != nil {
		return "", "", fmt.Errorf("available cpusets: %w", err)
	}
	return cpus, mems, nil
}

// Within reports whether every number of set is in available (both in
// cpuset.cpus's form).
func Within(set, available string) (bool, error) {
	want, err := ParseSet(set)
	if err != nil {
		return false, err
	}
	have, err := ParseSet(available)
	if err != nil {
		return false, err
	}
	for _, n := range want {
		if !slices.Contains(have, n) {
			return false, nil
		}
	}
	return true, nil
}

// validateMore checks the less common controls (swap.go, realtime.go,
// io.go, hugetlb.go, net.go, unified.go).
func (r Resources) validateMore() error {
	for _, check := range []func() error{r.validateSwap, r.validateRealtime, r.validateIO, r.validateHugetlb, r.validateNet, r.validateUnified} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}
