package ociruntime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// resPtr points at a copy of v: config.json's optional numbers.
func resPtr[T any](v T) *T                             { return &v }
func memRes(m specs.LinuxMemory) *specs.LinuxResources { return &specs.LinuxResources{Memory: &m} }
func cpuRes(c specs.LinuxCPU) *specs.LinuxResources    { return &specs.LinuxResources{CPU: &c} }

// TestResources: each field of linux.resources that chapter 02 applies,
// in runc's units.
func TestResources(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	tests := []struct {
		name string
		r    *specs.LinuxResources
		want cgroup.Resources
	}{
		{"nil", nil, cgroup.Resources{}},
		{"empty", &specs.LinuxResources{}, cgroup.Resources{}},
		{"memory limit -1 is unlimited", memRes(specs.LinuxMemory{Limit: resPtr[int64](-1)}), cgroup.Resources{}},
		{"memory limit 0 is not set", memRes(specs.LinuxMemory{Limit: resPtr[int64](0)}), cgroup.Resources{}},
		{"memory limit below 6 MiB, as runc", memRes(specs.LinuxMemory{Limit: resPtr[int64](mib)}), cgroup.Resources{Memory: mib, MemorySwap: -1}},
		{"memory limit alone: swap unlimited, as runc leaves it", memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib)}), cgroup.Resources{Memory: 64 * mib, MemorySwap: -1}},
		{"swap equal to the limit (CRI's no-swap)", memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib), Swap: resPtr[int64](64 * mib)}), cgroup.Resources{Memory: 64 * mib, MemorySwap: 64 * mib}},
		{"swap above the limit (dockerd's -m)", memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib), Swap: resPtr[int64](128 * mib)}), cgroup.Resources{Memory: 64 * mib, MemorySwap: 128 * mib}},
		{"unlimited swap with a limit", memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib), Swap: resPtr[int64](-1)}), cgroup.Resources{Memory: 64 * mib, MemorySwap: -1}},
		{"swap -1 without a limit", memRes(specs.LinuxMemory{Limit: resPtr[int64](-1), Swap: resPtr[int64](-1)}), cgroup.Resources{MemorySwap: -1}},
		{"swappiness", memRes(specs.LinuxMemory{Swappiness: resPtr[uint64](0)}), cgroup.Resources{Swappiness: resPtr[uint64](0)}},
		{"swappiness 2^64-1 is runc's unset", memRes(specs.LinuxMemory{Swappiness: resPtr[uint64](1<<64 - 1)}), cgroup.Resources{}},
		{"reservation", memRes(specs.LinuxMemory{Reservation: resPtr[int64](32 * mib)}), cgroup.Resources{MemoryReservation: 32 * mib}},
		{"reservation -1", memRes(specs.LinuxMemory{Reservation: resPtr[int64](-1)}), cgroup.Resources{}},
		{"disableOOMKiller", memRes(specs.LinuxMemory{DisableOOMKiller: resPtr(true)}), cgroup.Resources{OOMKillDisable: true}},
		{"disableOOMKiller false", memRes(specs.LinuxMemory{DisableOOMKiller: resPtr(false)}), cgroup.Resources{}},
		{"useHierarchy true", memRes(specs.LinuxMemory{UseHierarchy: resPtr(true)}), cgroup.Resources{}},
		{"kernel -1 (unlimited, as berth)", memRes(specs.LinuxMemory{Kernel: resPtr[int64](-1), KernelTCP: resPtr[int64](0)}), cgroup.Resources{}},
		{"checkBeforeUpdate false", memRes(specs.LinuxMemory{CheckBeforeUpdate: resPtr(false)}), cgroup.Resources{}},
		{"shares", cpuRes(specs.LinuxCPU{Shares: resPtr[uint64](512)}), cgroup.Resources{CPUShares: 512}},
		{"shares 0 is not set", cpuRes(specs.LinuxCPU{Shares: resPtr[uint64](0)}), cgroup.Resources{}},
		{"quota, default period", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](50000)}), cgroup.Resources{CPUs: 0.5}},
		{"quota, period 100000", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](250000), Period: resPtr[uint64](100000)}), cgroup.Resources{CPUs: 2.5, CPUPeriod: 100000}},
		{"quota, another period", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](25000), Period: resPtr[uint64](50000)}), cgroup.Resources{CPUs: 0.5, CPUPeriod: 50000}},
		{"period alone", cpuRes(specs.LinuxCPU{Period: resPtr[uint64](20000)}), cgroup.Resources{CPUPeriod: 20000}},
		{"quota -1 is unlimited", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](-1), Period: resPtr[uint64](100000)}), cgroup.Resources{CPUPeriod: 100000}},
		{"realtime", cpuRes(specs.LinuxCPU{RealtimeRuntime: resPtr[int64](50000), RealtimePeriod: resPtr[uint64](1000000)}), cgroup.Resources{CPURealtimeRuntime: 50000, CPURealtimePeriod: 1000000}},
		{"cpus and mems", cpuRes(specs.LinuxCPU{Cpus: "0-1,3", Mems: "0"}), cgroup.Resources{CpusetCpus: "0-1,3", CpusetMems: "0"}},
		{"realtime 0", cpuRes(specs.LinuxCPU{RealtimeRuntime: resPtr[int64](0), RealtimePeriod: resPtr[uint64](0), Burst: resPtr[uint64](0), Idle: resPtr[int64](0)}), cgroup.Resources{}},
		{"pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 100}}, cgroup.Resources{PidsMax: 100}},
		{"pids -1 is unlimited", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: -1}}, cgroup.Resources{}},
		{"pids 0 is unlimited", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 0}}, cgroup.Resources{}},
		{"empty sections", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{}, Network: &specs.LinuxNetwork{}}, cgroup.Resources{}},
		{"blockIO", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight: resPtr[uint16](300), LeafWeight: resPtr[uint16](0),
			WeightDevice: []specs.LinuxWeightDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: resPtr[uint16](500)},
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}}, // no weight: nothing
			},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1 << 20}},
			ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 2 << 20}},
			ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 100}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 200}},
		}}, cgroup.Resources{
			BlkioWeight: 300, BlkioWeightDevice: []cgroup.WeightDevice{{Major: 8, Minor: 0, Weight: 500}},
			ReadBps: []cgroup.ThrottleDevice{{Major: 8, Rate: 1 << 20}}, WriteBps: []cgroup.ThrottleDevice{{Major: 8, Rate: 2 << 20}},
			ReadIOPS: []cgroup.ThrottleDevice{{Major: 8, Rate: 100}}, WriteIOPS: []cgroup.ThrottleDevice{{Major: 8, Rate: 200}},
		}},
		{"hugepageLimits", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 30}}},
			cgroup.Resources{HugetlbLimits: []cgroup.HugetlbLimit{{PageSize: "2MB", Limit: 1 << 30}}}},
		{"network", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: resPtr[uint32](0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}}},
			cgroup.Resources{NetClassID: 0x100001, NetPriorities: []cgroup.NetPriority{{Interface: "eth0", Priority: 5}}}},
		{"unified", &specs.LinuxResources{Unified: map[string]string{"memory.high": "1G"}}, cgroup.Resources{Unified: map[string]string{"memory.high": "1G"}}},
		{"devices are DeviceRules'", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}, cgroup.Resources{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resources(tt.r)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestResourcesRefused: what chapter 02 does not apply fails with the
// field's name.
func TestResourcesRefused(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	tests := []struct {
		name string
		r    *specs.LinuxResources
		want string
	}{
		{"memory negative", memRes(specs.LinuxMemory{Limit: resPtr[int64](-2)}), "linux.resources.memory.limit -2"},
		{"swap below the limit", memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib), Swap: resPtr[int64](32 * mib)}), "linux.resources.memory.swap 33554432: below"},
		{"swap negative", memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib), Swap: resPtr[int64](-2)}), "linux.resources.memory.swap -2"},
		{"swap without a limit", memRes(specs.LinuxMemory{Swap: resPtr[int64](64 * mib)}), "linux.resources.memory.swap 67108864: needs"},
		{"reservation negative", memRes(specs.LinuxMemory{Reservation: resPtr[int64](-5)}), "linux.resources.memory.reservation"},
		{"swappiness above 100", memRes(specs.LinuxMemory{Swappiness: resPtr[uint64](101)}), "linux.resources.memory.swappiness 101"},
		{"useHierarchy false", memRes(specs.LinuxMemory{UseHierarchy: resPtr(false)}), "linux.resources.memory.useHierarchy"},
		{"checkBeforeUpdate", memRes(specs.LinuxMemory{CheckBeforeUpdate: resPtr(true)}), "linux.resources.memory.checkBeforeUpdate"},
		{"shares too low", cpuRes(specs.LinuxCPU{Shares: resPtr[uint64](1)}), "linux.resources.cpu.shares 1"},
		{"shares too high", cpuRes(specs.LinuxCPU{Shares: resPtr[uint64](262145)}), "linux.resources.cpu.shares"},
		{"period below 1 ms", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](50000), Period: resPtr[uint64](999)}), "linux.resources.cpu.period 999"},
		{"period above 1 s", cpuRes(specs.LinuxCPU{Period: resPtr[uint64](1000001)}), "linux.resources.cpu.period 1000001"},
		{"quota below 1 ms", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](999)}), "linux.resources.cpu.quota 999"},
		{"quota negative", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](-2)}), "linux.resources.cpu.quota -2"},
		{"burst", cpuRes(specs.LinuxCPU{Burst: resPtr[uint64](1000)}), "linux.resources.cpu.burst"},
		{"realtimeRuntime above its period", cpuRes(specs.LinuxCPU{RealtimeRuntime: resPtr[int64](2000000), RealtimePeriod: resPtr[uint64](1000000)}), "linux.resources.cpu.realtimeRuntime 2000000"},
		{"idle", cpuRes(specs.LinuxCPU{Idle: resPtr[int64](1)}), "linux.resources.cpu.idle"},
		{"cpus malformed", cpuRes(specs.LinuxCPU{Cpus: "0-"}), "linux.resources.cpu.cpus"},
		{"mems malformed", cpuRes(specs.LinuxCPU{Mems: "x"}), "linux.resources.cpu.mems"},
		{"blockIO weight out of range", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: resPtr[uint16](5)}}, "linux.resources.blockIO.weight 5"},
		{"blockIO leafWeight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: resPtr[uint16](500)}}, "linux.resources.blockIO.leafWeight"},
		{"blockIO weightDevice out of range", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{Weight: resPtr[uint16](1001)}}}}, "linux.resources.blockIO.weightDevice 1001"},
		{"blockIO weightDevice leafWeight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{Weight: resPtr[uint16](100), LeafWeight: resPtr[uint16](100)}}}}, "weightDevice 0:0 leafWeight"},
		{"rdma", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_1": {HcaHandles: resPtr[uint32](3)}}}, "linux.resources.rdma"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resources(tt.r)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestResourcesApplied: config.json's swap (dockerd's 2x), swappiness,
// CFS period and block I/O throttles reach the container's cgroup
// files, through createCgroup (this host's hierarchy: v1 here).
func TestResourcesApplied(t *testing.T) {
	labtest.Privileged(t)
	h, err := cgroup.System()
	require.NoError(t, err)
	labtest.Need(t, h.Version != cgroup.V2, "the v1 files are checked here; chapter 02's fakes have v2's")
	const mib = 1 << 20
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: resPtr[int64](100 * mib), Swap: resPtr[int64](200 * mib), Swappiness: resPtr[uint64](10)},
		CPU:    &specs.LinuxCPU{Quota: resPtr[int64](25000), Period: resPtr[uint64](50000)},
	}
	if !h.SwapAccounting() {
		r.Memory.Swap = nil
	}
	_, vda := os.Stat("/sys/dev/block/254:0")
	if vda == nil && h.Mounts["blkio"] != "" {
		r.BlockIO = &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 254, Minor: 0}, Rate: mib}}}
	}
	parent := labtest.Unique("berth-r5")
	spec := &specs.Spec{Linux: &specs.Linux{CgroupsPath: "/" + parent + "/ctr", Resources: r}}
	cg, err := createCgroup(spec, "ctr")
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, cg.Destroy())
		assert.NoError(t, h.Under(parent).RemoveParent())
	})
	read := func(ctrl, name string) string {
		b, err := os.ReadFile(filepath.Join(cg.Path(ctrl), name))
		require.NoError(t, err)
		return strings.TrimSpace(string(b))
	}
	assert.Equal(t, "104857600", read("memory", "memory.limit_in_bytes"))
	if r.Memory.Swap != nil {
		assert.Equal(t, "209715200", read("memory", "memory.memsw.limit_in_bytes"))
	}
	assert.Equal(t, "10", read("memory", "memory.swappiness"))
	assert.Equal(t, "50000", read("cpu", "cpu.cfs_period_us"))
	assert.Equal(t, "25000", read("cpu", "cpu.cfs_quota_us"))
	if r.BlockIO != nil {
		assert.Equal(t, "254:0 1048576", read("blkio", "blkio.throttle.read_bps_device"))
	}
}

// memory.kernel is ignored with a warning, as runc 1.1 ignores it (the
// kernel no longer applies it); memory.kernelTCP is chapter 02's
// KernelTCP.
func TestKernelMemory(t *testing.T) {
	const mib = 1 << 20
	var warned []string
	was := Warn
	Warn = func(err error) { warned = append(warned, err.Error()) }
	t.Cleanup(func() { Warn = was })
	r, err := Resources(memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib), Kernel: resPtr[int64](64 * mib), KernelTCP: resPtr[int64](mib)}))
	require.NoError(t, err)
	assert.Equal(t, int64(mib), r.KernelTCP)
	require.Len(t, warned, 1)
	assert.Contains(t, warned[0], "linux.resources.memory.kernel 67108864: kernel memory is no longer limited apart by the kernel: ignored")
}
