package ociruntime

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		{"memory limit", memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib)}), cgroup.Resources{Memory: 64 * mib}},
		{"memory limit -1 is unlimited", memRes(specs.LinuxMemory{Limit: resPtr[int64](-1)}), cgroup.Resources{}},
		{"memory limit 0 is not set", memRes(specs.LinuxMemory{Limit: resPtr[int64](0)}), cgroup.Resources{}},
		{"swap equal to the limit (CRI's no-swap)", memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib), Swap: resPtr[int64](64 * mib)}), cgroup.Resources{Memory: 64 * mib}},
		{"swap -1 without a limit", memRes(specs.LinuxMemory{Limit: resPtr[int64](-1), Swap: resPtr[int64](-1)}), cgroup.Resources{}},
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
		{"quota, period 100000", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](250000), Period: resPtr[uint64](100000)}), cgroup.Resources{CPUs: 2.5}},
		{"quota -1 is unlimited", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](-1), Period: resPtr[uint64](100000)}), cgroup.Resources{}},
		{"cpus and mems", cpuRes(specs.LinuxCPU{Cpus: "0-1,3", Mems: "0"}), cgroup.Resources{CpusetCpus: "0-1,3", CpusetMems: "0"}},
		{"realtime 0", cpuRes(specs.LinuxCPU{RealtimeRuntime: resPtr[int64](0), RealtimePeriod: resPtr[uint64](0), Burst: resPtr[uint64](0), Idle: resPtr[int64](0)}), cgroup.Resources{}},
		{"pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 100}}, cgroup.Resources{PidsMax: 100}},
		{"pids -1 is unlimited", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: -1}}, cgroup.Resources{}},
		{"pids 0 is unlimited", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 0}}, cgroup.Resources{}},
		{"empty sections", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{}, Network: &specs.LinuxNetwork{}}, cgroup.Resources{}},
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
	w := specs.LinuxWeightDevice{Weight: resPtr[uint16](10)}
	th := []specs.LinuxThrottleDevice{{Rate: 1}}
	tests := []struct {
		name string
		r    *specs.LinuxResources
		want string
	}{
		{"memory below 6 MiB", memRes(specs.LinuxMemory{Limit: resPtr[int64](mib)}), "linux.resources.memory.limit 1048576"},
		{"memory negative", memRes(specs.LinuxMemory{Limit: resPtr[int64](-2)}), "linux.resources.memory.limit -2"},
		{"swap above the limit", memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib), Swap: resPtr[int64](128 * mib)}), "linux.resources.memory.swap 134217728"},
		{"unlimited swap with a limit", memRes(specs.LinuxMemory{Limit: resPtr[int64](64 * mib), Swap: resPtr[int64](-1)}), "linux.resources.memory.swap -1"},
		{"swap without a limit", memRes(specs.LinuxMemory{Swap: resPtr[int64](64 * mib)}), "linux.resources.memory.swap"},
		{"reservation negative", memRes(specs.LinuxMemory{Reservation: resPtr[int64](-5)}), "linux.resources.memory.reservation"},
		{"kernel", memRes(specs.LinuxMemory{Kernel: resPtr[int64](64 * mib)}), "linux.resources.memory.kernel"},
		{"kernelTCP", memRes(specs.LinuxMemory{KernelTCP: resPtr[int64](mib)}), "linux.resources.memory.kernelTCP"},
		{"swappiness", memRes(specs.LinuxMemory{Swappiness: resPtr[uint64](0)}), "linux.resources.memory.swappiness"},
		{"useHierarchy false", memRes(specs.LinuxMemory{UseHierarchy: resPtr(false)}), "linux.resources.memory.useHierarchy"},
		{"checkBeforeUpdate", memRes(specs.LinuxMemory{CheckBeforeUpdate: resPtr(true)}), "linux.resources.memory.checkBeforeUpdate"},
		{"shares too low", cpuRes(specs.LinuxCPU{Shares: resPtr[uint64](1)}), "linux.resources.cpu.shares 1"},
		{"shares too high", cpuRes(specs.LinuxCPU{Shares: resPtr[uint64](262145)}), "linux.resources.cpu.shares"},
		{"another period", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](50000), Period: resPtr[uint64](50000)}), "linux.resources.cpu.period 50000"},
		{"quota below 1 ms", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](999)}), "linux.resources.cpu.quota 999"},
		{"quota negative", cpuRes(specs.LinuxCPU{Quota: resPtr[int64](-2)}), "linux.resources.cpu.quota -2"},
		{"burst", cpuRes(specs.LinuxCPU{Burst: resPtr[uint64](1000)}), "linux.resources.cpu.burst"},
		{"realtimeRuntime", cpuRes(specs.LinuxCPU{RealtimeRuntime: resPtr[int64](950000)}), "linux.resources.cpu.realtimeRuntime"},
		{"realtimePeriod", cpuRes(specs.LinuxCPU{RealtimePeriod: resPtr[uint64](1000000)}), "linux.resources.cpu.realtimePeriod"},
		{"idle", cpuRes(specs.LinuxCPU{Idle: resPtr[int64](1)}), "linux.resources.cpu.idle"},
		{"cpus malformed", cpuRes(specs.LinuxCPU{Cpus: "0-"}), "linux.resources.cpu.cpus"},
		{"mems malformed", cpuRes(specs.LinuxCPU{Mems: "x"}), "linux.resources.cpu.mems"},
		{"blockIO weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: resPtr[uint16](500)}}, "linux.resources.blockIO.weight"},
		{"blockIO leafWeight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: resPtr[uint16](500)}}, "linux.resources.blockIO.leafWeight"},
		{"blockIO weightDevice", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{w}}}, "linux.resources.blockIO.weightDevice"},
		{"blockIO throttleReadBpsDevice", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: th}}, "blockIO.throttleReadBpsDevice"},
		{"blockIO throttleWriteBpsDevice", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteBpsDevice: th}}, "blockIO.throttleWriteBpsDevice"},
		{"blockIO throttleReadIOPSDevice", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadIOPSDevice: th}}, "blockIO.throttleReadIOPSDevice"},
		{"blockIO throttleWriteIOPSDevice", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteIOPSDevice: th}}, "blockIO.throttleWriteIOPSDevice"},
		{"hugepageLimits", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 30}}}, "linux.resources.hugepageLimits (2MB)"},
		{"network classID", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: resPtr[uint32](0x100001)}}, "linux.resources.network.classID"},
		{"network priorities", &specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 1}}}}, "linux.resources.network.priorities"},
		{"rdma", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_1": {HcaHandles: resPtr[uint32](3)}}}, "linux.resources.rdma"},
		{"unified", &specs.LinuxResources{Unified: map[string]string{"memory.high": "1G", "io.weight": "100"}}, "linux.resources.unified (io.weight, memory.high)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resources(tt.r)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
