package cgroup

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// weights are the options that share rather than cap: what docker run
// --cpu-shares, --cpuset-cpus/-mems, --memory-reservation and
// --oom-kill-disable ask.
var weights = Resources{CPUShares: 512, CpusetCpus: "1-2", CpusetMems: "0", MemoryReservation: 32 << 20, OOMKillDisable: true}

func TestWeightsV1(t *testing.T) {
	h, k := newFakeV1(t, "memory", "cpu", "cpuacct", "pids", "cpuset")
	c, err := h.New("web", weights)
	require.NoError(t, err)
	file := func(ctrl, name string) string { return k.read(filepath.Join(c.Path(ctrl), name)) }
	assert.Equal(t, "512", file("cpu", "cpu.shares"))
	assert.Equal(t, "1-2", file("cpuset", "cpuset.cpus"))
	assert.Equal(t, "0", file("cpuset", "cpuset.mems"))
	assert.Equal(t, "33554432", file("memory", "memory.soft_limit_in_bytes"))
	assert.Equal(t, "1", file("memory", "memory.oom_control"))
	assert.Equal(t, "-1", file("memory", "memory.limit_in_bytes"), "no hard limit asked: unlimited")

	// Zero values take each back: the kernel's defaults, the parent's sets.
	k.writeFile(filepath.Join(c.Path("memory"), "memory.oom_control"), "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n")
	require.NoError(t, c.Update(Resources{}))
	assert.Equal(t, "1024", file("cpu", "cpu.shares"))
	assert.Equal(t, "0-3", file("cpuset", "cpuset.cpus"))
	assert.Equal(t, "-1", file("memory", "memory.soft_limit_in_bytes"))
	assert.Equal(t, "0", file("memory", "memory.oom_control"))

	// A cpuset asked for on a host without the hierarchy is an error,
	// before anything is made.
	h, _ = newFakeV1(t, "memory", "cpu")
	_, err = h.New("web", Resources{CpusetCpus: "0"})
	assert.ErrorContains(t, err, "the cpuset controller is not mounted")
}

func TestWeightsV2(t *testing.T) {
	h, k := newFakeV2(t)
	r := weights
	r.OOMKillDisable = false
	c, err := h.New("web", r)
	require.NoError(t, err)
	file := func(name string) string { return k.read(filepath.Join(c.Path(""), name)) }
	assert.Equal(t, "20", file("cpu.weight"), "runc's conversion: 1 + (512-2)*9999/262142")
	assert.Equal(t, "1-2", file("cpuset.cpus"))
	assert.Equal(t, "0", file("cpuset.mems"))
	assert.Equal(t, "33554432", file("memory.low"))
	assert.Equal(t, "+cpu +memory +pids +cpuset", k.read(filepath.Join(k.root, "berth", "cgroup.subtree_control")), "cpuset handed down because it is asked")

	require.NoError(t, c.Update(Resources{}))
	assert.Equal(t, "100", file("cpu.weight"))
	assert.Equal(t, "0", file("memory.low"))

	// v2 cannot keep the OOM killer away: refused, nothing made.
	_, err = h.New("oom", weights)
	require.ErrorIs(t, err, ErrNoOOMKillDisable)
	assert.NoDirExists(t, filepath.Join(k.root, "berth", "oom"))
	assert.ErrorIs(t, c.Update(Resources{OOMKillDisable: true}), ErrNoOOMKillDisable)
}

func TestSharesToWeight(t *testing.T) {
	for shares, weight := range map[uint64]uint64{2: 1, 1024: 39, 512: 20, 262144: 10000} {
		assert.Equal(t, weight, sharesToWeight(shares), "%d shares", shares)
	}
}

func TestParseSetAndValidateWeights(t *testing.T) {
	for in, want := range map[string][]int{"": nil, "0": {0}, "0-2,4": {0, 1, 2, 4}, "3,1-2,1": {1, 2, 3}} {
		got, err := ParseSet(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, []int(got), in)
	}
	for _, bad := range []string{"x", "1-", "-1", "2-1", "1,,2", "0-99999999"} {
		_, err := ParseSet(bad)
		assert.ErrorContains(t, err, "invalid format: "+bad)
	}
	for _, r := range []Resources{{CPUShares: 1}, {CPUShares: MaxCPUShares + 1}, {CpusetCpus: "a"}, {MemoryReservation: -1}} {
		assert.Error(t, r.validate(), "%+v", r)
	}
}

// TestLiveWeights: the kernel takes what the fakes show, on whichever
// hierarchy this machine runs (v2 refuses --oom-kill-disable).
func TestLiveWeights(t *testing.T) {
	h := liveHierarchy(t)
	r := Resources{CPUShares: 512, CpusetCpus: "0", CpusetMems: "0", MemoryReservation: 32 << 20, OOMKillDisable: h.Version != V2}
	c := newLive(t, h, r)
	if h.Version == V2 {
		dir := c.Path("")
		assert.Equal(t, "20", readLive(t, dir, "cpu.weight"))
		assert.Equal(t, "0", readLive(t, dir, "cpuset.cpus"))
		assert.Equal(t, "33554432", readLive(t, dir, "memory.low"))
		return
	}
	assert.Equal(t, "512", readLive(t, c.Path("cpu"), "cpu.shares"))
	assert.Equal(t, "0", readLive(t, c.Path("cpuset"), "cpuset.cpus"))
	assert.Equal(t, "0", readLive(t, c.Path("cpuset"), "cpuset.mems"))
	assert.Equal(t, "33554432", readLive(t, c.Path("memory"), "memory.soft_limit_in_bytes"))
	m, err := readKeyed(c.Path("memory"), "memory.oom_control")
	require.NoError(t, err)
	assert.Equal(t, int64(1), m["oom_kill_disable"])

	require.NoError(t, c.Update(Resources{}))
	assert.Equal(t, "1024", readLive(t, c.Path("cpu"), "cpu.shares"))
	assert.Equal(t, readLive(t, filepath.Dir(c.Path("cpuset")), "cpuset.cpus"), readLive(t, c.Path("cpuset"), "cpuset.cpus"))
	m, err = readKeyed(c.Path("memory"), "memory.oom_control")
	require.NoError(t, err)
	assert.Zero(t, m["oom_kill_disable"])
}

func TestAvailableAndWithin(t *testing.T) {
	h, _ := newFakeV1(t, "memory", "cpuset")
	cpus, mems, err := h.Available()
	require.NoError(t, err)
	assert.Equal(t, []string{"0-3", "0"}, []string{cpus, mems})
	for set, want := range map[string]bool{"0": true, "1-3": true, "0,4": false, "": true} {
		ok, err := Within(set, cpus)
		require.NoError(t, err)
		assert.Equal(t, want, ok, set)
	}
	_, err = Within("x", cpus)
	assert.ErrorContains(t, err, "invalid format: x")
	h, _ = newFakeV1(t, "memory")
	_, _, err = h.Available()
	assert.Error(t, err)
}
