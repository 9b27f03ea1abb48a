package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests in this file run against the fake cgroupfs of fake_test.go.

var (
	limits  = Resources{Memory: 64 << 20, CPUs: 0.5, PidsMax: 100}
	memOnly = Resources{Memory: 64 << 20}
)

func TestNewV2WritesLimitsAndEnablesControllers(t *testing.T) {
	h, k := newFakeV2(t)
	c, err := h.New("web", limits)
	require.NoError(t, err)

	dir := filepath.Join(k.root, "berth", "web")
	assert.Equal(t, []string{dir}, c.Dirs())
	assert.Equal(t, dir, c.Path("memory"))
	assert.Equal(t, dir, c.Path("pids"))
	assert.Equal(t, V2, c.Version())
	assert.Equal(t, "web", c.Name())

	// Each ancestor hands the controllers down. The fake mkdir creates
	// memory.max only if this happened, so the limit writes below prove
	// the order too.
	assert.Equal(t, "+cpu +memory +pids", k.read(filepath.Join(k.root, "cgroup.subtree_control")))
	assert.Equal(t, "+cpu +memory +pids", k.read(filepath.Join(k.root, "berth", "cgroup.subtree_control")))
	// The container's own cgroup hands nothing down: it holds processes.
	assert.Equal(t, "", k.read(filepath.Join(dir, "cgroup.subtree_control")))

	assert.Equal(t, "67108864", k.read(filepath.Join(dir, "memory.max")))
	assert.Equal(t, "0", k.read(filepath.Join(dir, "memory.swap.max")))
	assert.Equal(t, "50000 100000", k.read(filepath.Join(dir, "cpu.max")))
	assert.Equal(t, "100", k.read(filepath.Join(dir, "pids.max")))
}

func TestNewV2SkipsControllersAlreadyEnabled(t *testing.T) {
	h, k := newFakeV2(t)
	// The kernel lists enabled controllers without "+".
	k.writeFile(filepath.Join(k.root, "cgroup.subtree_control"), "cpuset cpu io memory pids\n")
	c, err := h.New("a", limits)
	require.NoError(t, err)
	assert.Equal(t, "cpuset cpu io memory pids", k.read(filepath.Join(k.root, "cgroup.subtree_control")),
		"nothing to enable, so the file must not be written")

	// A second container reuses the parent as it is.
	k.writeFile(filepath.Join(k.root, "berth", "cgroup.subtree_control"), "cpu memory pids")
	_, err = h.New("b", limits)
	require.NoError(t, err)
	assert.Equal(t, "cpu memory pids", k.read(filepath.Join(k.root, "berth", "cgroup.subtree_control")))
	require.NoError(t, c.Destroy())
}

func TestNewV2PartlyEnabledWritesOnlyMissing(t *testing.T) {
	h, k := newFakeV2(t)
	k.writeFile(filepath.Join(k.root, "cgroup.subtree_control"), "memory")
	_, err := h.New("a", limits)
	require.NoError(t, err)
	assert.Equal(t, "+cpu +pids", k.read(filepath.Join(k.root, "cgroup.subtree_control")))
}

func TestNewV2Unlimited(t *testing.T) {
	h, k := newFakeV2(t)
	c, err := h.New("free", Resources{})
	require.NoError(t, err)
	dir := c.Path("")
	assert.Equal(t, "max", k.read(filepath.Join(dir, "memory.max")))
	assert.Equal(t, "max", k.read(filepath.Join(dir, "memory.swap.max")))
	assert.Equal(t, "max 100000", k.read(filepath.Join(dir, "cpu.max")))
	assert.Equal(t, "max", k.read(filepath.Join(dir, "pids.max")))
}

func TestNewV2WithoutSwapAccounting(t *testing.T) {
	h, k := newFakeV2(t)
	k.swap = false
	c, err := h.New("noswap", limits)
	require.NoError(t, err)
	assert.Equal(t, "67108864", k.read(filepath.Join(c.Path(""), "memory.max")))
	assert.NoFileExists(t, filepath.Join(c.Path(""), "memory.swap.max"))
}

func TestNewV2ControllerNotAvailable(t *testing.T) {
	// As on a hybrid host: memory is bound to v1, so v2 cannot have it.
	h, k := newFakeV2(t)
	k.writeFile(filepath.Join(k.root, "cgroup.controllers"), "cpu pids")

	_, err := h.New("web", Resources{Memory: 64 << 20})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `controller "memory" is not available`)
	assert.NoDirExists(t, filepath.Join(k.root, "berth"), "a refused cgroup leaves nothing behind")

	// Without a memory limit the cgroup is fine, just not accounted.
	c, err := h.New("web", Resources{CPUs: 1})
	require.NoError(t, err)
	assert.Equal(t, "+cpu +pids", k.read(filepath.Join(k.root, "cgroup.subtree_control")))
	assert.NoFileExists(t, filepath.Join(c.Path(""), "memory.max"))
	assert.Equal(t, "100000 100000", k.read(filepath.Join(c.Path(""), "cpu.max")))
}

// On a hybrid host the cgroup2 mount is one more hierarchy to be in
// (runc's containers are): a directory there, joined, found again by
// Load, removed by Destroy and RemoveParent; it limits nothing.
func TestHybridJoinsTheCgroup2Tree(t *testing.T) {
	h, k := newFakeV1(t, "memory", "cpu", "cpuacct", "pids", "cpuset")
	h.Version = Hybrid
	h.Unified = filepath.Join(k.root, "unified")
	require.NoError(t, os.Mkdir(h.Unified, 0o755))
	k.mounts[h.Unified] = nil
	h = h.Under("hybrid-parent")
	c, err := h.New("web", limits)
	require.NoError(t, err)
	dir := filepath.Join(h.Unified, h.Parent, "web")
	assert.Contains(t, c.Dirs(), dir)
	assert.NoFileExists(t, filepath.Join(dir, "memory.limit_in_bytes"), "nothing is limited there")
	_, late := c.ProcsFiles()
	assert.Contains(t, late, filepath.Join(dir, "cgroup.procs"), "an exec joins it too")

	again, err := h.Load("web")
	require.NoError(t, err)
	assert.Equal(t, c.Dirs(), again.Dirs())
	require.NoError(t, again.Destroy())
	assert.NoDirExists(t, dir)
	require.NoError(t, h.RemoveParent())
	assert.NoDirExists(t, filepath.Join(h.Unified, h.Parent))
}

func TestNewV1WritesEachHierarchy(t *testing.T) {
	// The layout of this course's lab machine: one hierarchy each.
	h, k := newFakeV1(t, "memory", "cpu", "cpuacct", "pids", "cpuset")
	h.Version = Hybrid
	c, err := h.New("web", limits)
	require.NoError(t, err)
	assert.Equal(t, Hybrid, c.Version())

	mem := filepath.Join(k.root, "memory", "berth", "web")
	cpu := filepath.Join(k.root, "cpu", "berth", "web")
	acct := filepath.Join(k.root, "cpuacct", "berth", "web")
	pids := filepath.Join(k.root, "pids", "berth", "web")
	devs := filepath.Join(k.root, "devices", "berth", "web")
	cpuset := filepath.Join(k.root, "cpuset", "berth", "web")
	assert.Equal(t, []string{cpu, acct, cpuset, devs, mem, pids}, c.Dirs())
	assert.Equal(t, mem, c.Path("memory"))
	// cpuset limits nothing, but the container is in it (for its
	// cgroup namespace), with the CPUs and memory nodes of the levels
	// above, without which it could not join.
	assert.Equal(t, cpuset, c.Path("cpuset"))
	for _, dir := range []string{filepath.Dir(cpuset), cpuset} {
		assert.Equal(t, "0-3", k.read(filepath.Join(dir, "cpuset.cpus")))
		assert.Equal(t, "0", k.read(filepath.Join(dir, "cpuset.mems")))
	}

	assert.Equal(t, "67108864", k.read(filepath.Join(mem, "memory.limit_in_bytes")))
	assert.Equal(t, "67108864", k.read(filepath.Join(mem, "memory.memsw.limit_in_bytes")))
	assert.Equal(t, "100000", k.read(filepath.Join(cpu, "cpu.cfs_period_us")))
	assert.Equal(t, "50000", k.read(filepath.Join(cpu, "cpu.cfs_quota_us")))
	assert.Equal(t, "100", k.read(filepath.Join(pids, "pids.max")))
	assert.Equal(t, "1", k.read(filepath.Join(k.root, "memory", "berth", "memory.use_hierarchy")))
}

func TestNewV1CoMountedControllers(t *testing.T) {
	h, k := newFakeV1(t, "cpu,cpuacct", "memory", "pids")
	c, err := h.New("web", limits)
	require.NoError(t, err)
	cpu := filepath.Join(k.root, "cpu,cpuacct", "berth", "web")
	assert.Equal(t, cpu, c.Path("cpu"))
	assert.Equal(t, cpu, c.Path("cpuacct"))
	assert.Len(t, c.Dirs(), 4, "cpu and cpuacct share one directory (and devices, memory, pids)")
	assert.Equal(t, "50000", k.read(filepath.Join(cpu, "cpu.cfs_quota_us")))
}

func TestNewV1WithoutSwapAccounting(t *testing.T) {
	h, k := newFakeV1(t, "memory")
	k.swap = false
	c, err := h.New("web", Resources{Memory: 32 << 20})
	require.NoError(t, err)
	assert.Equal(t, "33554432", k.read(filepath.Join(c.Path("memory"), "memory.limit_in_bytes")))
	assert.NoFileExists(t, filepath.Join(c.Path("memory"), "memory.memsw.limit_in_bytes"))
}

func TestNewV1MissingController(t *testing.T) {
	h, k := newFakeV1(t, "memory", "cpu")
	_, err := h.New("web", Resources{PidsMax: 10})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the pids controller is not mounted")
	assert.NoDirExists(t, filepath.Join(k.root, "memory", "berth", "web"))

	// Without a pids limit, a missing pids hierarchy is no reason to fail.
	c, err := h.New("web", Resources{Memory: 32 << 20})
	require.NoError(t, err)
	assert.Len(t, c.Dirs(), 3, "memory, cpu and devices")
}

func TestNewV1MakesParentHierarchical(t *testing.T) {
	h, k := newFakeV1(t, "memory")
	// An old kernel's non-hierarchical root: the berth parent inherits it.
	k.writeFile(filepath.Join(k.root, "memory", "memory.use_hierarchy"), "0")
	_, err := h.New("web", memOnly)
	require.NoError(t, err)
	assert.Equal(t, "1", k.read(filepath.Join(k.root, "memory", "berth", "memory.use_hierarchy")))
}

func TestNewV1EnablesOOMKiller(t *testing.T) {
	h, k := newFakeV1(t, "memory")
	parent := filepath.Join(k.root, "memory", "berth")
	require.NoError(t, k.mkdir(parent))
	k.writeFile(filepath.Join(parent, "memory.oom_control"), "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n")

	c, err := h.New("web", memOnly)
	require.NoError(t, err)
	// The fake mkdir copied oom_kill_disable 1 from the parent; New wrote 0.
	assert.Equal(t, "0", k.read(filepath.Join(c.Path("memory"), "memory.oom_control")))
}

func TestNewRefusesExistingCgroup(t *testing.T) {
	for _, fake := range fakes {
		t.Run(fake.name, func(t *testing.T) {
			h, k := fake.new(t)
			c, err := h.New("web", limits)
			require.NoError(t, err)
			require.NoError(t, c.Add(4242))

			_, err = h.New("web", limits)
			require.ErrorIs(t, err, fs.ErrExist)
			assert.Contains(t, err.Error(), "cgroup web")
			// The existing container is untouched.
			assert.Empty(t, k.killed)
			for _, dir := range c.Dirs() {
				assert.DirExists(t, dir)
			}
		})
	}
}

func TestNewRollsBackOnFailure(t *testing.T) {
	for _, fake := range fakes {
		t.Run(fake.name, func(t *testing.T) {
			h, k := fake.new(t)
			k.omit["pids.max"] = true // as if the pids controller were broken
			_, err := h.New("web", limits)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "set pids limit")
			assert.Contains(t, err.Error(), "pids.max")
			matches, _ := filepath.Glob(filepath.Join(k.root, "*", "berth", "web"))
			matches2, _ := filepath.Glob(filepath.Join(k.root, "berth", "web"))
			assert.Empty(t, append(matches, matches2...), "New must remove what it created")
		})
	}
}

func TestInvalidNames(t *testing.T) {
	h, k := newFakeV2(t)
	for _, name := range []string{"", ".", "..", "a/b", "../../etc", "x\x00y"} {
		_, err := h.New(name, Resources{})
		require.Error(t, err, "%q", name)
		assert.Contains(t, err.Error(), "invalid cgroup name")
		_, err = h.Load(name)
		require.Error(t, err, "%q", name)
	}
	assert.NoDirExists(t, filepath.Join(k.root, "berth"))
}

func TestNewRejectsBadResources(t *testing.T) {
	h, k := newFakeV2(t)
	_, err := h.New("web", Resources{Memory: 64 << 20, MemorySwap: 32 << 20})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "below the memory limit")
	assert.NoDirExists(t, filepath.Join(k.root, "berth"))
}

// fakes runs a test against each kind of fake.
var fakes = []struct {
	name string
	new  func(*testing.T) (*Hierarchy, *fakeKernel)
}{
	{"v2", newFakeV2},
	{"v1", func(t *testing.T) (*Hierarchy, *fakeKernel) {
		return newFakeV1(t, "cpu,cpuacct", "memory", "pids")
	}},
}

func TestAddAndProcs(t *testing.T) {
	for _, fake := range fakes {
		t.Run(fake.name, func(t *testing.T) {
			h, k := fake.new(t)
			c, err := h.New("web", limits)
			require.NoError(t, err)

			pids, err := c.Procs()
			require.NoError(t, err)
			assert.Empty(t, pids)

			require.NoError(t, c.Add(4242))
			for _, dir := range c.Dirs() {
				assert.Equal(t, "4242", k.read(filepath.Join(dir, "cgroup.procs")))
			}
			pids, err = c.Procs()
			require.NoError(t, err)
			assert.Equal(t, []int{4242}, pids)

			// The process forked: the kernel lists the child too, unsorted.
			k.writeFile(filepath.Join(c.Dirs()[0], "cgroup.procs"), "4300\n4242\n4300\n")
			pids, err = c.Procs()
			require.NoError(t, err)
			assert.Equal(t, []int{4242, 4300}, pids)
		})
	}
}

func TestAddFailsOnMissingCgroup(t *testing.T) {
	h, _ := newFakeV2(t)
	c, err := h.New("web", limits)
	require.NoError(t, err)
	require.NoError(t, c.Destroy())
	err = c.Add(4242)
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "add process 4242")
	assert.Contains(t, err.Error(), "cgroup.procs")
}

func TestDestroy(t *testing.T) {
	for _, fake := range fakes {
		t.Run(fake.name, func(t *testing.T) {
			h, k := fake.new(t)
			c, err := h.New("web", limits)
			require.NoError(t, err)
			other, err := h.New("other", limits)
			require.NoError(t, err)
			for _, dir := range c.Dirs() {
				k.writeFile(filepath.Join(dir, "cgroup.procs"), "10\n11\n")
			}
			k.writeFile(filepath.Join(other.Dirs()[0], "cgroup.procs"), "20\n")

			require.NoError(t, c.Destroy())
			assert.ElementsMatch(t, []int{10, 11}, k.killed, "each process is killed, once it is seen")
			for _, dir := range c.Dirs() {
				assert.NoDirExists(t, dir)
				assert.DirExists(t, filepath.Dir(dir), "the shared berth parent stays")
			}
			assert.DirExists(t, other.Dirs()[0], "other containers are untouched")

			// Idempotent.
			require.NoError(t, c.Destroy())
			_, err = h.Load("web")
			require.ErrorIs(t, err, fs.ErrNotExist)
		})
	}
}

func TestDestroyUsesCgroupKill(t *testing.T) {
	h, k := newFakeV2(t)
	k.cgroupKill = true
	c, err := h.New("web", limits)
	require.NoError(t, err)
	k.writeFile(filepath.Join(c.Path(""), "cgroup.procs"), "10\n11\n")

	require.NoError(t, c.Destroy())
	assert.Empty(t, k.killed, "no process is signalled one by one")
	assert.Equal(t, []string{c.Path("")}, k.groupKilled)
	assert.NoDirExists(t, c.Path(""))
}

func TestDestroyRetriesWhileBusy(t *testing.T) {
	h, k := newFakeV2(t)
	c, err := h.New("web", limits)
	require.NoError(t, err)
	k.busy = 3 // the kernel is still tearing the processes down
	k.rmdirs = 0
	require.NoError(t, c.Destroy())
	assert.Equal(t, 4, k.rmdirs)
	assert.NoDirExists(t, c.Path(""))
}

func TestDestroyHalfRemoved(t *testing.T) {
	h, k := newFakeV1(t, "memory", "cpu", "pids")
	c, err := h.New("web", limits)
	require.NoError(t, err)
	// A crash after removing one of the four directories.
	require.NoError(t, k.rmdir(c.Path("cpu")))

	loaded, err := h.Load("web")
	require.NoError(t, err)
	assert.Len(t, loaded.Dirs(), 3)
	require.NoError(t, loaded.Destroy())
	require.NoError(t, c.Destroy())
	for _, dir := range c.Dirs() {
		assert.NoDirExists(t, dir)
	}
}

func TestDestroyFailsOnOtherErrors(t *testing.T) {
	h, _ := newFakeV2(t)
	c, err := h.New("web", limits)
	require.NoError(t, err)
	// Only EBUSY is worth waiting for; any other rmdir error is final.
	c.ops.rmdir = func(path string) error {
		return &fs.PathError{Op: "rmdir", Path: path, Err: os.ErrPermission}
	}
	start := time.Now()
	err = c.Destroy()
	require.ErrorIs(t, err, os.ErrPermission)
	assert.Contains(t, err.Error(), "cgroup web: destroy")
	assert.Less(t, time.Since(start), time.Second, "no retries for errors other than EBUSY")
}

func TestLoad(t *testing.T) {
	for _, fake := range fakes {
		t.Run(fake.name, func(t *testing.T) {
			h, _ := fake.new(t)
			c, err := h.New("web", limits)
			require.NoError(t, err)

			loaded, err := h.Load("web")
			require.NoError(t, err)
			assert.Equal(t, c.Dirs(), loaded.Dirs())
			assert.Equal(t, c.Path("memory"), loaded.Path("memory"))
			assert.Equal(t, c.Version(), loaded.Version())

			_, err = h.Load("nope")
			require.ErrorIs(t, err, fs.ErrNotExist)
			assert.Contains(t, err.Error(), "cgroup nope")
		})
	}
}

func TestUpdate(t *testing.T) {
	h, k := newFakeV1(t, "memory", "cpu", "pids")
	c, err := h.New("web", limits)
	require.NoError(t, err)

	require.NoError(t, c.Update(Resources{Memory: 128 << 20, CPUs: 2, PidsMax: 5}))
	assert.Equal(t, "134217728", k.read(filepath.Join(c.Path("memory"), "memory.limit_in_bytes")))
	assert.Equal(t, "134217728", k.read(filepath.Join(c.Path("memory"), "memory.memsw.limit_in_bytes")))
	assert.Equal(t, "200000", k.read(filepath.Join(c.Path("cpu"), "cpu.cfs_quota_us")))
	assert.Equal(t, "5", k.read(filepath.Join(c.Path("pids"), "pids.max")))

	require.NoError(t, c.Update(Resources{}))
	assert.Equal(t, "-1", k.read(filepath.Join(c.Path("memory"), "memory.limit_in_bytes")))
	assert.Equal(t, "-1", k.read(filepath.Join(c.Path("memory"), "memory.memsw.limit_in_bytes")))
	assert.Equal(t, "-1", k.read(filepath.Join(c.Path("cpu"), "cpu.cfs_quota_us")))
	assert.Equal(t, "max", k.read(filepath.Join(c.Path("pids"), "pids.max")))

	err = c.Update(Resources{PidsMax: -3})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cgroup web")
}

func TestMemoryV1Order(t *testing.T) {
	limit, memsw := "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"
	const unlimited = 9223372036854771712
	for _, tc := range []struct {
		name      string
		cur, want int64
		order     []string
	}{
		// A fresh cgroup: memsw is unlimited, so a memsw write below it
		// is fine only after the limit came down. Measured on Linux 6.18:
		// writing memsw first fails with EINVAL.
		{"fresh cgroup", unlimited, 32 << 20, []string{limit, memsw}},
		{"lower", 64 << 20, 32 << 20, []string{limit, memsw}},
		{"same", 64 << 20, 64 << 20, []string{limit, memsw}},
		{"raise", 32 << 20, 64 << 20, []string{memsw, limit}},
		{"lift", 32 << 20, 1<<63 - 1, []string{memsw, limit}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.order, memoryV1Order(tc.cur, tc.want))
		})
	}
}

func TestOOMKilled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version string // "v1" or "v2"
		content string
		want    bool
		err     error
	}{
		{"v2 none", "v2", "low 0\nhigh 0\nmax 12\noom 0\noom_kill 0\noom_group_kill 0\n", false, nil},
		{"v2 killed", "v2", "low 0\nhigh 0\nmax 40\noom 1\noom_kill 1\noom_group_kill 0\n", true, nil},
		// "oom" counts times the limit was hit hard; only oom_kill is a death.
		{"v2 oom without kill", "v2", "low 0\nhigh 0\nmax 40\noom 3\noom_kill 0\n", false, nil},
		{"v1 none", "v1", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", false, nil},
		{"v1 killed", "v1", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", true, nil},
		{"v1 before 4.13", "v1", "oom_kill_disable 0\nunder_oom 0\n", false, errors.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				h    *Hierarchy
				k    *fakeKernel
				file = "memory.events"
			)
			if tc.version == "v2" {
				h, k = newFakeV2(t)
			} else {
				h, k = newFakeV1(t, "memory")
				file = "memory.oom_control"
			}
			c, err := h.New("web", memOnly)
			require.NoError(t, err)
			k.writeFile(filepath.Join(c.Path("memory"), file), tc.content)

			got, err := c.OOMKilled()
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Contains(t, err.Error(), file)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestOOMKilledWithoutMemoryHierarchy(t *testing.T) {
	h, _ := newFakeV1(t, "cpu")
	c, err := h.New("web", Resources{CPUs: 1})
	require.NoError(t, err)
	_, err = c.OOMKilled()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not in a memory hierarchy")
}

func TestStats(t *testing.T) {
	t.Run("v2", func(t *testing.T) {
		h, k := newFakeV2(t)
		c, err := h.New("web", limits)
		require.NoError(t, err)
		dir := c.Path("")
		k.writeFile(filepath.Join(dir, "cpu.stat"), "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n")
		k.writeFile(filepath.Join(dir, "memory.current"), "1048576\n")
		k.writeFile(filepath.Join(dir, "memory.peak"), "2097152\n")
		k.writeFile(filepath.Join(dir, "pids.current"), "3\n")

		s, err := c.Stats()
		require.NoError(t, err)
		assert.Equal(t, Stats{
			CPUUsage:    1500 * time.Millisecond,
			MemoryUsage: 1 << 20,
			MemoryPeak:  2 << 20,
			MemoryLimit: 64 << 20,
			Pids:        3,
			PidsLimit:   100,
		}, s)

		require.NoError(t, c.Update(Resources{}))
		require.NoError(t, os.Remove(filepath.Join(dir, "memory.peak"))) // before Linux 5.19
		s, err = c.Stats()
		require.NoError(t, err)
		assert.Zero(t, s.MemoryLimit, "max reads as 0, unlimited")
		assert.Zero(t, s.PidsLimit)
		assert.Zero(t, s.MemoryPeak)
	})
	t.Run("v2 memory.stat and io.stat", func(t *testing.T) {
		h, k := newFakeV2(t)
		c, err := h.New("web", limits)
		require.NoError(t, err)
		dir := c.Path("")
		k.writeFile(filepath.Join(dir, "memory.stat"), "anon 8192\nfile 4096\ninactive_file 1024\n")
		k.writeFile(filepath.Join(dir, "io.stat"), "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n259:1 rbytes=0 wbytes=100 rios=0 wios=1\n")
		s, err := c.Stats()
		require.NoError(t, err)
		assert.Equal(t, map[string]int64{"anon": 8192, "file": 4096, "inactive_file": 1024}, s.MemoryStat)
		assert.Equal(t, []DeviceIO{{Major: 8, Minor: 0, Read: 4096, Write: 512}, {Major: 259, Minor: 1, Write: 100}}, s.IO)
	})
	t.Run("v1 memory.stat and blkio", func(t *testing.T) {
		h, k := newFakeV1(t, "memory", "cpu", "cpuacct", "pids", "blkio")
		c, err := h.New("web", Resources{})
		require.NoError(t, err)
		k.writeFile(filepath.Join(c.Path("memory"), "memory.stat"), "cache 4096\nrss 8192\ntotal_inactive_file 2048\n")
		k.writeFile(filepath.Join(c.Path("blkio"), "blkio.throttle.io_service_bytes_recursive"),
			"8:0 Read 4096\n8:0 Write 1024\n8:0 Sync 5120\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 5120\nTotal 5120\n")
		s, err := c.Stats()
		require.NoError(t, err)
		assert.Equal(t, int64(2048), s.MemoryStat["total_inactive_file"])
		assert.Equal(t, []DeviceIO{{Major: 8, Minor: 0, Read: 4096, Write: 1024}}, s.IO)
	})
	t.Run("v1", func(t *testing.T) {
		h, k := newFakeV1(t, "memory", "cpu", "cpuacct", "pids")
		c, err := h.New("web", Resources{PidsMax: 7})
		require.NoError(t, err)
		k.writeFile(filepath.Join(c.Path("cpuacct"), "cpuacct.usage"), "2500000000\n")
		k.writeFile(filepath.Join(c.Path("memory"), "memory.usage_in_bytes"), "4096\n")
		k.writeFile(filepath.Join(c.Path("memory"), "memory.max_usage_in_bytes"), "8192\n")
		k.writeFile(filepath.Join(c.Path("pids"), "pids.current"), "2\n")

		s, err := c.Stats()
		require.NoError(t, err)
		assert.Equal(t, Stats{
			CPUUsage:    2500 * time.Millisecond,
			MemoryUsage: 4096,
			MemoryPeak:  8192,
			MemoryLimit: 0, // 9223372036854771712 means unlimited
			Pids:        2,
			PidsLimit:   7,
		}, s)
	})
	t.Run("destroyed", func(t *testing.T) {
		h, _ := newFakeV2(t)
		c, err := h.New("web", limits)
		require.NoError(t, err)
		require.NoError(t, c.Destroy())
		_, err = c.Stats()
		require.ErrorIs(t, err, fs.ErrNotExist)
	})
}

func TestWriteStringNamesValueAndFile(t *testing.T) {
	dir := t.TempDir()
	err := writeString(dir, "memory.max", "64m")
	require.ErrorIs(t, err, fs.ErrNotExist, "no O_CREATE: a missing file is a missing controller")
	assert.Contains(t, err.Error(), filepath.Join(dir, "memory.max"))
	assert.Contains(t, err.Error(), `"64m"`)
	assert.NoFileExists(t, filepath.Join(dir, "memory.max"))

	require.NoError(t, os.WriteFile(filepath.Join(dir, "pids.max"), []byte("max\n"), 0o644))
	require.NoError(t, writeString(dir, "pids.max", "7"))
	b, err := os.ReadFile(filepath.Join(dir, "pids.max"))
	require.NoError(t, err)
	assert.Equal(t, "7", string(b), "a short value replaces a longer one")
}
