package cgroup

import (
	"fmt"
	"math"
	"runtime"
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
	return r.Memory != 0 || r.CPUs != 0 || r.PidsMax != 0
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
	return int64(math.Round(cpus * CPUPeriod))
}

// validate rejects values the kernel would refuse, before anything is
// created, so a bad limit cannot leave a half-built cgroup behind.
func (r Resources) validate() error {
	if r.Memory < 0 {
		return fmt.Errorf("memory limit %d: must not be negative (0 means unlimited)", r.Memory)
	}
	if r.Memory > 0 && r.Memory < MinMemory {
		return fmt.Errorf("memory limit %d bytes: minimum memory limit allowed is 6MB", r.Memory)
	}
	if math.IsNaN(r.CPUs) || math.IsInf(r.CPUs, 0) || r.CPUs < 0 {
		return fmt.Errorf("CPU limit %v: must be a positive number (0 means unlimited)", r.CPUs)
	}
	if r.CPUs > 0 && quota(r.CPUs) < minQuota {
		return fmt.Errorf("CPU limit %v: the smallest CPU limit is 0.01", r.CPUs)
	}
	if r.PidsMax < 0 {
		return fmt.Errorf("pids limit %d: must not be negative (0 means unlimited)", r.PidsMax)
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
		return r.Memory > 0
	case "cpu":
		return r.CPUs > 0
	case "pids":
		return r.PidsMax > 0
	case "devices":
		// Only a policy that restricts nothing can do without it.
		w, err := devicePolicy(r.devices())
		return err != nil || !w.allowAll || len(w.exceptions) > 0
	}
	return false
}
