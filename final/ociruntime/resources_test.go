package ociruntime

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

func i64(v int64) *int64                            { return &v }
func u64(v uint64) *uint64                          { return &v }
func u32(v uint32) *uint32                          { return &v }
func u16(v uint16) *uint16                          { return &v }
func boolp(v bool) *bool                            { return &v }
func uintp(v uint) *uint                            { return &v }
func mem(m specs.LinuxMemory) *specs.LinuxResources { return &specs.LinuxResources{Memory: &m} }
func cpu(c specs.LinuxCPU) *specs.LinuxResources    { return &specs.LinuxResources{CPU: &c} }

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
		{"memory limit", mem(specs.LinuxMemory{Limit: i64(64 * mib)}), cgroup.Resources{Memory: 64 * mib}},
		{"memory limit -1 is unlimited", mem(specs.LinuxMemory{Limit: i64(-1)}), cgroup.Resources{}},
		{"memory limit 0 is not set", mem(specs.LinuxMemory{Limit: i64(0)}), cgroup.Resources{}},
		{"swap equal to the limit (CRI's no-swap)", mem(specs.LinuxMemory{Limit: i64(64 * mib), Swap: i64(64 * mib)}), cgroup.Resources{Memory: 64 * mib}},
		{"swap -1 without a limit", mem(specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)}), cgroup.Resources{}},
		{"reservation", mem(specs.LinuxMemory{Reservation: i64(32 * mib)}), cgroup.Resources{MemoryReservation: 32 * mib}},
		{"reservation -1", mem(specs.LinuxMemory{Reservation: i64(-1)}), cgroup.Resources{}},
		{"disableOOMKiller", mem(specs.LinuxMemory{DisableOOMKiller: boolp(true)}), cgroup.Resources{OOMKillDisable: true}},
		{"disableOOMKiller false", mem(specs.LinuxMemory{DisableOOMKiller: boolp(false)}), cgroup.Resources{}},
		{"useHierarchy true", mem(specs.LinuxMemory{UseHierarchy: boolp(true)}), cgroup.Resources{}},
		{"kernel -1 (unlimited, as berth)", mem(specs.LinuxMemory{Kernel: i64(-1), KernelTCP: i64(0)}), cgroup.Resources{}},
		{"checkBeforeUpdate false", mem(specs.LinuxMemory{CheckBeforeUpdate: boolp(false)}), cgroup.Resources{}},
		{"shares", cpu(specs.LinuxCPU{Shares: u64(512)}), cgroup.Resources{CPUShares: 512}},
		{"shares 0 is not set", cpu(specs.LinuxCPU{Shares: u64(0)}), cgroup.Resources{}},
		{"quota, default period", cpu(specs.LinuxCPU{Quota: i64(50000)}), cgroup.Resources{CPUs: 0.5}},
		{"quota, period 100000", cpu(specs.LinuxCPU{Quota: i64(250000), Period: u64(100000)}), cgroup.Resources{CPUs: 2.5}},
		{"quota -1 is unlimited", cpu(specs.LinuxCPU{Quota: i64(-1), Period: u64(100000)}), cgroup.Resources{}},
		{"cpus and mems", cpu(specs.LinuxCPU{Cpus: "0-1,3", Mems: "0"}), cgroup.Resources{CpusetCpus: "0-1,3", CpusetMems: "0"}},
		{"realtime 0", cpu(specs.LinuxCPU{RealtimeRuntime: i64(0), RealtimePeriod: u64(0), Burst: u64(0), Idle: i64(0)}), cgroup.Resources{}},
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
	w := specs.LinuxWeightDevice{Weight: u16(10)}
	th := []specs.LinuxThrottleDevice{{Rate: 1}}
	tests := []struct {
		name string
		r    *specs.LinuxResources
		want string
	}{
		{"memory below 6 MiB", mem(specs.LinuxMemory{Limit: i64(mib)}), "linux.resources.memory.limit 1048576"},
		{"memory negative", mem(specs.LinuxMemory{Limit: i64(-2)}), "linux.resources.memory.limit -2"},
		{"swap above the limit", mem(specs.LinuxMemory{Limit: i64(64 * mib), Swap: i64(128 * mib)}), "linux.resources.memory.swap 134217728"},
		{"unlimited swap with a limit", mem(specs.LinuxMemory{Limit: i64(64 * mib), Swap: i64(-1)}), "linux.resources.memory.swap -1"},
		{"swap without a limit", mem(specs.LinuxMemory{Swap: i64(64 * mib)}), "linux.resources.memory.swap"},
		{"reservation negative", mem(specs.LinuxMemory{Reservation: i64(-5)}), "linux.resources.memory.reservation"},
		{"kernel", mem(specs.LinuxMemory{Kernel: i64(64 * mib)}), "linux.resources.memory.kernel"},
		{"kernelTCP", mem(specs.LinuxMemory{KernelTCP: i64(mib)}), "linux.resources.memory.kernelTCP"},
		{"swappiness", mem(specs.LinuxMemory{Swappiness: u64(0)}), "linux.resources.memory.swappiness"},
		{"useHierarchy false", mem(specs.LinuxMemory{UseHierarchy: boolp(false)}), "linux.resources.memory.useHierarchy"},
		{"checkBeforeUpdate", mem(specs.LinuxMemory{CheckBeforeUpdate: boolp(true)}), "linux.resources.memory.checkBeforeUpdate"},
		{"shares too low", cpu(specs.LinuxCPU{Shares: u64(1)}), "linux.resources.cpu.shares 1"},
		{"shares too high", cpu(specs.LinuxCPU{Shares: u64(262145)}), "linux.resources.cpu.shares"},
		{"another period", cpu(specs.LinuxCPU{Quota: i64(50000), Period: u64(50000)}), "linux.resources.cpu.period 50000"},
		{"quota below 1 ms", cpu(specs.LinuxCPU{Quota: i64(999)}), "linux.resources.cpu.quota 999"},
		{"quota negative", cpu(specs.LinuxCPU{Quota: i64(-2)}), "linux.resources.cpu.quota -2"},
		{"burst", cpu(specs.LinuxCPU{Burst: u64(1000)}), "linux.resources.cpu.burst"},
		{"realtimeRuntime", cpu(specs.LinuxCPU{RealtimeRuntime: i64(950000)}), "linux.resources.cpu.realtimeRuntime"},
		{"realtimePeriod", cpu(specs.LinuxCPU{RealtimePeriod: u64(1000000)}), "linux.resources.cpu.realtimePeriod"},
		{"idle", cpu(specs.LinuxCPU{Idle: i64(1)}), "linux.resources.cpu.idle"},
		{"cpus malformed", cpu(specs.LinuxCPU{Cpus: "0-"}), "linux.resources.cpu.cpus"},
		{"mems malformed", cpu(specs.LinuxCPU{Mems: "x"}), "linux.resources.cpu.mems"},
		{"blockIO weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}}, "linux.resources.blockIO.weight"},
		{"blockIO leafWeight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: u16(500)}}, "linux.resources.blockIO.leafWeight"},
		{"blockIO weightDevice", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{w}}}, "linux.resources.blockIO.weightDevice"},
		{"blockIO throttleReadBpsDevice", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: th}}, "blockIO.throttleReadBpsDevice"},
		{"blockIO throttleWriteBpsDevice", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteBpsDevice: th}}, "blockIO.throttleWriteBpsDevice"},
		{"blockIO throttleReadIOPSDevice", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadIOPSDevice: th}}, "blockIO.throttleReadIOPSDevice"},
		{"blockIO throttleWriteIOPSDevice", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteIOPSDevice: th}}, "blockIO.throttleWriteIOPSDevice"},
		{"hugepageLimits", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 30}}}, "linux.resources.hugepageLimits (2MB)"},
		{"network classID", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(0x100001)}}, "linux.resources.network.classID"},
		{"network priorities", &specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 1}}}}, "linux.resources.network.priorities"},
		{"rdma", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_1": {HcaHandles: u32(3)}}}, "linux.resources.rdma"},
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
