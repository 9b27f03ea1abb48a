package cgroup

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMemory(t *testing.T) {
	valid := []struct {
		in   string
		want int64
	}{
		{"1048576000", 1048576000},
		{"6291456", MinMemory},
		{"6m", 6 << 20},
		{"32m", 32 << 20},
		{"32M", 32 << 20},
		{"32mb", 32 << 20},
		{"32MB", 32 << 20},
		{"32MiB", 32 << 20},
		{"1g", 1 << 30},
		{"1GB", 1 << 30},
		{"1.5g", 3 << 29},
		{"8192k", 8 << 20},
		{"8192KB", 8 << 20},
		{"10000000b", 10000000},
		{"2t", 2 << 40},
		{" 64m\n", 64 << 20},
	}
	for _, tc := range valid {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMemory(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	invalid := []struct {
		in, msg string
	}{
		{"", "invalid memory limit"},
		{"   ", "invalid memory limit"},
		{"abc", "invalid memory limit"},
		{"m", "invalid memory limit"},
		{"-32m", "invalid memory limit"},
		{"32x", "invalid memory limit"},
		{"32 m", "invalid memory limit"},
		{"1e9", "invalid memory limit"},
		{"1.2.3m", "invalid memory limit"},
		{".m", "invalid memory limit"},
		{"32mm", "invalid memory limit"},
		{"0", "minimum memory limit allowed is 6MB"},
		{"512k", "minimum memory limit allowed is 6MB"},
		{"5m", "minimum memory limit allowed is 6MB"},
		{"6291455", "minimum memory limit allowed is 6MB"},
		{"99999999999999999999", "too large"},
		{"9000000000000g", "too large"},
		{"9000000000000.5g", "too large"},
	}
	for _, tc := range invalid {
		t.Run("invalid "+tc.in, func(t *testing.T) {
			_, err := ParseMemory(tc.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", tc.in), "the error should quote the input")
		})
	}
}

func TestParseCPUs(t *testing.T) {
	n := runtime.NumCPU()
	for _, in := range []string{"0.01", "0.5", "1", fmt.Sprint(n), " 0.25 "} {
		got, err := ParseCPUs(in)
		require.NoError(t, err, in)
		assert.Greater(t, got, 0.0)
	}
	got, err := ParseCPUs("0.5")
	require.NoError(t, err)
	assert.Equal(t, 0.5, got)

	rangeMsg := fmt.Sprintf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
	for _, tc := range []struct{ in, msg string }{
		{"", "invalid CPU limit"},
		{"abc", "invalid CPU limit"},
		{"NaN", "invalid CPU limit"},
		{"Inf", "invalid CPU limit"},
		{"1/2", "invalid CPU limit"},
		{"0", rangeMsg},
		{"-1", rangeMsg},
		{"0.001", rangeMsg},
		{fmt.Sprint(n + 1), rangeMsg},
		{fmt.Sprintf("%d.5", n), rangeMsg},
	} {
		_, err := ParseCPUs(tc.in)
		require.Error(t, err, tc.in)
		assert.Contains(t, err.Error(), tc.msg, tc.in)
	}
}

func TestParsePidsLimit(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "64": 64, " 100 ": 100, "4194304": 4194304} {
		got, err := ParsePidsLimit(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, in := range []string{"", "0", "-1", "abc", "1.5", "10k", "99999999999999999999"} {
		_, err := ParsePidsLimit(in)
		assert.Error(t, err, in)
	}
}

func TestResourcesValidate(t *testing.T) {
	for _, r := range []Resources{
		{},
		{Memory: MinMemory},
		{Memory: 1 << 20}, // below Docker's 6 MiB: the parsers' rule, not the kernel's (runc takes it)
		{Memory: 64 << 20, MemorySwap: 128 << 20},
		{Memory: 64 << 20, MemorySwap: -1},
		{CPUs: 0.5, CPUPeriod: 50000},
		{CPURealtimeRuntime: 50000, CPURealtimePeriod: 1000000},
		{BlkioWeight: 10},
		{HugetlbLimits: []HugetlbLimit{{PageSize: "2MB", Limit: 1 << 21}}},
		{Unified: map[string]string{"memory.high": "1G"}},
		{CPUs: 0.01},
		{CPUs: 64}, // more than this machine has: the kernel accepts it
		{PidsMax: 1},
	} {
		assert.NoError(t, r.validate(), "%+v", r)
	}
	for _, r := range []Resources{
		{Memory: -1},
		{MemorySwap: 64 << 20},
		{Memory: 64 << 20, MemorySwap: 32 << 20},
		{Memory: 64 << 20, MemorySwap: -2},
		{Swappiness: ptr[uint64](101)},
		{CPUPeriod: 999},
		{CPUPeriod: 1000001},
		{CPUs: 0.005, CPUPeriod: 100000},
		{CPUs: 0.5, CPUPeriod: 1000}, // 500 µs of quota
		{CPURealtimeRuntime: 2000000, CPURealtimePeriod: 1000000},
		{BlkioWeight: 9},
		{BlkioWeight: 1001},
		{BlkioWeightDevice: []WeightDevice{{Major: 8, Weight: 5}}},
		{HugetlbLimits: []HugetlbLimit{{PageSize: "2M"}}},
		{NetPriorities: []NetPriority{{Interface: "a b"}}},
		{Unified: map[string]string{"../memory.max": "1"}},
		{Unified: map[string]string{"cgroup.procs": "1"}},
		{CPUs: -0.5},
		{CPUs: 0.004},
		{CPUs: math.NaN()},
		{CPUs: math.Inf(1)},
		{PidsMax: -1},
	} {
		assert.Error(t, r.validate(), "%+v", r)
	}
}

func TestQuota(t *testing.T) {
	assert.Equal(t, int64(50000), quota(0.5))
	assert.Equal(t, int64(1000), quota(0.01))
	assert.Equal(t, int64(150000), quota(1.5))
	assert.Equal(t, int64(33000), quota(0.33))
}
