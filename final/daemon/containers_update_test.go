package daemon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// limitsScript prints a container's limits as its own cgroup files say
// them, from inside, on a cgroup v1 or v2 host.
const limitsScript = `r() { for f in "$@"; do if [ -f "$f" ]; then cat "$f"; return; fi; done; echo none; }
echo mem $(r /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max)
if [ -f /sys/fs/cgroup/cpu.max ]; then echo cpu $(cat /sys/fs/cgroup/cpu.max)
else echo cpu $(r /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us) $(r /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us); fi
echo pids $(r /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max)`

// hostLimits is inspect's view of the limits docker update changes.
const hostLimits = "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.PidsLimit}}"

// TestSameAsDockerd_Update runs docker update of --memory, --cpus and
// --pids-limit against berthd and a private dockerd and compares what
// the container reads in its own cgroup files and what inspect says: for
// a running container (at once), after its restart (kept), for a stopped
// one (at its next start), and dockerd's refusals.
func TestSameAsDockerd_Update(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		must("run", "-d", "--name", "upd-run", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50", "busybox", "sleep", "1000")
		got = append(got, must("exec", "upd-run", "sh", "-c", limitsScript))
		got = append(got, must("update", "--memory", "96m", "--cpus", "1.5", "--pids-limit", "80", "upd-run"))
		got = append(got, must("exec", "upd-run", "sh", "-c", limitsScript))
		got = append(got, must("inspect", "-f", hostLimits, "upd-run"))
		// One limit alone: the others stay.
		must("update", "--pids-limit", "70", "upd-run")
		got = append(got, must("exec", "upd-run", "sh", "-c", limitsScript))
		// Kept by a restart.
		must("restart", "-t", "0", "upd-run")
		got = append(got, must("exec", "upd-run", "sh", "-c", limitsScript))
		got = append(got, must("inspect", "-f", hostLimits, "upd-run"))

		// A stopped container: at its next start. (With a memory
		// limit at create: dockerd 20.10 refuses --memory alone for a
		// container without one, its swap limit being 0, and so does
		// berthd, with its merge: TestSameAsDockerd_Swap.)
		must("create", "--name", "upd-idle", "--memory", "64m", "busybox", "sh", "-c", limitsScript)
		must("update", "--memory", "32m", "--cpu-quota", "25000", "--pids-limit", "20", "upd-idle")
		got = append(got, must("inspect", "-f", hostLimits, "upd-idle"))
		got = append(got, must("start", "-a", "upd-idle"))

		for _, args := range [][]string{
			{"--memory", "4m", "upd-run"},                       // below dockerd's minimum
			{"--cpu-quota", "50000", "upd-run"},                 // NanoCPUs set: conflict
			{"--cpus", "1", "upd-idle"},                         // CPU quota set: conflict
			{"--cpus", "1", "--cpu-period", "50000", "upd-run"}, // both in one request
			{"--cpus", "1", "--cpu-quota", "50000", "upd-run"},
			{"--cpus", "64", "upd-run"}, // more CPUs than the host's
			{"--memory", "64m", "upd-nosuch"},
		} {
			_, err := e.run(append([]string{"update"}, args...)...)
			got = append(got, refusal(err))
		}
		must("rm", "-f", "upd-run", "upd-idle")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// New limits survive a restart of berthd (api.json and the spec keep
// them), and what berthd does not apply is refused by name.
func TestUpdateSurvivesDaemonRestart(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "upd-keep", "--memory", "64m", "busybox", "sleep", "1000")
	l.ok("update", "--memory", "48m", "--pids-limit", "30", "upd-keep")
	l.restart()
	assert.Equal(t, "50331648 0 0 0 30\n", l.ok("inspect", "-f", hostLimits, "upd-keep"))
	l.ok("restart", "-t", "0", "upd-keep")
	out := l.ok("exec", "upd-keep", "sh", "-c", limitsScript)
	assert.Contains(t, out, "mem 50331648\n")
	assert.Contains(t, out, "pids 30\n")

	for _, tc := range []struct{ flag, value, named string }{
		{"--memory-swap", "10m", "Minimum memoryswap limit should be larger than memory limit"},
		{"--cpu-period", "500", "CPU cfs period can not be less than 1ms"},
	} {
		_, errOut, code := l.docker("", "update", tc.flag, tc.value, "upd-keep")
		assert.Equal(t, 1, code, tc.flag)
		assert.Contains(t, errOut, tc.named, tc.flag)
	}
	// A refusal changed nothing.
	require.Equal(t, "50331648 0 0 0 30", strings.TrimSpace(l.ok("inspect", "-f", hostLimits, "upd-keep")))
}

// TestSameAsDockerd_Wait compares the three wait conditions as the
// docker CLI uses them: docker wait (not-running) of a stopped container
// and of one that exits meanwhile, docker run attached (next-exit: its
// exit code is the CLI's), docker run --rm (removed), and the refusal
// for a missing container.
func TestSameAsDockerd_Wait(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		must("create", "--name", "wt-done", "busybox", "sh", "-c", "exit 5")
		must("start", "wt-done")
		got = append(got, must("wait", "wt-done"))
		// Exits once /go exists, which the exec makes: docker wait
		// starts before it, the exit comes after, whatever the timing.
		must("run", "-d", "--name", "wt-run", "busybox", "sh", "-c", "while [ ! -f /go ]; do sleep 0.05; done; exit 7")
		waited := make(chan string, 1)
		go func() { out, _ := e.run("wait", "wt-run", "wt-done"); waited <- out }()
		must("exec", "wt-run", "touch", "/go")
		got = append(got, <-waited)
		// (The CLI's exit code is not compared: the lab's runner keeps
		// its stderr only. The container's is.)
		out, _ := e.run("run", "--name", "wt-fg", "busybox", "sh", "-c", "echo out; exit 3")
		got = append(got, out, must("inspect", "-f", "{{.State.ExitCode}}", "wt-fg"))
		out, _ = e.run("run", "--rm", "--name", "wt-rm", "busybox", "sh", "-c", "echo gone; exit 4")
		got = append(got, out)
		_, err := e.run("wait", "wt-nosuch")
		got = append(got, refusal(err))
		got = append(got, must("ps", "-a", "--format", "{{.Names}}", "--filter", "name=wt-"))
		must("rm", "wt-done", "wt-run", "wt-fg")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}
