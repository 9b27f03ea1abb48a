package cgroup

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// Tests in this file work on the host's real cgroups. They need root, use
// unique names (packages are tested in parallel), and remove every cgroup
// they create.

const busybox = "/bin/busybox"

func liveHierarchy(t *testing.T) *Hierarchy {
	t.Helper()
	labtest.Privileged(t)
	h, err := System()
	require.NoError(t, err)
	t.Logf("cgroup %v: unified=%q mounts=%v", h.Version, h.Unified, h.Mounts)
	return h
}

// newLive creates a uniquely named cgroup and makes sure it is gone after
// the test.
func newLive(t *testing.T, h *Hierarchy, r Resources) *Cgroup {
	t.Helper()
	c, err := h.New(labtest.Unique("cgtest"), r)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, c.Destroy())
		for _, dir := range c.Dirs() {
			assert.NoDirExists(t, dir)
		}
	})
	return c
}

type proc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
	err    error // from Wait, valid once done is closed
}

// startIn runs script under busybox sh inside cgroup c.
//
// The shell first blocks reading its stdin, and is only let go once it is
// in the cgroup: the "sync pipe" that the package documentation describes.
// Without it the script could allocate or fork before Add, outside the
// limits.
func startIn(t *testing.T, c *Cgroup, script string) *proc {
	t.Helper()
	labtest.Need(t, fileExists(busybox), busybox+" is missing (install busybox-static)")
	p := &proc{cmd: exec.Command(busybox, "sh", "-c", "read go && "+script), done: make(chan struct{})}
	p.cmd.Stderr = &p.stderr
	stdin, err := p.cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // in case the test failed before Destroy
		<-p.done
	})

	require.NoError(t, c.Add(p.cmd.Process.Pid))
	_, err = stdin.Write([]byte("go\n"))
	require.NoError(t, err)
	// A quick script may have run and ended already, and Wait (above)
	// closed the pipe for us: "file already closed" is no failure.
	if err := stdin.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		require.NoError(t, err)
	}
	return p
}

// wait returns the process's Wait error, failing the test after timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("process %d still running after %v", p.cmd.Process.Pid, timeout)
		return nil
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readLive(t *testing.T, dir, name string) string {
	t.Helper()
	s, err := readString(dir, name)
	require.NoError(t, err)
	return s
}

// killedBy asserts that err is the Wait error of a process killed by sig.
func killedBy(t *testing.T, err error, sig syscall.Signal) {
	t.Helper()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	ws, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	assert.True(t, ws.Signaled(), "want death by signal, got %v", err)
	assert.Equal(t, sig, ws.Signal())
}

func TestLiveLimitsReadBack(t *testing.T) {
	h := liveHierarchy(t)
	c := newLive(t, h, Resources{Memory: 32 << 20, CPUs: 0.5, PidsMax: 64})

	check := func(mem, cpu, pids string) {
		t.Helper()
		if h.Version == V2 {
			assert.Equal(t, mem, readLive(t, c.Path(""), "memory.max"))
			assert.Equal(t, cpu+" 100000", readLive(t, c.Path(""), "cpu.max"))
			assert.Equal(t, pids, readLive(t, c.Path(""), "pids.max"))
			return
		}
		dir := c.Path("memory")
		assert.Equal(t, mem, readLive(t, dir, "memory.limit_in_bytes"))
		if exists(dir, "memory.memsw.limit_in_bytes") {
			assert.Equal(t, mem, readLive(t, dir, "memory.memsw.limit_in_bytes"))
		}
		assert.Equal(t, "100000", readLive(t, c.Path("cpu"), "cpu.cfs_period_us"))
		assert.Equal(t, cpu, readLive(t, c.Path("cpu"), "cpu.cfs_quota_us"))
		assert.Equal(t, pids, readLive(t, c.Path("pids"), "pids.max"))
	}
	check("33554432", "50000", "64")

	if h.Version != V2 {
		m, err := readKeyed(c.Path("memory"), "memory.oom_control")
		require.NoError(t, err)
		assert.Zero(t, m["oom_kill_disable"])
		assert.Equal(t, "1", readLive(t, filepath.Dir(c.Path("memory")), "memory.use_hierarchy"))
	}

	// Raising and lowering go through memsw in opposite orders; the
	// kernel rejects the wrong one.
	require.NoError(t, c.Update(Resources{Memory: 64 << 20, CPUs: 1, PidsMax: 10}))
	check("67108864", "100000", "10")
	require.NoError(t, c.Update(Resources{Memory: 16 << 20, CPUs: 0.25, PidsMax: 10}))
	check("16777216", "25000", "10")

	require.NoError(t, c.Update(Resources{}))
	s, err := c.Stats()
	require.NoError(t, err)
	assert.Zero(t, s.MemoryLimit, "unlimited")
	assert.Zero(t, s.PidsLimit, "unlimited")
	if h.Version == V2 {
		assert.Equal(t, "max 100000", readLive(t, c.Path(""), "cpu.max"))
	} else {
		assert.Equal(t, "-1", readLive(t, c.Path("cpu"), "cpu.cfs_quota_us"))
	}
}

// TestLiveMemswOrder shows the kernel rule that setMemoryV1 works around:
// on a fresh v1 cgroup, memsw cannot be brought below the (unlimited)
// memory limit.
func TestLiveMemswOrder(t *testing.T) {
	h := liveHierarchy(t)
	labtest.Need(t, h.Version != V2, "memory.memsw.* is cgroup v1")
	c := newLive(t, h, Resources{})
	dir := c.Path("memory")
	labtest.Need(t, exists(dir, "memory.memsw.limit_in_bytes"), "no swap accounting in this kernel")

	err := writeString(dir, "memory.memsw.limit_in_bytes", "33554432")
	require.ErrorIs(t, err, syscall.EINVAL, "memsw below the memory limit")
	require.NoError(t, writeString(dir, "memory.limit_in_bytes", "33554432"))
	require.NoError(t, writeString(dir, "memory.memsw.limit_in_bytes", "33554432"))
	err = writeString(dir, "memory.limit_in_bytes", "67108864")
	require.ErrorIs(t, err, syscall.EINVAL, "memory limit above memsw")
}

func TestLiveAddProcsLoadDestroy(t *testing.T) {
	h := liveHierarchy(t)
	c := newLive(t, h, Resources{Memory: 64 << 20, PidsMax: 16})

	p := startIn(t, c, "exec "+busybox+" sleep 30")
	pid := p.cmd.Process.Pid
	procs, err := c.Procs()
	require.NoError(t, err)
	assert.Equal(t, []int{pid}, procs)

	// The kernel's own view: /proc/PID/cgroup names our directory.
	own, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	require.NoError(t, err)
	assert.Contains(t, string(own), "/"+DefaultParent+"/"+c.Name()+"\n")

	s, err := c.Stats()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, s.Pids, int64(1))
	assert.Equal(t, int64(64<<20), s.MemoryLimit)
	assert.Equal(t, int64(16), s.PidsLimit)
	t.Logf("stats: %+v", s)

	// A restarted daemon finds the cgroup by name.
	loaded, err := h.Load(c.Name())
	require.NoError(t, err)
	assert.Equal(t, c.Dirs(), loaded.Dirs())
	procs, err = loaded.Procs()
	require.NoError(t, err)
	assert.Equal(t, []int{pid}, procs)

	require.NoError(t, loaded.Destroy())
	killedBy(t, p.wait(t, 10*time.Second), syscall.SIGKILL)
	for _, dir := range c.Dirs() {
		assert.NoDirExists(t, dir)
		assert.DirExists(t, filepath.Dir(dir), "the shared parent stays")
	}
	require.NoError(t, c.Destroy(), "Destroy is idempotent")
	_, err = h.Load(c.Name())
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestLiveDestroyKillsForkingProcesses(t *testing.T) {
	h := liveHierarchy(t)
	c := newLive(t, h, Resources{PidsMax: 64})
	// A shell that keeps starting children: Destroy must keep killing
	// until the cgroup is empty.
	p := startIn(t, c, "while :; do "+busybox+" sleep 30 & "+busybox+" sleep 0.01; done")
	require.Eventually(t, func() bool {
		procs, err := c.Procs()
		return err == nil && len(procs) >= 5
	}, 5*time.Second, 10*time.Millisecond)

	require.NoError(t, c.Destroy())
	killedBy(t, p.wait(t, 10*time.Second), syscall.SIGKILL)
	for _, dir := range c.Dirs() {
		assert.NoDirExists(t, dir)
	}
}

func TestLiveOOMKill(t *testing.T) {
	h := liveHierarchy(t)
	const limit = 32 << 20
	c := newLive(t, h, Resources{Memory: limit})
	killed, err := c.OOMKilled()
	require.NoError(t, err)
	assert.False(t, killed, "a new cgroup has no OOM kills")

	// tail keeps the "last lines" of /dev/zero, which has no newline:
	// its buffer grows until the OOM killer steps in.
	p := startIn(t, c, "exec "+busybox+" tail /dev/zero")
	killedBy(t, p.wait(t, 30*time.Second), syscall.SIGKILL)

	killed, err = c.OOMKilled()
	require.NoError(t, err)
	assert.True(t, killed)

	s, err := c.Stats()
	require.NoError(t, err)
	t.Logf("stats after the OOM kill: %+v", s)
	assert.Greater(t, s.MemoryPeak, int64(limit/2))
	assert.LessOrEqual(t, s.MemoryPeak, int64(limit))
}

func TestLivePidsLimit(t *testing.T) {
	h := liveHierarchy(t)
	const max = 4
	c := newLive(t, h, Resources{PidsMax: max})

	p := startIn(t, c, `i=0; while [ $i -lt 10 ]; do `+busybox+` sleep 30 & i=$((i+1)); done; wait`)
	// pids.events counts the forks refused because of pids.max.
	require.Eventually(t, func() bool {
		ev, err := readKeyed(c.Path("pids"), "pids.events")
		return err == nil && ev["max"] > 0
	}, 5*time.Second, 10*time.Millisecond, "no fork was refused")

	s, err := c.Stats()
	require.NoError(t, err)
	assert.LessOrEqual(t, s.Pids, int64(max))
	procs, err := c.Procs()
	require.NoError(t, err)
	assert.LessOrEqual(t, len(procs), max)

	// (The shell's own "can't fork" message may be cut short by the kill
	// below, so the kernel's pids.events counter above is the evidence.)
	require.NoError(t, c.Destroy())
	_ = p.wait(t, 10*time.Second)
}

func TestLiveCPULimit(t *testing.T) {
	h := liveHierarchy(t)
	const cpus = 0.2
	c := newLive(t, h, Resources{CPUs: cpus})

	start := time.Now()
	startIn(t, c, "while :; do :; done")
	time.Sleep(time.Second)
	s, err := c.Stats()
	elapsed := time.Since(start)
	require.NoError(t, err)
	t.Logf("busy loop under %v CPU: %v of CPU in %v", cpus, s.CPUUsage, elapsed)

	// At most 20 ms per 100 ms period, plus a period of slack. (Only an
	// upper bound: on a loaded machine the loop may get even less.)
	assert.Greater(t, s.CPUUsage, time.Duration(0))
	assert.LessOrEqual(t, s.CPUUsage, time.Duration(cpus*float64(elapsed))+150*time.Millisecond)
}

// TestLiveV2OnHybrid drives the v2 code path on this kind of host's
// "unified" tree. It has no memory, cpu or pids controller (they are bound
// to v1), but creating, joining, listing and destroying (with cgroup.kill)
// work as on a v2-only host.
func TestLiveV2OnHybrid(t *testing.T) {
	sys := liveHierarchy(t)
	labtest.Need(t, sys.Version == Hybrid, "the host is not a v1/v2 hybrid")
	h := &Hierarchy{Version: V2, Unified: sys.Unified}

	_, err := h.New(labtest.Unique("cgtest"), Resources{Memory: 32 << 20})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `controller "memory" is not available`)

	c := newLive(t, h, Resources{})
	assert.True(t, strings.HasPrefix(c.Path(""), sys.Unified+"/"+DefaultParent+"/"))
	p := startIn(t, c, "exec "+busybox+" sleep 30")
	procs, err := c.Procs()
	require.NoError(t, err)
	assert.Equal(t, []int{p.cmd.Process.Pid}, procs)
	own, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/cgroup")
	require.NoError(t, err)
	assert.Contains(t, string(own), "0::/"+DefaultParent+"/"+c.Name()+"\n")

	_, err = c.Stats()
	require.NoError(t, err)
	_, err = c.OOMKilled()
	assert.True(t, errors.Is(err, fs.ErrNotExist), "no memory controller, no memory.events: %v", err)

	require.NoError(t, c.Destroy())
	killedBy(t, p.wait(t, 10*time.Second), syscall.SIGKILL)
	assert.NoDirExists(t, c.Path(""))
}
