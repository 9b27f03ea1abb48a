package cli

import (
	"errors"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/restart"
)

// update: one API call per container, as docker update. berthd updates
// the restart policy and the limits it applies at create (memory, CPU
// time, tasks, the weights: shares, cpusets, memory reservation, and
// swap, real time and the blkio weight); only those flags are offered,
// as docker update offers them.

func newUpdateCommand(c *CLI) *cobra.Command {
	var (
		policy    string
		memory    bytesValue
		cpus      nanoCPUsValue
		period    int64
		quota     int64
		pidsLimit int64
		shares    int64
		cpusetC   string
		cpusetM   string
		reserve   bytesValue
		more      = lessCommon{forUpdateOnly: true}
	)
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Long: `Update configuration of one or more containers, running or not.

--restart sets the container's restart policy: no, on-failure[:N],
always or unless-stopped (see berth run --restart). The new policy
applies from the container's next exit on; a restart already waiting
for its back-off goes ahead. A container run with --rm cannot have one.

--memory, --cpus (or --cpu-period with --cpu-quota) and --pids-limit
change the container's limits: at once in the cgroup of a running
container, at its next start for a stopped one, and for good (inspect
shows them, a restart keeps them). A limit not given stays as it is;
--pids-limit -1 lifts the pids limit. --cpu-shares, --cpuset-cpus,
--cpuset-mems and --memory-reservation change the container's weights
the same way, and --memory-swap, --cpu-rt-period, --cpu-rt-runtime and
--blkio-weight the less common limits.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			var opts client.ContainerUpdateOptions
			if cmd.Flags().Changed("restart") {
				p, err := restart.Parse(policy)
				if err != nil {
					return err
				}
				opts.RestartPolicy = &p
			}
			r := container.Resources{Memory: int64(memory), NanoCPUs: int64(cpus), CPUPeriod: period, CPUQuota: quota,
				CPUShares: shares, CpusetCpus: cpusetC, CpusetMems: cpusetM, MemoryReservation: int64(reserve)}
			if cmd.Flags().Changed("pids-limit") {
				r.PidsLimit = &pidsLimit
			}
			if err := more.apply(&r); err != nil {
				return err
			}
			opts.Resources = &r
			return c.eachContainer(cmd, args, func(cl *client.Client, name string) error {
				_, err := cl.ContainerUpdate(cmd.Context(), name, opts)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&policy, "restart", "", "Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)")
	f.VarP(&memory, "memory", "m", "Memory limit")
	f.Var(&cpus, "cpus", "Number of CPUs")
	f.Int64Var(&period, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&quota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	f.Int64Var(&pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.Int64VarP(&shares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.StringVar(&cpusetC, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&cpusetM, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.Var(&reserve, "memory-reservation", "Memory soft limit")
	more.addFlags(f)
	return cmd
}
