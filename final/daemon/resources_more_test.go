package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// swapScript prints a container's memory, swap and swappiness as its own
// cgroup files say them, v1 or v2.
const swapScript = `r() { for f in "$@"; do if [ -f "$f" ]; then cat "$f"; return; fi; done; echo none; }
echo mem $(r /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max)
echo memsw $(r /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/memory.swap.max)
echo swappiness $(r /sys/fs/cgroup/memory/memory.swappiness)`

// hostSwap is inspect's view of them.
const hostSwap = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{json .HostConfig.MemorySwappiness}}"

// TestSameAsDockerd_Swap runs -m alone (Docker's default swap: as much
// as memory), --memory-swap with and without -1, --memory-swappiness,
// docker update of the swap (at once, kept by a restart), and dockerd's
// refusals, against berthd and a private dockerd, and compares the
// container's cgroup files and inspect.
func TestSameAsDockerd_Swap(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		got = append(got, must("run", "--rm", "-m", "64m", "busybox", "sh", "-c", swapScript))
		got = append(got, must("run", "--rm", "-m", "64m", "--memory-swap", "192m", "--memory-swappiness", "10", "busybox", "sh", "-c", swapScript))
		got = append(got, must("run", "--rm", "-m", "64m", "--memory-swap", "-1", "busybox", "sh", "-c", swapScript))
		got = append(got, must("run", "--rm", "-m", "64m", "--memory-swap", "64m", "busybox", "sh", "-c", swapScript))
		must("run", "-d", "--name", "sw-run", "-m", "64m", "busybox", "sleep", "1000")
		must("create", "--name", "sw-idle", "-m", "64m", "--memory-swap", "96m", "--memory-swappiness", "0", "busybox", "true")
		must("create", "--name", "sw-idle-nomem", "busybox", "true")
		got = append(got, must("inspect", "-f", hostSwap, "sw-run"), must("inspect", "-f", hostSwap, "sw-idle"))
		must("update", "--memory-swap", "256m", "sw-run")
		got = append(got, must("exec", "sw-run", "sh", "-c", swapScript), must("inspect", "-f", hostSwap, "sw-run"))
		// Raised together: the kernel's order (memsw first) is berth's
		// business; the container sees both.
		must("update", "-m", "128m", "--memory-swap", "512m", "sw-run")
		got = append(got, must("exec", "sw-run", "sh", "-c", swapScript))
		must("restart", "-t", "0", "sw-run")
		got = append(got, must("exec", "sw-run", "sh", "-c", swapScript), must("inspect", "-f", hostSwap, "sw-run"))

		for _, args := range [][]string{
			{"create", "-m", "64m", "--memory-swap", "32m", "busybox", "true"},
			{"create", "--memory-swap", "64m", "busybox", "true"},
			{"create", "--memory-swappiness", "101", "busybox", "true"},
			{"update", "-m", "600m", "sw-run"},       // above the memory+swap limit in force
			{"update", "-m", "64m", "sw-idle-nomem"}, // its memory+swap limit is 0
		} {
			_, err := e.run(args...)
			got = append(got, refusedBy(err))
		}
		// Below the memory limit: dockerd passes it on and runc's write
		// fails (EINVAL); berthd refuses it in dockerd's create words.
		// Both refuse, and nothing changes.
		_, err := e.run("update", "--memory-swap", "64m", "sw-run")
		require.Error(t, err, e.name)
		if e.name == "berthd" {
			assert.Contains(t, err.Error(), "Minimum memoryswap limit should be larger than memory limit")
		}
		got = append(got, must("inspect", "-f", hostSwap, "sw-run"))
		must("rm", "-f", "sw-run", "sw-idle", "sw-idle-nomem")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// TestSameAsDockerd_CPUPeriod: --cpu-period with --cpu-quota, alone, and
// their update, as the container's cgroup files and inspect say them.
func TestSameAsDockerd_CPUPeriod(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		got = append(got, must("run", "--rm", "--cpu-period", "50000", "--cpu-quota", "25000", "busybox", "sh", "-c", limitsScript))
		got = append(got, must("run", "--rm", "--cpu-period", "20000", "busybox", "sh", "-c", limitsScript))
		must("run", "-d", "--name", "cp-run", "--cpu-period", "50000", "--cpu-quota", "25000", "busybox", "sleep", "1000")
		got = append(got, must("inspect", "-f", hostLimits, "cp-run"))
		must("update", "--cpu-period", "40000", "cp-run")
		got = append(got, must("exec", "cp-run", "sh", "-c", limitsScript), must("inspect", "-f", hostLimits, "cp-run"))
		must("update", "--cpu-quota", "80000", "cp-run")
		must("restart", "-t", "0", "cp-run")
		got = append(got, must("exec", "cp-run", "sh", "-c", limitsScript), must("inspect", "-f", hostLimits, "cp-run"))
		for _, args := range [][]string{
			{"create", "--cpu-period", "999", "busybox", "true"},
			{"create", "--cpu-period", "1000001", "busybox", "true"},
			{"create", "--cpu-quota", "999", "busybox", "true"},
			{"update", "--cpu-period", "500", "cp-run"},
		} {
			_, err := e.run(args...)
			got = append(got, refusedBy(err))
		}
		must("rm", "-f", "cp-run")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// rtScript prints the container's real-time budget.
const rtScript = `echo rt $(cat /sys/fs/cgroup/cpu/cpu.rt_runtime_us /sys/fs/cgroup/cpu/cpu.rt_period_us 2>/dev/null || echo none)`

// TestSameAsDockerd_Realtime: --cpu-rt-runtime and --cpu-rt-period, and
// their update. A container's real-time budget comes out of its
// parent's, which is 0 in a new cgroup: dockerd gives its parent one
// with its own --cpu-rt-runtime; the test gives berthd's parent the same
// by hand (berthd has no such daemon option).
func TestSameAsDockerd_Realtime(t *testing.T) {
	labtest.Privileged(t)
	h, err := cgroup.System()
	require.NoError(t, err)
	labtest.Need(t, h.Version != cgroup.V2 && h.Mounts["cpu"] != "", "real-time CPU time is a cgroup v1 control")
	_, err = os.Stat(filepath.Join(h.Mounts["cpu"], "cpu.rt_runtime_us"))
	labtest.Need(t, err == nil, "the kernel has no CONFIG_RT_GROUP_SCHED")

	l := newLab(t)
	parent := filepath.Join(h.Mounts["cpu"], DefaultCgroupParent(l.opts.DataRoot))
	if err := os.Mkdir(parent, 0o755); err != nil {
		require.ErrorIs(t, err, os.ErrExist)
	}
	require.NoError(t, os.WriteFile(filepath.Join(parent, "cpu.rt_runtime_us"), []byte("20000"), 0))
	engines := sideBySide(t, l, labtest.StartDockerd(t, "--cpu-rt-runtime=20000"))
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		var got []string
		got = append(got, must("run", "--rm", "--cpu-rt-runtime", "5000", "--cpu-rt-period", "500000", "busybox", "sh", "-c", rtScript))
		must("run", "-d", "--name", "rt-run", "--cpu-rt-runtime", "5000", "busybox", "sleep", "1000")
		got = append(got, must("inspect", "-f", "{{.HostConfig.CpuRealtimeRuntime}} {{.HostConfig.CpuRealtimePeriod}}", "rt-run"))
		must("update", "--cpu-rt-runtime", "8000", "rt-run")
		got = append(got, must("inspect", "-f", "{{.HostConfig.CpuRealtimeRuntime}} {{.HostConfig.CpuRealtimePeriod}}", "rt-run"))
		// dockerd 20.10 records the update but does not pass it to the
		// running container (its update to containerd has no real-time
		// fields): the cgroup still says 5000 until a restart. berthd
		// writes it at once. After a restart both say 8000.
		live := must("exec", "rt-run", "sh", "-c", rtScript)
		if e.name == "berthd" {
			assert.Equal(t, "rt 8000 1000000\n", live)
		}
		must("restart", "-t", "0", "rt-run")
		got = append(got, must("exec", "rt-run", "sh", "-c", rtScript))
		_, err := e.run("create", "--cpu-rt-runtime", "2000000", "--cpu-rt-period", "1000000", "busybox", "true")
		got = append(got, daemonError(err))
		must("rm", "-f", "rt-run")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// blkioScript prints the container's block I/O throttles.
const blkioScript = `cd /sys/fs/cgroup/blkio 2>/dev/null || exit 0
for f in read_bps write_bps read_iops write_iops; do echo $f $(cat blkio.throttle.${f}_device); done`

// TestSameAsDockerd_Blkio: the four device throttles, by path, as the
// container's cgroup files and inspect say them; and the weights, where
// this host's I/O scheduler weighs (elsewhere dockerd drops them with a
// warning and berthd refuses them: TestBlkioWeightRefusedWhereNotSupported).
func TestSameAsDockerd_Blkio(t *testing.T) {
	labtest.Privileged(t)
	dev := "/dev/vda"
	_, err := os.Stat(dev)
	labtest.Need(t, err == nil, "no /dev/vda on this machine")
	h, err := cgroup.System()
	require.NoError(t, err)
	weighs := h.Supports(cgroup.Resources{BlkioWeight: 300}) == nil
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		args := []string{"run", "--rm", "--device-read-bps", dev + ":1mb", "--device-write-bps", dev + ":2mb",
			"--device-read-iops", dev + ":100", "--device-write-iops", dev + ":200"}
		if weighs {
			args = append(args, "--blkio-weight", "300", "--blkio-weight-device", dev+":400")
		}
		got = append(got, must(append(args, "busybox", "sh", "-c", blkioScript)...))
		must("create", "--name", "io-idle", "--device-read-bps", dev+":1mb", "--device-write-iops", dev+":200", "busybox", "true")
		got = append(got, must("inspect", "-f", "{{json .HostConfig.BlkioDeviceReadBps}} {{json .HostConfig.BlkioDeviceWriteIOps}} {{.HostConfig.BlkioWeight}}", "io-idle"))
		if weighs {
			must("update", "--blkio-weight", "500", "io-idle")
			got = append(got, must("inspect", "-f", "{{.HostConfig.BlkioWeight}}", "io-idle"))
			_, err := e.run("create", "--blkio-weight", "5", "busybox", "true")
			got = append(got, refusedBy(err))
		}
		_, err := e.run("create", "--device-read-bps", "/nonexistent:1mb", "busybox", "true")
		got = append(got, fmt.Sprint(err != nil))
		must("rm", "-f", "io-idle")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// Where the I/O scheduler does not weigh (no blkio.weight, as on this
// project's machines), dockerd drops --blkio-weight with a warning and
// runs the container without it; berthd refuses it by name and creates
// nothing.
func TestBlkioWeightRefusedWhereNotSupported(t *testing.T) {
	labtest.Privileged(t)
	h, err := cgroup.System()
	require.NoError(t, err)
	labtest.Need(t, h.Supports(cgroup.Resources{BlkioWeight: 300}) != nil, "this host's I/O scheduler weighs")
	l := newLab(t)
	for _, flag := range [][]string{{"--blkio-weight", "300"}, {"--blkio-weight-device", "/dev/vda:300"}} {
		_, errOut, code := l.docker("", append(append([]string{"run", "--rm"}, flag...), "busybox", "true")...)
		assert.Equal(t, 125, code, flag[0])
		assert.Contains(t, errOut, flag[0]+" is not supported on this host", flag[0])
	}
	_, errOut, code := l.docker("", "update", "--blkio-weight", "300", "nosuch")
	assert.NotEqual(t, 0, code)
	assert.NotContains(t, errOut, "is not supported: docker update applies")
	assert.Empty(t, strings.TrimSpace(l.ok("ps", "-aq")), "nothing was created")
}

// refusedBy is the daemon's words in a failed docker command's output,
// or the CLI's own when it refused before asking the daemon.
func refusedBy(err error) string {
	msg := daemonError(err)
	if i := strings.Index(msg, "docker: "); i >= 0 && !strings.Contains(msg, "Error response from daemon") {
		msg = msg[i:]
	}
	return msg
}

// TestResourcesLessCommon: the API's fields as chapter 02 gets them,
// and dockerd's refusals in its words.
func TestResourcesLessCommon(t *testing.T) {
	ten, minus := int64(10), int64(-1)
	for _, tc := range []struct {
		name string
		in   container.Resources
		want cgroup.Resources
	}{
		{"swap", container.Resources{Memory: 64 << 20, MemorySwap: 192 << 20}, cgroup.Resources{Memory: 64 << 20, MemorySwap: 192 << 20}},
		{"unlimited swap", container.Resources{Memory: 64 << 20, MemorySwap: -1}, cgroup.Resources{Memory: 64 << 20, MemorySwap: -1}},
		{"swappiness", container.Resources{MemorySwappiness: &ten}, cgroup.Resources{Swappiness: ptrTo(uint64(10))}},
		{"swappiness -1 is not given", container.Resources{MemorySwappiness: &minus}, cgroup.Resources{}},
		{"period and quota", container.Resources{CPUPeriod: 50000, CPUQuota: 25000}, cgroup.Resources{CPUs: 0.5, CPUPeriod: 50000}},
		{"period alone", container.Resources{CPUPeriod: 20000}, cgroup.Resources{CPUPeriod: 20000}},
		{"real time", container.Resources{CPURealtimePeriod: 1000000, CPURealtimeRuntime: 5000}, cgroup.Resources{CPURealtimePeriod: 1000000, CPURealtimeRuntime: 5000}},
		{"blkio weight", container.Resources{BlkioWeight: 300}, cgroup.Resources{BlkioWeight: 300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resources(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, tc := range []struct {
		in   container.Resources
		want string
	}{
		{container.Resources{Memory: 64 << 20, MemorySwap: 32 << 20}, "Minimum memoryswap limit should be larger than memory limit, see usage"},
		{container.Resources{MemorySwappiness: ptrTo(int64(101))}, "Invalid value: 101, valid memory swappiness range is 0-100"},
		{container.Resources{CPUPeriod: 999}, "CPU cfs period can not be less than 1ms"},
		{container.Resources{CPUQuota: 999}, "CPU cfs quota can not be less than 1ms"},
		{container.Resources{NanoCPUs: 1e9, CPUPeriod: 50000}, "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{container.Resources{CPURealtimePeriod: 1000, CPURealtimeRuntime: 2000}, "cpu real-time runtime cannot be higher than cpu real-time period"},
		{container.Resources{BlkioWeight: 5}, "Range of blkio weight is from 10 to 1000"},
		{container.Resources{BlkioDeviceReadBps: []*blkiodev.ThrottleDevice{{Path: "/nonexistent", Rate: 1}}}, "stat /nonexistent"},
		{container.Resources{BlkioDeviceReadBps: []*blkiodev.ThrottleDevice{{Path: "/dev/null", Rate: 1}}}, "/dev/null is not a block device"},
	} {
		_, err := resources(tc.in)
		require.Error(t, err, tc.want)
		assert.True(t, errdefs.IsInvalidArgument(err), "a 400: %v", err)
		assert.Contains(t, err.Error(), tc.want)
	}

	r := container.Resources{Memory: 64 << 20}
	h, err := cgroup.System()
	if err == nil && h.SwapAccounting() {
		assert.Empty(t, dockerSwap(&r))
		assert.Equal(t, int64(128<<20), r.MemorySwap, "-m alone: as much swap again")
	}
	r = container.Resources{Memory: 64 << 20, MemorySwap: -1}
	assert.Empty(t, dockerSwap(&r))
	assert.Equal(t, int64(-1), r.MemorySwap, "given: kept")
}

func ptrTo[T any](v T) *T { return &v }
