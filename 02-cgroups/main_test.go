package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

func TestMain(m *testing.M) { labtest.Main(m, program.Init) }

// runProgram runs the chapter program's command line in-process.
func runProgram(t testing.TB, args ...string) (stdout, stderr string, status int) {
	return labtest.Run(t, program, args...)
}

func TestS12_MemoryLimitEndsInAnOOMKill(t *testing.T) {
	labtest.Privileged(t)
	// tail keeps the current "line" of /dev/zero in memory, and the line
	// never ends: it grows until the limit stops it.
	_, errOut, status := runProgram(t, "run", "--memory", "32m", "--", "/bin/sh", "-c", "tail /dev/zero")
	assert.Equal(t, 137, status, "killed by SIGKILL: 128+9")
	assert.Contains(t, errOut, "out of memory (limit 32MiB)")

	// The same command with room to spare but bounded input is fine.
	out, _, status := runProgram(t, "run", "--memory", "32m", "--", "/bin/sh", "-c", "head -c 1000000 /dev/zero | tail -c 3 | wc -c")
	assert.Equal(t, 0, status)
	assert.Equal(t, "3", strings.TrimSpace(out))
}

// cpuTime is the CPU time of this process's waited-for descendants: a
// container's init and everything it reaped.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// busyShare runs two busy loops for a while and returns the CPU they got,
// in cores: up to 2 on this 2-core machine when nothing limits them.
func busyShare(t *testing.T, flags ...string) float64 {
	t.Helper()
	loop := `timeout 1.5 sh -c 'while :; do :; done'`
	args := append(append([]string{"run"}, flags...), "--", "/bin/sh", "-c", loop+" & "+loop+"; wait")
	before, start := cpuTime(t), time.Now()
	_, errOut, status := runProgram(t, args...)
	wall, used := time.Since(start), cpuTime(t)-before
	require.Equal(t, 0, status, "stderr: %s", errOut)
	return used.Seconds() / wall.Seconds()
}

func TestS12_CPULimitCapsABusyLoopAtItsShare(t *testing.T) {
	labtest.Privileged(t)
	free := busyShare(t)
	capped := busyShare(t, "--cpus", "0.5")
	t.Logf("two busy loops: %.2f cores unlimited, %.2f with --cpus 0.5", free, capped)
	// Other tests may run on the same cores, so how much the loops get
	// depends on the load: more than a core on an idle 2-core machine,
	// maybe less than half a core on a busy one. Only the cap is an
	// upper bound that holds whatever the load, so only it is checked;
	// the unlimited figure is logged to compare by eye.
	assert.LessOrEqual(t, capped, 0.6, "--cpus 0.5 holds both loops to half a core")
}

func TestS12_PidsLimitStopsAForkBomb(t *testing.T) {
	labtest.Privileged(t)
	// A subshell forks sleeps (200 at most, in case the limit fails) until
	// fork fails and the shell gives up. Then the container's processes
	// are counted with a glob, which the shell expands without forking.
	script := `(i=0; while [ $i -lt 200 ]; do sleep 5 & i=$((i+1)); done) 2>/dev/null; set -- /proc/[0-9]*; echo $#`
	out, errOut, status := runProgram(t, "run", "--pids-limit", "16", "--", "/bin/sh", "-c", script)
	require.Equal(t, 0, status, "stderr: %s", errOut)
	n, err := strconv.Atoi(strings.TrimSpace(out))
	require.NoError(t, err, "output: %q", out)
	assert.LessOrEqual(t, n, 16, "the cgroup allows 16 tasks at most")
	assert.GreaterOrEqual(t, n, 12, "the forks up to the limit succeeded")
}

func TestLimitsAreWrittenToTheContainersCgroup(t *testing.T) {
	labtest.Privileged(t)
	h, err := cgroup.System()
	require.NoError(t, err)
	probe, err := h.New(labtest.Unique("probe"), cgroup.Resources{})
	require.NoError(t, err)
	require.NoError(t, probe.Destroy())
	// Where this machine keeps the memory and pids limits of container X.
	memFile, pidsFile := "memory.limit_in_bytes", "pids.max"
	if probe.Version() == cgroup.V2 {
		memFile = "memory.max"
	}
	memDir := filepath.Dir(probe.Path("memory"))
	pidsDir := filepath.Dir(probe.Path("pids"))

	// Inside chapter 02's container the host's cgroupfs is still
	// mounted (chapter 03 hides it), and the hostname is the ID's prefix.
	script := `id=$(hostname); cat ` + memDir + `/$id*/` + memFile + ` ` + pidsDir + `/$id*/` + pidsFile
	out, errOut, status := runProgram(t, "run", "--memory", "64m", "--pids-limit", "20", "--", "/bin/sh", "-c", script)
	require.Equal(t, 0, status, "stderr: %s", errOut)
	assert.Equal(t, []string{"67108864", "20"}, strings.Fields(out))
}

func TestTheCgroupIsRemovedAfterExit(t *testing.T) {
	labtest.Privileged(t)
	out, _, status := runProgram(t, "run", "--pids-limit", "50", "--", "hostname")
	require.Equal(t, 0, status)
	short := strings.TrimSpace(out)
	require.Len(t, short, 12)
	h, err := cgroup.System()
	require.NoError(t, err)
	probe, err := h.New(labtest.Unique("probe"), cgroup.Resources{})
	require.NoError(t, err)
	require.NoError(t, probe.Destroy())
	for _, dir := range probe.Dirs() {
		left, err := filepath.Glob(filepath.Join(filepath.Dir(dir), short+"*"))
		require.NoError(t, err)
		assert.Empty(t, left, "cgroup directories of the finished container")
	}
}

func TestBadLimitsAreRejectedBeforeAnythingIsCreated(t *testing.T) {
	for _, args := range [][]string{
		{"--memory", "-5"},
		{"--memory", "1k"},
		{"--memory", "lots"},
		{"--cpus", "abc"},
		{"--cpus", "0"},
		{"--pids-limit", "0"},
		{"--pids-limit", "x"},
		{"--device-cgroup-rule", "x 1:3 rwm"},
		{"--device-cgroup-rule", "c 1:3"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, status := runProgram(t, append(append([]string{"run"}, args...), "--", "true")...)
			assert.Equal(t, 125, status)
			assert.Empty(t, out)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			assert.Contains(t, errOut, args[0][2:])
		})
	}
}

// hostDevices are nodes of the host's /dev that chapter 02's container
// still sees (chapter 03 gives it a /dev of its own) and that Docker
// refuses to open: the device cgroup must refuse them here too, to root
// with every capability.
var hostDevices = []string{"/dev/kmsg", "/dev/mem", "/dev/tty0", "/dev/vcs", "/dev/hwrng", "/dev/kvm",
	"/dev/loop-control", "/dev/vsock", "/dev/cpu_dma_latency"}

func TestTheDeviceCgroupRefusesWhatMknodMakes(t *testing.T) {
	labtest.Privileged(t)
	dir := t.TempDir()
	kmsg := filepath.Join(dir, "kmsg")
	// CAP_MKNOD lets root make the node; opening it is the cgroup's call.
	// The write is attempted only as an open: if it got through, nothing
	// would reach the host's kernel log.
	script := `mknod ` + kmsg + ` c 1 11 && echo made; ` +
		`(true >` + kmsg + `) 2>&1; ` +
		`true >/dev/null && echo null-ok; ` +
		`for d in ` + strings.Join(hostDevices, " ") + `; do [ -e $d ] && (true <$d) 2>&1; done; true`
	out, errOut, status := runProgram(t, "run", "--", "/bin/sh", "-c", script)
	require.Equal(t, 0, status, "stderr: %s", errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.GreaterOrEqual(t, len(lines), 3, "output: %q", out)
	assert.Equal(t, "made", lines[0])
	assert.Contains(t, lines[1], kmsg+": Operation not permitted")
	assert.Equal(t, "null-ok", lines[2])
	assert.Greater(t, len(lines), 3, "some of the host's devices exist here")
	for _, l := range lines[3:] {
		assert.Contains(t, l, "Operation not permitted", "a host device opened")
	}
	t.Logf("refused: %q", lines)
}

func TestDeviceCgroupRuleAllowsADevice(t *testing.T) {
	labtest.Privileged(t)
	kmsg := filepath.Join(t.TempDir(), "kmsg")
	script := `mknod ` + kmsg + ` c 1 11 && true >` + kmsg + ` && echo opened`
	out, errOut, status := runProgram(t, "run", "--device-cgroup-rule", "c 1:11 w", "--", "/bin/sh", "-c", script)
	require.Equal(t, 0, status, "stderr: %s", errOut)
	assert.Equal(t, "opened", strings.TrimSpace(out))
	// Only w was granted: reading is still refused.
	_, errOut, status = runProgram(t, "run", "--device-cgroup-rule", "c 1:11 w", "--", "/bin/sh", "-c", `true <`+kmsg)
	assert.NotEqual(t, 0, status)
	assert.Contains(t, errOut, "Operation not permitted")
}

// TestUlimitAndOOMScoreAreInherited: init sets --ulimit and
// --oom-score-adj on itself, and the command has them.
func TestUlimitAndOOMScoreAreInherited(t *testing.T) {
	labtest.Privileged(t)
	out, errOut, status := runProgram(t, "run", "--ulimit", "nofile=64:128", "--ulimit", "core=0",
		"--oom-score-adj", "300", "--", "/bin/sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "64\n128\n0\n300\n", out)

	_, errOut, status = runProgram(t, "run", "--ulimit", "nofile=2:1", "--", "/bin/true")
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "ulimit soft limit must be less than or equal to hard limit: 2 > 1")
}
