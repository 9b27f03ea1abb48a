//go:build cgo

package ociruntime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

func ptr[T any](v T) *T { return &v }

// TestUpdate_Live: the limits reach the cgroup, a later update keeps
// what it does not name, and the record holds the sum.
func TestUpdate_Live(t *testing.T) {
	c := startLiveContainer(t)
	require.NoError(t, Update(c.root, c.id, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20))},
		Pids:   &specs.LinuxPids{Limit: 50},
	}))
	require.NoError(t, Update(c.root, c.id, (UpdateFlags{CPUShares: ptr(uint64(512))}).Apply(nil)))

	read := func(ctrl, v1, v2 string) string {
		dir := c.cg.Path(ctrl)
		file := v1
		if c.cg.Version() == cgroup.V2 {
			file = v2
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		return strings.TrimSpace(string(b))
	}
	assert.Equal(t, "67108864", read("memory", "memory.limit_in_bytes", "memory.max"), "kept by the second update")
	assert.Equal(t, "50", read("pids", "pids.max", "pids.max"))
	if c.cg.Version() != cgroup.V2 {
		assert.Equal(t, "512", read("cpu", "cpu.shares", ""))
	}

	rec, err := Load(c.root, c.id)
	require.NoError(t, err)
	spec, err := RecordSpec(rec)
	require.NoError(t, err)
	r := spec.Linux.Resources
	assert.Equal(t, int64(64<<20), *r.Memory.Limit)
	assert.Equal(t, int64(50), r.Pids.Limit)
	assert.Equal(t, uint64(512), *r.CPU.Shares)
	assert.Len(t, r.Devices, 1, "the devices as create recorded them")
	assert.Equal(t, []string{"sleep", "600"}, spec.Process.Args, "the rest of config.json unchanged")

	err = Update(c.root, c.id, &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}})
	assert.ErrorContains(t, err, "linux.resources.devices: update cannot change the device policy")
	err = Update(c.root, c.id, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(1))}})
	assert.Error(t, err, "chapter 02's minimum")
}

// TestMergeResources: what an update names replaces the container's,
// field by field, the rest stays; Resources then refuses by name what
// berth does not apply; the device policy passes only unchanged.
func TestMergeResources(t *testing.T) {
	cur := specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(100 << 20))},
		CPU:     &specs.LinuxCPU{Shares: ptr(uint64(1024)), Cpus: "0"},
		Pids:    &specs.LinuxPids{Limit: 10},
	}
	for name, tc := range map[string]struct {
		in    *specs.LinuxResources
		check func(t *testing.T, r specs.LinuxResources)
		err   string
	}{
		"nil": {in: nil, check: func(t *testing.T, r specs.LinuxResources) { assert.Equal(t, cur, r) }},
		"memory": {in: &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: ptr(int64(50 << 20))}},
			check: func(t *testing.T, r specs.LinuxResources) {
				assert.Equal(t, int64(100<<20), *r.Memory.Limit)
				assert.Equal(t, int64(50<<20), *r.Memory.Reservation)
				assert.Equal(t, uint64(1024), *r.CPU.Shares)
			}},
		"cpu": {in: &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(int64(50000)), Period: ptr(uint64(100000)), Mems: "0"}},
			check: func(t *testing.T, r specs.LinuxResources) {
				assert.Equal(t, "0", r.CPU.Cpus)
				assert.Equal(t, "0", r.CPU.Mems)
				assert.Equal(t, int64(50000), *r.CPU.Quota)
				assert.Equal(t, uint64(1024), *r.CPU.Shares)
			}},
		"pids": {in: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 99}},
			check: func(t *testing.T, r specs.LinuxResources) {
				assert.Equal(t, int64(99), r.Pids.Limit)
				assert.Equal(t, int64(100<<20), *r.Memory.Limit)
			}},
		"same devices":  {in: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}, check: func(t *testing.T, r specs.LinuxResources) {}},
		"other devices": {in: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "r"}}}, err: "linux.resources.devices"},
		// What chapter 02 applies since (swap, swappiness, real time,
		// block I/O, hugetlb, v2's unified files) is laid over too.
		"swappiness": {in: &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr(uint64(0))}},
			check: func(t *testing.T, r specs.LinuxResources) {
				assert.Equal(t, uint64(0), *r.Memory.Swappiness)
				assert.Equal(t, int64(100<<20), *r.Memory.Limit)
			}},
		"swap": {in: &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr(int64(200 << 20))}},
			check: func(t *testing.T, r specs.LinuxResources) { assert.Equal(t, int64(200<<20), *r.Memory.Swap) }},
		"realtime": {in: &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr(int64(1))}},
			check: func(t *testing.T, r specs.LinuxResources) {
				assert.Equal(t, int64(1), *r.CPU.RealtimeRuntime)
				assert.Equal(t, uint64(1024), *r.CPU.Shares)
			}},
		"blkio weight": {in: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(300))}},
			check: func(t *testing.T, r specs.LinuxResources) { assert.Equal(t, uint16(300), *r.BlockIO.Weight) }},
		"hugepages": {in: &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}},
			check: func(t *testing.T, r specs.LinuxResources) { assert.Len(t, r.HugepageLimits, 1) }},
		"unified": {in: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}},
			check: func(t *testing.T, r specs.LinuxResources) { assert.Equal(t, "1", r.Unified["memory.high"]) }},
		"kernel TCP memory": {in: &specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: ptr(int64(1 << 20))}},
			check: func(t *testing.T, r specs.LinuxResources) { assert.Equal(t, int64(1<<20), *r.Memory.KernelTCP) }},
		"empty lists": {in: &specs.LinuxResources{Unified: map[string]string{}, HugepageLimits: []specs.LinuxHugepageLimit{}}, check: func(t *testing.T, r specs.LinuxResources) {}},
	} {
		t.Run(name, func(t *testing.T) {
			before, _ := json.Marshal(cur)
			got, err := mergeResources(cur, tc.in)
			after, _ := json.Marshal(cur)
			assert.Equal(t, string(before), string(after), "the container's resources are not changed in place")
			if err == nil {
				_, err = Resources(&got)
			}
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			tc.check(t, got)
		})
	}
}

// TestSetResources: only linux.resources changes in the recorded
// config.json; fields specs-go does not know survive.
func TestSetResources(t *testing.T) {
	cfg := json.RawMessage(`{"ociVersion":"1.2.1","future":{"x":1},"linux":{"namespaces":[{"type":"pid"}],"resources":{"pids":{"limit":1}},"futureLinux":true}}`)
	out, err := setResources(cfg, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 7}})
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	assert.Equal(t, map[string]any{"x": float64(1)}, m["future"])
	linux := m["linux"].(map[string]any)
	assert.Equal(t, true, linux["futureLinux"])
	assert.Equal(t, map[string]any{"pids": map[string]any{"limit": float64(7)}}, linux["resources"])
	assert.Len(t, linux["namespaces"], 1)

	out, err = setResources(json.RawMessage(`{"ociVersion":"1.2.1"}`), &specs.LinuxResources{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"ociVersion":"1.2.1","linux":{"resources":{}}}`, string(out))
}
