package daemon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// weightsScript prints a container's weights as its own cgroup files
// say them, from inside, on a cgroup v1 or v2 host.
const weightsScript = `r() { for f in "$@"; do if [ -f "$f" ]; then cat "$f"; return; fi; done; echo none; }
echo shares $(r /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu.weight)
echo cpus $(r /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset.cpus)
echo mems $(r /sys/fs/cgroup/cpuset/cpuset.mems /sys/fs/cgroup/cpuset.mems)
echo reservation $(r /sys/fs/cgroup/memory/memory.soft_limit_in_bytes /sys/fs/cgroup/memory.low)
echo oom $(grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control || echo none)`

// hostWeights is inspect's view of them.
const hostWeights = "{{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.CpusetMems}} {{.HostConfig.MemoryReservation}} {{.HostConfig.OomKillDisable}}"

// daemonError is the daemon's words in a failed docker command's
// output, without the CLI's own lines around them.
func daemonError(err error) string {
	if err == nil {
		return "no error"
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if _, after, ok := strings.Cut(line, "Error response from daemon: "); ok {
			return longID.ReplaceAllString(after, "ID")
		}
	}
	return err.Error()
}

// TestSameAsDockerd_Weights runs --cpu-shares, --cpuset-cpus,
// --cpuset-mems, --memory-reservation and --oom-kill-disable against
// berthd and a private dockerd and compares what the container reads in
// its own cgroup files, what inspect says, docker update of the weights
// (at once, and kept by a restart), and dockerd's refusals.
func TestSameAsDockerd_Weights(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		got = append(got, must("run", "--rm", "--cpu-shares", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0",
			"--memory-reservation", "20m", "-m", "64m", "--oom-kill-disable", "busybox", "sh", "-c", weightsScript))
		must("run", "-d", "--name", "w-run", "busybox", "sleep", "1000")
		got = append(got, must("inspect", "-f", hostWeights, "w-run"))
		got = append(got, must("update", "--cpu-shares", "256", "--cpuset-cpus", "0", "--memory-reservation", "30m", "w-run"))
		got = append(got, must("exec", "w-run", "sh", "-c", weightsScript))
		got = append(got, must("inspect", "-f", hostWeights, "w-run"))
		// One alone: the others stay; and a restart keeps them.
		must("update", "--cpu-shares", "300", "w-run")
		must("restart", "-t", "0", "w-run")
		got = append(got, must("exec", "w-run", "sh", "-c", weightsScript))
		got = append(got, must("inspect", "-f", hostWeights, "w-run"))

		for _, args := range [][]string{
			{"--cpuset-cpus", "99"},
			{"--cpuset-cpus", "x"},
			{"--cpuset-mems", "7"},
			{"-m", "10m", "--memory-reservation", "20m"},
			{"--memory-reservation", "1m"},
		} {
			_, err := e.run(append(append([]string{"create"}, args...), "busybox", "true")...)
			got = append(got, daemonError(err))
		}
		_, err := e.run("update", "--cpuset-cpus", "99", "w-run")
		got = append(got, daemonError(err))
		must("rm", "-f", "w-run")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// Shares outside runc's range fail dockerd's start; berthd refuses them
// at create, by name, and creates nothing.
func TestWeightsOutOfRangeRefusedAtCreate(t *testing.T) {
	l := newLab(t)
	for _, shares := range []string{"1", "262145", "-5"} {
		_, errOut, code := l.docker("", "create", "--cpu-shares", shares, "busybox", "true")
		assert.Equal(t, 1, code, shares)
		assert.Contains(t, errOut, "--cpu-shares "+shares, shares)
	}
	assert.Empty(t, l.ok("ps", "-aq"), "nothing was created")
}

// dockerd's warning for --oom-kill-disable without a memory limit,
// printed by the docker CLI from both engines.
func TestSameAsDockerd_OOMKillDisableWarning(t *testing.T) {
	results := map[string]string{}
	for _, e := range compareEngines(t) {
		_, err := e.run("run", "--rm", "--oom-kill-disable", "busybox", "sh", "-c", "exit 3")
		require.Error(t, err, e.name)
		for _, line := range strings.Split(err.Error(), "\n") {
			if i := strings.Index(line, "WARNING: OOM"); i >= 0 {
				results[e.name] = line[i:]
			}
		}
	}
	assert.NotEmpty(t, results["dockerd"])
	assert.Equal(t, results["dockerd"], results["berthd"])
}
