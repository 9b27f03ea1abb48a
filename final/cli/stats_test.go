package cli

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The columns of stats, computed from a sample as docker's client does.
func TestStatsRowColumns(t *testing.T) {
	busy := container.StatsResponse{
		ID: "0123456789abcdef0123", Name: "/web",
		CPUStats:    container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 1_500_000_000}, SystemUsage: 12e9, OnlineCPUs: 2},
		PreCPUStats: container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 1_000_000_000}, SystemUsage: 10e9, OnlineCPUs: 2},
		MemoryStats: container.MemoryStats{Usage: 10 << 20, Limit: 64 << 20, Stats: map[string]uint64{"total_inactive_file": 2 << 20}},
		Networks:    map[string]container.NetworkStats{"eth0": {RxBytes: 1000, TxBytes: 2000}, "eth1": {RxBytes: 500}},
		BlkioStats: container.BlkioStats{IoServiceBytesRecursive: []container.BlkioStatEntry{
			{Major: 8, Op: "read", Value: 4096}, {Major: 8, Op: "write", Value: 8192}, {Major: 8, Op: "Total", Value: 12288},
		}},
		PidsStats: container.PidsStats{Current: 3},
	}
	v2 := busy
	v2.MemoryStats = container.MemoryStats{Usage: 10 << 20, Limit: 64 << 20, Stats: map[string]uint64{"inactive_file": 6 << 20}}
	for _, tc := range []struct {
		name string
		s    container.StatsResponse
		want []string
	}{
		{"stopped", container.StatsResponse{ID: "0123456789abcdef0123", Name: "/web"},
			[]string{"0123456789ab", "web", "0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"}},
		{"v1", busy, []string{"0123456789ab", "web", "50.00%", "8MiB / 64MiB", "12.50%", "1.5kB / 2kB", "4.1kB / 8.19kB", "3"}},
		{"v2", v2, []string{"0123456789ab", "web", "50.00%", "4MiB / 64MiB", "6.25%", "1.5kB / 2kB", "4.1kB / 8.19kB", "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := statsRow{container: "web", s: tc.s}
			assert.Equal(t, tc.want, []string{r.ID(), r.Name(), r.CPUPerc(), r.MemUsage(), r.MemPerc(), r.NetIO(), r.BlockIO(), r.PIDs()})
		})
	}
}

// berth stats --no-stream on the fake engine: docker's table, a row per
// container named, the memory limit of --memory.
func TestStatsNoStream(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "s1", "--memory", "64m", "busybox", "sleep", "30")
	e.ok(t, "create", "--name", "s2", "busybox", "true")
	out := e.ok(t, "stats", "--no-stream", "s1", "s2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.Regexp(t, `^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$`, lines[0])
	assert.Regexp(t, `^[0-9a-f]{12} +s1 +[0-9.]+% +1MiB / 64MiB +1\.56% +0B / 0B +0B / 0B +1$`, lines[1])
	assert.Regexp(t, `^[0-9a-f]{12} +s2 +0\.00% +0B / 0B +0\.00% +0B / 0B +0B / 0B +0$`, lines[2])

	assert.Equal(t, "s1 1\n", e.ok(t, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"), "no names: the running containers")
}

// berth stats against berthd: the counters of the container's cgroup
// and network namespace.
func TestBerthdStats(t *testing.T) {
	e := newBerthd(t)
	t.Cleanup(func() { e.removeAll(t) })
	e.ok(t, "run", "-d", "--name", "st1", "--memory", "64m", "busybox", "sh", "-c", "sleep 300 & while :; do :; done")
	row := strings.Split(strings.TrimSpace(e.ok(t, "stats", "--no-stream", "--format",
		"{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.NetIO}}|{{.PIDs}}", "st1")), "|")
	require.Len(t, row, 5, row)
	assert.Equal(t, "st1", row[0])
	assert.NotEqual(t, "0.00%", row[1], "a busy loop uses CPU")
	assert.Regexp(t, ` / 64MiB$`, row[2])
	assert.Regexp(t, `^[0-9.]+[kMG]?B / [0-9.]+[kMG]?B$`, row[3])
	assert.Equal(t, "2", row[4], "sh and sleep")
}
