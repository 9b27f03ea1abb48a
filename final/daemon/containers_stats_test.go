package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// statsRow is the format of the docker stats lines the tests compare.
const statsRow = "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}"

// docker stats --no-stream through the real docker CLI: a memory limit,
// a busy loop's CPU, the processes of a container, and its table.
func TestStats_DockerCLI(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "busy", "--memory", "64m", "busybox", "sh", "-c", "while :; do :; done")
	// sh and two sleeps: three pids.
	l.ok("run", "-d", "--name", "three", "busybox", "sh", "-c", "sleep 300 & sleep 300 & wait")
	eventually(t, func() bool {
		return strings.Count(l.ok("top", "three"), "sleep 300") >= 2
	}, "both sleeps run")

	table := l.ok("stats", "--no-stream", "busy", "three")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	require.Len(t, lines, 3, table)
	assert.Regexp(t, `^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$`, lines[0])
	assert.Contains(t, table, " busy ")
	assert.Contains(t, table, " three ")

	row := strings.Split(strings.TrimSpace(l.ok("stats", "--no-stream", "--format", statsRow, "busy")), "|")
	require.Len(t, row, 7, row)
	assert.Equal(t, "busy", row[0])
	assert.NotEqual(t, "0.00%", row[1], "a busy loop uses CPU")
	assert.Regexp(t, `^[0-9.]+[KMG]?i?B / 64MiB$`, row[2])
	assert.Regexp(t, `^[0-9.]+[kMG]?B / [0-9.]+[kMG]?B$`, row[4])
	assert.Equal(t, "1", row[6], "sh alone")

	row = strings.Split(strings.TrimSpace(l.ok("stats", "--no-stream", "--format", statsRow, "three")), "|")
	require.Len(t, row, 7, row)
	assert.Equal(t, "3", row[6], "sh and two sleeps")
	assert.NotContains(t, row[2], "/ 0B", "no limit: the host's memory")

	// The JSON: the network counters come from the container's netns.
	var st container.StatsResponse
	require.NoError(t, json.Unmarshal([]byte(rawGet(t, l.sock, "/v1.41/containers/three/stats?stream=false&one-shot=true")), &st))
	assert.Equal(t, "/three", st.Name)
	assert.Equal(t, uint64(3), st.PidsStats.Current)
	assert.NotZero(t, st.CPUStats.CPUUsage.TotalUsage)
	assert.NotZero(t, st.CPUStats.SystemUsage)
	assert.NotZero(t, st.CPUStats.OnlineCPUs)
	assert.NotContains(t, st.Networks, "lo")
	inactive := "inactive_file" // v2
	if v, err := cgroup.Detect(); err == nil && v == cgroup.V1 {
		inactive = "total_inactive_file"
	}
	assert.Contains(t, st.MemoryStats.Stats, inactive, "docker stats subtracts it from the usage")
}

// A container that does not run: dockerd 20.10 answers stream=false
// with only its name and ID, and docker stats draws a row of zeros.
// berthd must draw the same row.
func TestSameAsDockerd_StatsOfAStoppedContainer(t *testing.T) {
	l := newLab(t)
	d := labtest.StartDockerd(t)
	for _, e := range sideBySide(t, l, d) {
		must := e.mustFor(t)
		name := labtest.Unique("stopped")
		must("create", "--name", name, "busybox", "true")
		out := must("stats", "--no-stream", "--format", statsRow, name)
		assert.Equal(t, name+"|0.00%|0B / 0B|0.00%|0B / 0B|0B / 0B|0\n", out, e.name)
		must("rm", name)
	}
	// The raw answers, on both sockets: the same JSON but for the ID.
	dockerdID, err := d.Run("create", "--name", "stopped", "busybox", "true")
	require.NoError(t, err)
	var bodies []string
	for _, e := range []struct{ sock, id string }{
		{l.sock, strings.TrimSpace(l.ok("create", "--name", "stopped", "busybox", "true"))},
		{strings.TrimPrefix(d.Host(), "unix://"), strings.TrimSpace(dockerdID)},
	} {
		body := rawGet(t, e.sock, "/v1.41/containers/stopped/stats?stream=false")
		require.Contains(t, body, e.id)
		bodies = append(bodies, strings.ReplaceAll(body, e.id, "ID"))
	}
	assert.JSONEq(t, bodies[1], bodies[0], "dockerd, berthd")
}

// A stream on berthd: a sample a second, each with the previous CPU
// counters; once the container stops, empty samples, as dockerd's.
func TestStatsStream(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "streamed", "busybox", "sleep", "300")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://berth/v1.41/containers/streamed/stats", nil)
	require.NoError(t, err)
	c := &http.Client{Transport: &http.Transport{DialContext: unixDialer(l.sock)}}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var a, b container.StatsResponse
	require.NoError(t, dec.Decode(&a))
	require.NoError(t, dec.Decode(&b))
	assert.Equal(t, uint64(1), a.PidsStats.Current)
	assert.True(t, a.PreRead.IsZero())
	assert.Equal(t, a.Read, b.PreRead)
	assert.Equal(t, a.CPUStats, b.PreCPUStats)

	l.ok("kill", "streamed")
	for {
		var s container.StatsResponse
		require.NoError(t, dec.Decode(&s), "the stream goes on after the stop")
		if s.Read.IsZero() {
			assert.Equal(t, "/streamed", s.Name)
			assert.Zero(t, s.PidsStats.Current)
			break
		}
	}
}

// rawGet is GET path on the unix socket sock, its body.
func rawGet(t *testing.T, sock, path string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: unixDialer(sock)}}
	resp, err := c.Get("http://berth" + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	return string(data)
}

// The parsers, on files shaped like the kernel's.
func TestStatsParsers(t *testing.T) {
	dir := t.TempDir()
	stat := filepath.Join(dir, "stat")
	require.NoError(t, os.WriteFile(stat, []byte("cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\ncpu1 50 1 15 200 3 3 4 4 0 0\nintr 1 2\nctxt 9\n"), 0o644))
	system, cpus, err := hostCPU(stat)
	require.NoError(t, err)
	assert.Equal(t, uint64(550)*uint64(10*time.Millisecond), system, "user..softirq, steal left out")
	assert.Equal(t, uint32(2), cpus)

	dev := filepath.Join(dir, "dev")
	require.NoError(t, os.WriteFile(dev, []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    1296      16    1    2    0     0          0         0      726       9    3    4    0     0       0          0
`), 0o644))
	nets, err := netDev(dev)
	require.NoError(t, err)
	assert.Equal(t, map[string]container.NetworkStats{"eth0": {
		RxBytes: 1296, RxPackets: 16, RxErrors: 1, RxDropped: 2,
		TxBytes: 726, TxPackets: 9, TxErrors: 3, TxDropped: 4,
	}}, nets)

	require.NoError(t, os.WriteFile(dev, []byte("h\nh\n    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n"), 0o644))
	nets, err = netDev(dev)
	require.NoError(t, err)
	assert.Nil(t, nets, "--network none: no networks, as dockerd")

	st := statsResponse(cgroup.Stats{
		CPUUsage: 2 * time.Second, MemoryUsage: 4096, MemoryPeak: 8192, MemoryLimit: 64 << 20,
		Pids: 3, PidsLimit: 10, MemoryStat: map[string]int64{"inactive_file": 1024},
		IO: []cgroup.DeviceIO{{Major: 8, Minor: 0, Read: 512, Write: 1024}},
	})
	assert.Equal(t, uint64(2e9), st.CPUStats.CPUUsage.TotalUsage)
	assert.Equal(t, container.MemoryStats{Usage: 4096, MaxUsage: 8192, Limit: 64 << 20, Stats: map[string]uint64{"inactive_file": 1024}}, st.MemoryStats)
	assert.Equal(t, container.PidsStats{Current: 3, Limit: 10}, st.PidsStats)
	assert.Equal(t, []container.BlkioStatEntry{
		{Major: 8, Minor: 0, Op: "read", Value: 512},
		{Major: 8, Minor: 0, Op: "write", Value: 1024},
	}, st.BlkioStats.IoServiceBytesRecursive)
}

// The keys of a running container's sample, beside dockerd's: the same
// objects, and in memory_stats the same counters (the host's cgroup
// version decides which memory.stat lines there are).
func TestSameAsDockerd_StatsKeys(t *testing.T) {
	l := newLab(t)
	d := labtest.StartDockerd(t)
	name := labtest.Unique("keys")
	_, err := d.Run("import", labtest.BusyboxRootfs(t)+".tar", "busybox")
	require.NoError(t, err)
	var keys []map[string][]string
	for _, e := range []struct{ sock, run string }{
		{l.sock, ""},
		{strings.TrimPrefix(d.Host(), "unix://"), "dockerd"},
	} {
		// Without a network (the lab's dockerd has no bridge): neither has
		// "networks", which leaves out the loopback.
		args := []string{"run", "-d", "--name", name, "--network", "none", "--memory", "64m", "busybox", "sleep", "300"}
		if e.run == "" {
			l.ok(args...)
		} else {
			_, err := d.Run(args...)
			require.NoError(t, err)
		}
		var raw map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(rawGet(t, e.sock, "/v1.41/containers/"+name+"/stats?stream=false&one-shot=true")), &raw))
		var mem map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw["memory_stats"], &mem))
		var memStats map[string]uint64
		require.NoError(t, json.Unmarshal(mem["stats"], &memStats))
		keys = append(keys, map[string][]string{"top": sortedKeys(raw), "memory_stats": sortedKeys(mem), "memory_stats.stats": sortedKeys(memStats)})
	}
	assert.Equal(t, keys[1]["top"], keys[0]["top"], "berthd, dockerd")
	assert.Subset(t, keys[0]["memory_stats"], []string{"usage", "limit", "stats"})
	assert.Subset(t, keys[0]["memory_stats.stats"], keys[1]["memory_stats.stats"], "dockerd's memory.stat lines are all there")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
