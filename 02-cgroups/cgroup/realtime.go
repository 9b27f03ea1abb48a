package cgroup

import (
	"errors"
	"fmt"
	"strconv"
)

// Real-time CPU time
//
// A process under a real-time policy (SCHED_FIFO, SCHED_RR; chrt(1))
// runs before every ordinary process, so a busy loop at real-time
// priority would take a CPU from the rest of the machine for good.
// The kernel therefore gives real-time processes a budget: the root
// cgroup's cpu.rt_runtime_us of every cpu.rt_period_us (950000 of
// 1000000 by default: the last 5% is left to the others). With
// CONFIG_RT_GROUP_SCHED the budget is handed down the v1 cpu tree, and
// a cgroup whose budget is 0, as every new one's is, cannot run a
// real-time process at all (sched_setscheduler fails with EPERM).
//
//	/sys/fs/cgroup/cpu/cpu.rt_runtime_us              950000   the host's
//	/sys/fs/cgroup/cpu/berth/cpu.rt_runtime_us         100000   given by the host's admin (dockerd: --cpu-rt-runtime)
//	/sys/fs/cgroup/cpu/berth/web/cpu.rt_runtime_us      50000   docker run --cpu-rt-runtime 50000
//
// The children's budgets may not add up to more than their parent's:
// the kernel refuses the write (EINVAL). New writes the container's own
// files only; giving the parent a budget is the host's decision, as it
// is dockerd's daemon-wide --cpu-rt-runtime.
//
// v2 has no such files: real-time processes run only in the root
// cgroup there, and New refuses the fields by name.

// ErrNoRealtimeV2 refuses CPURealtimeRuntime and CPURealtimePeriod on
// cgroup v2.
var ErrNoRealtimeV2 = errors.New("real-time CPU time (cpu.rt_runtime_us, cpu.rt_period_us) cannot be set on cgroup v2")

// validateRealtime is dockerd's check, in its words.
func (r Resources) validateRealtime() error {
	if r.CPURealtimeRuntime < -1 {
		return fmt.Errorf("real-time runtime %d: must not be negative (-1 means unlimited)", r.CPURealtimeRuntime)
	}
	if r.CPURealtimePeriod != 0 && r.CPURealtimeRuntime > int64(r.CPURealtimePeriod) {
		return fmt.Errorf("cpu-rt-runtime %d cannot be higher than cpu-rt-period %d", r.CPURealtimeRuntime, r.CPURealtimePeriod)
	}
	return nil
}

// setRealtimeV1 writes the real-time period and runtime that are set
// (0 leaves the file as it is). The kernel checks the runtime against
// the period in force, so a period shorter than the current runtime
// goes after the runtime, any other before it.
func setRealtimeV1(dir string, r Resources) error {
	if r.CPURealtimePeriod == 0 && r.CPURealtimeRuntime == 0 {
		return nil
	}
	period := func() error {
		if r.CPURealtimePeriod == 0 {
			return nil
		}
		return setLimit(dir, "cpu.rt_period_us", strconv.FormatUint(r.CPURealtimePeriod, 10), true)
	}
	runtime := func() error {
		if r.CPURealtimeRuntime == 0 {
			return nil
		}
		return setLimit(dir, "cpu.rt_runtime_us", strconv.FormatInt(r.CPURealtimeRuntime, 10), true)
	}
	order := []func() error{period, runtime}
	if cur, err := readInt(dir, "cpu.rt_runtime_us"); err == nil && r.CPURealtimePeriod != 0 && int64(r.CPURealtimePeriod) < cur {
		order = []func() error{runtime, period}
	}
	for _, f := range order {
		if err := f(); err != nil {
			return fmt.Errorf("set real-time CPU time: %w (CONFIG_RT_GROUP_SCHED, and room in the parent's cpu.rt_runtime_us?)", err)
		}
	}
	return nil
}
