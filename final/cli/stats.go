package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

const defaultStatsFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeaders = map[string]string{
	"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

func newStatsCommand(c *CLI) *cobra.Command {
	var (
		noStream bool
		format   string
	)
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		Long: `Show the CPU, memory, network, block I/O and process counts of
containers: the running ones, or those named. The daemon reads them from
each container's cgroup and network namespace; CPU % is the CPU time
used in one second, as a share of one CPU (200% is two CPUs busy).

Without --no-stream the table is redrawn every second until interrupted.
--format takes a Go template over .ID .Container .Name .CPUPerc
.MemUsage .MemPerc .NetIO .BlockIO .PIDs.`,
		Example: `  berth stats --no-stream
  berth stats web db
  berth stats --no-stream --format '{{.Name}} {{.MemUsage}}' web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			for {
				names := args
				if len(names) == 0 {
					res, err := cl.ContainerList(ctx, client.ContainerListOptions{})
					if err != nil {
						return err
					}
					for _, ctr := range res.Items {
						names = append(names, ctr.ID)
					}
				}
				rows, err := sampleStats(ctx, cl, names)
				if err != nil && ctx.Err() != nil {
					return nil // interrupted
				}
				if err != nil {
					return err
				}
				if !noStream {
					fmt.Fprint(c.Out, "\033[2J\033[H") // clear the terminal, cursor home
				}
				if err := writeFormatted(c.Out, format, defaultStatsFormat, statsHeaders, rows); err != nil {
					return err
				}
				if noStream || ctx.Err() != nil {
					return nil
				}
			}
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	fs.StringVar(&format, "format", "", tableFormatHelp)
	return cmd
}

// sampleStats asks the daemon for one sample of each container, all at
// once: each answer takes a second, the interval over which the daemon
// measures the CPU.
func sampleStats(ctx context.Context, cl *client.Client, names []string) ([]statsRow, error) {
	rows := make([]statsRow, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows[i].container = name
			res, err := cl.ContainerStats(ctx, name, client.ContainerStatsOptions{IncludePreviousSample: true})
			if err != nil {
				errs[i] = err
				return
			}
			defer res.Body.Close()
			errs[i] = json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&rows[i].s)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// statsRow is one container of `stats`; its methods are the --format
// fields, computed from a sample as docker's client computes them.
type statsRow struct {
	container string // as named on the command line
	s         container.StatsResponse
}

func (r statsRow) ID() string        { return truncateID(r.s.ID) }
func (r statsRow) Container() string { return r.container }
func (r statsRow) Name() string      { return strings.TrimPrefix(r.s.Name, "/") }

// CPUPerc is the CPU time the container used between the two samples
// over the host's, times the number of CPUs: 100% is one CPU busy.
func (r statsRow) CPUPerc() string {
	cpu := float64(r.s.CPUStats.CPUUsage.TotalUsage) - float64(r.s.PreCPUStats.CPUUsage.TotalUsage)
	system := float64(r.s.CPUStats.SystemUsage) - float64(r.s.PreCPUStats.SystemUsage)
	pct := 0.0
	if cpu > 0 && system > 0 {
		pct = cpu / system * float64(r.s.CPUStats.OnlineCPUs) * 100
	}
	return fmt.Sprintf("%.2f%%", pct)
}

// memory is the usage without the inactive page cache, which the kernel
// can drop at once: docker's "MEM USAGE".
func (r statsRow) memory() uint64 {
	m := r.s.MemoryStats
	for _, k := range []string{"total_inactive_file", "inactive_file"} { // v1, v2
		if v, ok := m.Stats[k]; ok && v < m.Usage {
			return m.Usage - v
		}
	}
	return m.Usage
}

func (r statsRow) MemUsage() string {
	return units.BytesSize(float64(r.memory())) + " / " + units.BytesSize(float64(r.s.MemoryStats.Limit))
}

func (r statsRow) MemPerc() string {
	pct := 0.0
	if r.s.MemoryStats.Limit != 0 {
		pct = float64(r.memory()) / float64(r.s.MemoryStats.Limit) * 100
	}
	return fmt.Sprintf("%.2f%%", pct)
}

func (r statsRow) NetIO() string {
	var rx, tx uint64
	for _, n := range r.s.Networks {
		rx += n.RxBytes
		tx += n.TxBytes
	}
	return humanSize(int64(rx)) + " / " + humanSize(int64(tx))
}

func (r statsRow) BlockIO() string {
	var read, write uint64
	for _, e := range r.s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			read += e.Value
		case "write":
			write += e.Value
		}
	}
	return humanSize(int64(read)) + " / " + humanSize(int64(write))
}

func (r statsRow) PIDs() string { return strconv.FormatUint(r.s.PidsStats.Current, 10) }
