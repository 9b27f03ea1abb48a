package cgroup

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/labtest"
)

func ptr[T any](v T) *T { return &v }

// controls are the less common controls, all at once: what docker run
// --memory-swap, --memory-swappiness, --cpu-period, --cpu-rt-*,
// --blkio-weight(-device), --device-*-bps/iops ask, plus the OCI
// spec's hugepageLimits and network.
var controls = Resources{
	Memory: 64 << 20, MemorySwap: 192 << 20, Swappiness: ptr[uint64](10),
	CPUs: 0.5, CPUPeriod: 50000,
	CPURealtimeRuntime: 50000, CPURealtimePeriod: 500000,
	BlkioWeight: 300, BlkioWeightDevice: []WeightDevice{{Major: 254, Minor: 0, Weight: 400}},
	ReadBps: []ThrottleDevice{{Major: 254, Minor: 0, Rate: 1 << 20}}, WriteBps: []ThrottleDevice{{Major: 254, Minor: 0, Rate: 2 << 20}},
	ReadIOPS: []ThrottleDevice{{Major: 254, Minor: 0, Rate: 100}}, WriteIOPS: []ThrottleDevice{{Major: 254, Minor: 0, Rate: 200}},
	HugetlbLimits: []HugetlbLimit{{PageSize: "2MB", Limit: 4 << 20}},
	NetClassID:    0x100001, NetPriorities: []NetPriority{{Interface: "eth0", Priority: 5}},
}

// traced runs New on h with an explain trace and returns the cgroup
// and the writes it made, "file = value", in order.
func tracedNew(t *testing.T, h *Hierarchy, name string, r Resources) (*Cgroup, []string, error) {
	t.Helper()
	var buf bytes.Buffer
	h.Explain = explain.New(&buf)
	c, err := h.New(name, r)
	if c != nil {
		t.Cleanup(func() { untraceCgroup(name) })
	}
	var writes []string
	for _, l := range explain.Lines(buf.String()) {
		if l.Kind == "write" {
			file, value, _ := strings.Cut(l.Detail, " = ")
			writes = append(writes, filepath.Base(file)+" = "+value)
		}
	}
	return c, writes, err
}

func TestControlsV1(t *testing.T) {
	h, k := newFakeV1(t, "memory", "cpu,cpuacct", "pids", "blkio", "hugetlb", "net_cls", "net_prio")
	c, writes, err := tracedNew(t, h, "ctl-v1", controls)
	require.NoError(t, err)
	file := func(ctrl, name string) string { return k.read(filepath.Join(c.Path(ctrl), name)) }
	assert.Equal(t, "67108864", file("memory", "memory.limit_in_bytes"))
	assert.Equal(t, "201326592", file("memory", "memory.memsw.limit_in_bytes"), "memory plus swap")
	assert.Equal(t, "10", file("memory", "memory.swappiness"))
	assert.Equal(t, "50000", file("cpu", "cpu.cfs_period_us"))
	assert.Equal(t, "25000", file("cpu", "cpu.cfs_quota_us"), "0.5 CPU of a 50 ms period")
	assert.Equal(t, "500000", file("cpu", "cpu.rt_period_us"))
	assert.Equal(t, "50000", file("cpu", "cpu.rt_runtime_us"))
	assert.Equal(t, "300", file("blkio", "blkio.weight"))
	assert.Equal(t, "254:0 400", file("blkio", "blkio.weight_device"))
	assert.Equal(t, "254:0 1048576", file("blkio", "blkio.throttle.read_bps_device"))
	assert.Equal(t, "254:0 2097152", file("blkio", "blkio.throttle.write_bps_device"))
	assert.Equal(t, "254:0 100", file("blkio", "blkio.throttle.read_iops_device"))
	assert.Equal(t, "254:0 200", file("blkio", "blkio.throttle.write_iops_device"))
	assert.Equal(t, "4194304", file("hugetlb", "hugetlb.2MB.limit_in_bytes"))
	assert.Equal(t, "1048577", file("net_cls", "net_cls.classid"))
	assert.Equal(t, "eth0 5", file("net_prio", "net_prio.ifpriomap"))
	// Each went through the explain trace, memsw before the limit on a
	// fresh cgroup (raising it from unlimited is not what happens: memsw
	// 192 MiB is below the unlimited limit, so the limit goes first),
	// and the period before the quota.
	assert.Subset(t, writes, []string{"memory.swappiness = \"10\"", "cpu.rt_runtime_us = \"50000\"", "net_prio.ifpriomap = \"eth0 5\""})
	assert.Less(t, indexOf(writes, "memory.limit_in_bytes = \"67108864\""), indexOf(writes, "memory.memsw.limit_in_bytes = \"201326592\""))
	assert.Less(t, indexOf(writes, "cpu.cfs_period_us = \"50000\""), indexOf(writes, "cpu.cfs_quota_us = \"25000\""))

	// docker update -m 128m --memory-swap 512m: raising, memsw first.
	// The less common controls left at zero stay as they are.
	var buf bytes.Buffer
	h.Explain = explain.New(&buf)
	traceCgroup("ctl-v1", h.Explain)
	require.NoError(t, c.Update(Resources{Memory: 128 << 20, MemorySwap: 512 << 20, CPUs: 1}))
	assert.Equal(t, "134217728", file("memory", "memory.limit_in_bytes"))
	assert.Equal(t, "536870912", file("memory", "memory.memsw.limit_in_bytes"))
	assert.Less(t, strings.Index(buf.String(), "memory.memsw"), strings.Index(buf.String(), "memory.limit_in_bytes"))
	assert.Equal(t, "100000", file("cpu", "cpu.cfs_period_us"), "back to the default period")
	assert.Equal(t, "100000", file("cpu", "cpu.cfs_quota_us"))
	assert.Equal(t, "10", file("memory", "memory.swappiness"))
	assert.Equal(t, "50000", file("cpu", "cpu.rt_runtime_us"))
	assert.Equal(t, "300", file("blkio", "blkio.weight"))

	// -1: swap unlimited; 0: none beyond the memory (berth's default).
	require.NoError(t, c.Update(Resources{Memory: 128 << 20, MemorySwap: -1}))
	assert.Equal(t, "-1", file("memory", "memory.memsw.limit_in_bytes"))
	require.NoError(t, c.Update(Resources{Memory: 128 << 20}))
	assert.Equal(t, "134217728", file("memory", "memory.memsw.limit_in_bytes"))

	// v1 has no raw v2 files.
	assert.ErrorIs(t, c.Update(Resources{Unified: map[string]string{"memory.high": "1G"}}), ErrNoUnifiedV1)
	_, err = h.New("ctl-v1-unified", Resources{Unified: map[string]string{"memory.high": "1G"}})
	assert.ErrorIs(t, err, ErrNoUnifiedV1)
}

// A control whose hierarchy is missing, or whose file the kernel lacks,
// is an error, and New leaves nothing behind.
func TestControlsV1Missing(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Resources
		omit string
		want string
	}{
		{"blkio", Resources{BlkioWeight: 300}, "", "the blkio controller is not mounted"},
		{"hugetlb", Resources{HugetlbLimits: []HugetlbLimit{{PageSize: "2MB"}}}, "", "the hugetlb controller is not mounted"},
		{"net_cls", Resources{NetClassID: 1}, "", "the net_cls controller is not mounted"},
		{"net_prio", Resources{NetPriorities: []NetPriority{{Interface: "eth0"}}}, "", "the net_prio controller is not mounted"},
		{"no swap accounting", Resources{Memory: 64 << 20, MemorySwap: 128 << 20}, "memory.memsw.limit_in_bytes", "does not account swap"},
		{"no weight file", Resources{BlkioWeight: 300}, "blkio.weight", "no blkio.weight nor blkio.bfq.weight"},
		{"no 1GB pages", Resources{HugetlbLimits: []HugetlbLimit{{PageSize: "16GB"}}}, "", "hugetlb.16GB.limit_in_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hier := []string{"memory", "cpu"}
			if tc.omit != "" || strings.HasPrefix(tc.name, "no 1GB") {
				hier = append(hier, "blkio", "hugetlb")
			}
			h, k := newFakeV1(t, hier...)
			if tc.omit != "" {
				k.omit[tc.omit] = true
				k.swap = tc.omit != "memory.memsw.limit_in_bytes"
			}
			_, err := h.New("web", tc.r)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			for mnt := range k.mounts {
				assert.NoDirExists(t, filepath.Join(mnt, "berth", "web"))
			}
		})
	}
	// Without swap accounting, berth's default (no swap) and unlimited
	// swap have nothing to write: not an error.
	h, k := newFakeV1(t, "memory")
	k.swap = false
	_, err := h.New("a", Resources{Memory: 64 << 20})
	require.NoError(t, err)
	_, err = h.New("b", Resources{Memory: 64 << 20, MemorySwap: -1})
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(h.Mounts["memory"], "memory.memsw.limit_in_bytes")))
	assert.False(t, h.SwapAccounting())
	h, _ = newFakeV1(t, "memory")
	assert.True(t, h.SwapAccounting())
}

// TestControlsV2: v2's files for the same controls; the v1-only ones are
// refused by name. (This host is hybrid: the v2 paths run against the
// fake only.)
func TestControlsV2(t *testing.T) {
	h, k := newFakeV2(t)
	r := controls
	r.Swappiness, r.CPURealtimeRuntime, r.CPURealtimePeriod, r.NetClassID, r.NetPriorities = nil, 0, 0, 0, nil
	r.Unified = map[string]string{"memory.high": "50331648"}
	c, writes, err := tracedNew(t, h, "ctl-v2", r)
	require.NoError(t, err)
	file := func(name string) string { return k.read(filepath.Join(c.Path(""), name)) }
	assert.Equal(t, "67108864", file("memory.max"))
	assert.Equal(t, "134217728", file("memory.swap.max"), "swap alone: 192 MiB less 64")
	assert.Equal(t, "25000 50000", file("cpu.max"))
	assert.Equal(t, "254:0 wiops=200", file("io.max"), "the last of the four writes")
	assert.Equal(t, "254:0 3940", file("io.weight"), "the device's weight, after the default's")
	assert.Equal(t, "4194304", file("hugetlb.2MB.max"))
	assert.Equal(t, "50331648", file("memory.high"))
	assert.Equal(t, "+cpu +memory +pids +io +hugetlb", k.read(filepath.Join(k.root, "berth", "cgroup.subtree_control")))
	assert.Equal(t, []string{
		`io.weight = "default 2930"`, `io.weight = "254:0 3940"`,
		`io.max = "254:0 rbps=1048576"`, `io.max = "254:0 wbps=2097152"`, `io.max = "254:0 riops=100"`, `io.max = "254:0 wiops=200"`,
		`hugetlb.2MB.max = "4194304"`, `memory.high = "50331648"`,
	}, writes[len(writes)-8:], "unified last")

	// Update: -1 and 0 swap, another period.
	require.NoError(t, c.Update(Resources{Memory: 64 << 20, MemorySwap: -1, CPUPeriod: 20000}))
	assert.Equal(t, "max", file("memory.swap.max"))
	assert.Equal(t, "max 20000", file("cpu.max"))
	require.NoError(t, c.Update(Resources{Memory: 64 << 20}))
	assert.Equal(t, "0", file("memory.swap.max"))
	assert.Equal(t, "max 100000", file("cpu.max"))

	for _, tc := range []struct {
		r    Resources
		want error
	}{
		{Resources{Swappiness: ptr[uint64](0)}, ErrNoSwappinessV2},
		{Resources{CPURealtimeRuntime: 1000}, ErrNoRealtimeV2},
		{Resources{NetClassID: 1}, ErrNoNetV2},
		{Resources{NetPriorities: []NetPriority{{Interface: "eth0"}}}, ErrNoNetV2},
	} {
		_, err := h.New("refused", tc.r)
		assert.ErrorIs(t, err, tc.want)
		assert.ErrorIs(t, c.Update(tc.r), tc.want)
	}
	assert.NoDirExists(t, filepath.Join(k.root, "berth", "refused"))

	// A unified file that is not there (its controller not enabled).
	err = c.Update(Resources{Unified: map[string]string{"rdma.max": "mlx5_0 hca_handle=2"}})
	assert.ErrorContains(t, err, `unified "rdma.max": no such file`)
	// No swap accounting: an allowance of swap cannot be kept.
	k.swap = false
	_, err = h.New("noswap", Resources{Memory: 64 << 20, MemorySwap: 128 << 20})
	assert.ErrorContains(t, err, "memory.swap.max")
	assert.True(t, h.SwapAccounting(), "v2: whenever the memory controller is there")
}

func TestDockerSwapAndIOWeight(t *testing.T) {
	assert.Equal(t, int64(128<<20), DockerSwap(64<<20, 0), "-m alone: as much swap as memory")
	assert.Equal(t, int64(96<<20), DockerSwap(64<<20, 96<<20))
	assert.Equal(t, int64(-1), DockerSwap(64<<20, -1))
	assert.Equal(t, int64(0), DockerSwap(0, 0))
	for w, want := range map[uint16]uint64{10: 1, 500: 4950, 1000: 10000} {
		assert.Equal(t, want, ioWeight(w), "%d", w)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// TestLiveControls: the kernel takes what the fakes show, on this
// machine's hierarchy (hybrid here: v1 files; block device 254:0 if it
// exists). The real-time budget needs a parent with one: the test gives
// its own parent 10 ms of the root's.
func TestLiveControls(t *testing.T) {
	h := liveHierarchy(t)
	labtest.Need(t, h.Version != V2, "the v1 controls (swappiness, real time) are tested on v1; v2 has the fake")
	h = h.Under(labtest.Unique("cgparent"))
	r := Resources{Memory: 64 << 20, Swappiness: ptr[uint64](10), CPUs: 0.5, CPUPeriod: 50000}
	if h.SwapAccounting() {
		r.MemorySwap = 192 << 20
	}
	rt := exists(h.Mounts["cpu"], "cpu.rt_runtime_us")
	if rt {
		parent := filepath.Join(h.Mounts["cpu"], h.Parent)
		require.NoError(t, os.Mkdir(parent, 0o755))
		require.NoError(t, writeString(parent, "cpu.rt_runtime_us", "10000"))
		r.CPURealtimeRuntime, r.CPURealtimePeriod = 5000, 1000000
	}
	_, vda := os.Stat("/sys/dev/block/254:0")
	if vda == nil && h.Mounts["blkio"] != "" {
		r.ReadBps = []ThrottleDevice{{Major: 254, Minor: 0, Rate: 1 << 20}}
		r.WriteIOPS = []ThrottleDevice{{Major: 254, Minor: 0, Rate: 200}}
	}
	c, err := h.New(labtest.Unique("cgtest"), r)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, c.Destroy())
		assert.NoError(t, h.RemoveParent())
	})
	mem, cpu := c.Path("memory"), c.Path("cpu")
	assert.Equal(t, "67108864", readLive(t, mem, "memory.limit_in_bytes"))
	if r.MemorySwap != 0 {
		assert.Equal(t, "201326592", readLive(t, mem, "memory.memsw.limit_in_bytes"))
	}
	assert.Equal(t, "10", readLive(t, mem, "memory.swappiness"))
	assert.Equal(t, "50000", readLive(t, cpu, "cpu.cfs_period_us"))
	assert.Equal(t, "25000", readLive(t, cpu, "cpu.cfs_quota_us"))
	if rt {
		assert.Equal(t, "5000", readLive(t, cpu, "cpu.rt_runtime_us"))
	}
	if r.ReadBps != nil {
		assert.Equal(t, "254:0 1048576", readLive(t, c.Path("blkio"), "blkio.throttle.read_bps_device"))
		assert.Equal(t, "254:0 200", readLive(t, c.Path("blkio"), "blkio.throttle.write_iops_device"))
	}
	// docker update -m 128m --memory-swap 512m: raised, in the order
	// the kernel accepts.
	if r.MemorySwap != 0 {
		require.NoError(t, c.Update(Resources{Memory: 128 << 20, MemorySwap: 512 << 20}))
		assert.Equal(t, "536870912", readLive(t, mem, "memory.memsw.limit_in_bytes"))
		require.NoError(t, c.Update(Resources{Memory: 32 << 20, MemorySwap: 64 << 20}))
		assert.Equal(t, "67108864", readLive(t, mem, "memory.memsw.limit_in_bytes"))
	}
}

func TestSupports(t *testing.T) {
	h, k := newFakeV1(t, "memory", "cpu", "blkio")
	assert.NoError(t, h.Supports(Resources{Memory: 64 << 20, MemorySwap: 128 << 20, Swappiness: ptr[uint64](1), CPURealtimeRuntime: 1,
		BlkioWeight: 100, ReadBps: []ThrottleDevice{{Major: 8}}}))
	require.NoError(t, os.Remove(filepath.Join(h.Mounts["blkio"], "blkio.weight")))
	assert.ErrorContains(t, h.Supports(Resources{BlkioWeight: 100}), "no blkio.weight nor blkio.bfq.weight")
	k.writeFile(filepath.Join(h.Mounts["blkio"], "blkio.bfq.weight"), "100")
	assert.NoError(t, h.Supports(Resources{BlkioWeight: 100}), "BFQ's file")
	assert.ErrorContains(t, h.Supports(Resources{HugetlbLimits: []HugetlbLimit{{PageSize: "2MB"}}}), "the hugetlb controller is not mounted")
	assert.ErrorContains(t, h.Supports(Resources{NetClassID: 1}), "net_cls controller is not mounted")
	assert.ErrorIs(t, h.Supports(Resources{Unified: map[string]string{"memory.high": "1"}}), ErrNoUnifiedV1)
	require.NoError(t, os.Remove(filepath.Join(h.Mounts["memory"], "memory.memsw.limit_in_bytes")))
	assert.ErrorContains(t, h.Supports(Resources{Memory: 64 << 20, MemorySwap: 128 << 20}), "does not account swap")
	assert.NoError(t, h.Supports(Resources{Memory: 64 << 20, MemorySwap: 64 << 20}), "no swap: nothing to write")

	h, _ = newFakeV2(t)
	assert.NoError(t, h.Supports(Resources{BlkioWeight: 100, HugetlbLimits: []HugetlbLimit{{PageSize: "2MB"}}, Unified: map[string]string{"memory.high": "1"}}))
	assert.ErrorIs(t, h.Supports(Resources{CPURealtimePeriod: 1}), ErrNoRealtimeV2)
}

// KernelTCP (an OCI config's memory.kernelTCP) is v1's
// memory.kmem.tcp.limit_in_bytes; v2 has no such file and refuses it by
// name, and Update changes it.
func TestKernelTCP(t *testing.T) {
	h, k := newFakeV1(t, "memory", "cpu,cpuacct", "pids")
	c, err := h.New("ktcp", Resources{Memory: 64 << 20, KernelTCP: 8 << 20})
	require.NoError(t, err)
	assert.Equal(t, "8388608", k.read(filepath.Join(c.Path("memory"), "memory.kmem.tcp.limit_in_bytes")))
	require.NoError(t, c.Update(Resources{Memory: 64 << 20, KernelTCP: -1}))
	assert.Equal(t, "-1", k.read(filepath.Join(c.Path("memory"), "memory.kmem.tcp.limit_in_bytes")))
	_, err = h.New("ktcp-bad", Resources{KernelTCP: -2})
	assert.ErrorContains(t, err, "kernel TCP memory -2")

	v2, _ := newFakeV2(t)
	_, err = v2.New("ktcp", Resources{KernelTCP: 8 << 20})
	assert.ErrorIs(t, err, ErrNoKernelTCPV2)
}
