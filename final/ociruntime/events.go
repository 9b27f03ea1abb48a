package ociruntime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// Event is one line of `berth-runtime events`, in runc's JSON shape:
// {"type":"stats","id":"ID","data":{...}} every interval, and
// {"type":"oom","id":"ID"} when the kernel's OOM killer has killed a
// process of the container.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// Stats is a stats event's data: runc's field names for what chapter
// 02's Stats reads. A counter berth does not read (per-CPU, user and
// kernel time, throttling, swap, hugetlb) is left out rather than
// reported as a zero that would look measured.
type Stats struct {
	CPU    CPUStats    `json:"cpu"`
	Memory MemoryStats `json:"memory"`
	Pids   PidsStats   `json:"pids"`
	Blkio  BlkioStats  `json:"blkio"`
}

// CPUStats: the CPU time used, ever, in nanoseconds.
type CPUStats struct {
	Usage struct {
		Total uint64 `json:"total"`
	} `json:"usage"`
}

// MemoryStats: bytes charged now (usage), the highest so far (max), the
// limit (absent when there is none), the page cache, and memory.stat as
// the kernel writes it (raw).
type MemoryStats struct {
	Cache uint64            `json:"cache,omitempty"`
	Usage MemoryEntry       `json:"usage"`
	Raw   map[string]uint64 `json:"raw,omitempty"`
}

// MemoryEntry is runc's memory counter.
type MemoryEntry struct {
	Limit uint64 `json:"limit,omitempty"`
	Usage uint64 `json:"usage"`
	Max   uint64 `json:"max,omitempty"`
}

// PidsStats: tasks now, and the limit (absent when there is none).
type PidsStats struct {
	Current uint64 `json:"current"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioStats: bytes read and written per device, ever.
type BlkioStats struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
}

// BlkioEntry is one device's count for one operation ("Read", "Write").
type BlkioEntry struct {
	Major uint64 `json:"major"`
	Minor uint64 `json:"minor"`
	Op    string `json:"op"`
	Value uint64 `json:"value"`
}

// statsOf converts chapter 02's Stats.
func statsOf(s cgroup.Stats) Stats {
	var out Stats
	out.CPU.Usage.Total = uint64(s.CPUUsage.Nanoseconds())
	out.Memory.Usage = MemoryEntry{Limit: pos(s.MemoryLimit), Usage: pos(s.MemoryUsage), Max: pos(s.MemoryPeak)}
	if len(s.MemoryStat) > 0 {
		out.Memory.Raw = map[string]uint64{}
		for k, v := range s.MemoryStat {
			out.Memory.Raw[k] = pos(v)
		}
		// v1's "cache", v2's "file": the page cache.
		out.Memory.Cache = out.Memory.Raw["cache"] + out.Memory.Raw["file"]
	}
	out.Pids = PidsStats{Current: pos(s.Pids), Limit: pos(s.PidsLimit)}
	for _, d := range s.IO {
		out.Blkio.IoServiceBytesRecursive = append(out.Blkio.IoServiceBytesRecursive,
			BlkioEntry{Major: d.Major, Minor: d.Minor, Op: "Read", Value: pos(d.Read)},
			BlkioEntry{Major: d.Major, Minor: d.Minor, Op: "Write", Value: pos(d.Write)})
	}
	return out
}

func pos(n int64) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// Events writes container id's events to w, one JSON object a line
// (`berth-runtime events`). With once, it writes one stats event and
// returns (--stats). Otherwise it writes a stats event every interval
// and an "oom" event whenever the OOM kill counter (chapter 02's
// OOMKills) has grown since the last look, until the container's init
// has exited.
//
// runc learns of an OOM kill at once, through an eventfd the kernel
// signals; reading the counter at each interval instead reports it up
// to one interval late, but needs no descriptor held open on the
// cgroup, and misses no kill: the counter only grows.
func Events(root, id string, interval time.Duration, once bool, w io.Writer) error {
	if !once && interval <= 0 {
		return fmt.Errorf("--interval %v: must be positive", interval)
	}
	rec, cg, err := liveCgroup(root, id)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	emitStats := func() error {
		s, err := cg.Stats()
		if err != nil {
			return fmt.Errorf("container %s: %w", rec.ID, err)
		}
		return enc.Encode(Event{Type: "stats", ID: rec.ID, Data: statsOf(s)})
	}
	if once {
		return emitStats()
	}
	kills, err := cg.OOMKills()
	oomWatch := err == nil
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("container %s: %w", rec.ID, err)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if oomWatch {
			n, err := cg.OOMKills()
			if err != nil {
				if !rec.Alive() {
					return nil
				}
				return fmt.Errorf("container %s: %w", rec.ID, err)
			}
			if n > kills {
				kills = n
				if err := enc.Encode(Event{Type: "oom", ID: rec.ID}); err != nil {
					return err
				}
			}
		}
		if !rec.Alive() {
			return nil
		}
		if err := emitStats(); err != nil {
			if !rec.Alive() {
				return nil // gone between the two looks
			}
			return err
		}
		<-tick.C
	}
}
