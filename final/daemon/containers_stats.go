package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// ContainerStats samples a container's counters for docker stats, in
// Docker's shape. The counters come from the container's cgroup
// (chapter 02), found under the parent recorded at create (cgroups.go);
// the network counters from its network namespace, through /proc/PID/
// net/dev of its init. The API server pairs samples for the CPU %.
//
// A container that does not run has no cgroup: dockerd then answers
// with only the name and ID, all counters absent, and so does berth.
func (d *Daemon) ContainerStats(_ context.Context, name string) (container.StatsResponse, error) {
	e, err := d.lookup(name)
	if err != nil {
		return container.StatsResponse{}, err
	}
	empty := container.StatsResponse{ID: e.id, Name: "/" + e.c.Name()}
	st, err := e.c.State()
	if err != nil || st.Pid == 0 || !e.c.Running() {
		return empty, nil
	}
	cg, err := cgroupOf(e)
	if errors.Is(err, fs.ErrNotExist) {
		return empty, nil // it has just exited
	}
	if err != nil {
		return container.StatsResponse{}, err
	}
	now := time.Now()
	cs, err := cg.Stats()
	if errors.Is(err, fs.ErrNotExist) {
		return empty, nil
	}
	if err != nil {
		return container.StatsResponse{}, err
	}
	out := statsResponse(cs)
	out.ID, out.Name, out.Read = empty.ID, empty.Name, now
	out.CPUStats.SystemUsage, out.CPUStats.OnlineCPUs, err = hostCPU("/proc/stat")
	if err != nil {
		return container.StatsResponse{}, err
	}
	if out.MemoryStats.Limit == 0 {
		// No limit: dockerd shows the host's memory, the real bound.
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) == nil {
			out.MemoryStats.Limit = uint64(si.Totalram) * uint64(si.Unit)
		}
	}
	// A container with --network none has only lo, and no "networks":
	// dockerd leaves the loopback out too.
	out.Networks, err = netDev(fmt.Sprintf("/proc/%d/net/dev", st.Pid))
	if errors.Is(err, fs.ErrNotExist) {
		return empty, nil // init has just exited
	}
	if err != nil {
		return container.StatsResponse{}, err
	}
	return out, nil
}

// statsResponse puts a cgroup's counters in Docker's fields. Docker's
// client computes "MEM USAGE" as usage minus the inactive page cache
// (memory.stat's total_inactive_file on v1, inactive_file on v2), so
// memory.stat goes out whole, as dockerd sends it. os_type stays out, as
// in dockerd 20.10's answer.
func statsResponse(cs cgroup.Stats) container.StatsResponse {
	var out container.StatsResponse
	out.CPUStats.CPUUsage.TotalUsage = uint64(cs.CPUUsage)
	out.MemoryStats = container.MemoryStats{
		Usage:    uint64(cs.MemoryUsage),
		MaxUsage: uint64(cs.MemoryPeak),
		Limit:    uint64(cs.MemoryLimit),
	}
	if cs.MemoryStat != nil {
		out.MemoryStats.Stats = make(map[string]uint64, len(cs.MemoryStat))
		for k, v := range cs.MemoryStat {
			out.MemoryStats.Stats[k] = uint64(v)
		}
	}
	out.PidsStats = container.PidsStats{Current: uint64(cs.Pids), Limit: uint64(cs.PidsLimit)}
	for _, d := range cs.IO {
		out.BlkioStats.IoServiceBytesRecursive = append(out.BlkioStats.IoServiceBytesRecursive,
			container.BlkioStatEntry{Major: d.Major, Minor: d.Minor, Op: "read", Value: uint64(d.Read)},
			container.BlkioStatEntry{Major: d.Major, Minor: d.Minor, Op: "write", Value: uint64(d.Write)})
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// hostCPU reads the host's CPU time, in nanoseconds, and the number of
// online CPUs from /proc/stat. The first line sums all CPUs: user, nice,
// system, idle, iowait, irq, softirq (dockerd's sum; steal and guest are
// left out as it does); one "cpuN" line follows per online CPU.
func hostCPU(path string) (system uint64, cpus uint32, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) > 7 && fields[0] == "cpu":
			var ticks uint64
			for _, v := range fields[1:8] {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return 0, 0, fmt.Errorf("parse %s: %q: %w", path, sc.Text(), err)
				}
				ticks += n
			}
			system = ticks * uint64(time.Second/clockTicks)
		case len(fields) > 0 && strings.HasPrefix(fields[0], "cpu"):
			cpus++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", path, err)
	}
	return system, cpus, nil
}

// netDev reads the per-interface counters of /proc/PID/net/dev, which
// shows the network namespace of process PID. Two header lines, then
// "  eth0: rxbytes rxpackets rxerrs rxdrop fifo frame compressed
// multicast txbytes txpackets txerrs txdrop ...". The loopback is left
// out, as dockerd does; nil when only it is there.
func netDev(path string) (map[string]container.NetworkStats, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out map[string]container.NetworkStats
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 12 {
			continue
		}
		var n [12]uint64
		for i := range n {
			if n[i], err = strconv.ParseUint(f[i], 10, 64); err != nil {
				return nil, fmt.Errorf("parse %s: %q: %w", path, line, err)
			}
		}
		if out == nil {
			out = map[string]container.NetworkStats{}
		}
		out[name] = container.NetworkStats{
			RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11],
		}
	}
	return out, nil
}
