package cli

import (
	"fmt"

	"github.com/docker/go-units"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// newContainerPruneCommand is `berth container prune`, docker's: every
// stopped container goes (POST /containers/prune), after a confirmation
// unless -f.
func newContainerPruneCommand(c *CLI) *cobra.Command {
	var force bool
	var filters listValue
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Long: `Remove every container that is not running. Filters: until (a duration
such as 24h, a date or a Unix time: created before it), label (KEY or
KEY=VALUE), label! (not that label). Volumes stay.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			if !force && !c.confirm("WARNING! This will remove all stopped containers.") {
				return nil
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerPrune(cmd.Context(), client.ContainerPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(res.Report.ContainersDeleted) > 0 {
				fmt.Fprintln(c.Out, "Deleted Containers:")
				for _, id := range res.Report.ContainersDeleted {
					fmt.Fprintln(c.Out, id)
				}
				fmt.Fprintln(c.Out)
			}
			fmt.Fprintf(c.Out, "Total reclaimed space: %s\n", units.HumanSize(float64(res.Report.SpaceReclaimed)))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.VarP(&filters, "filter", "", "Provide filter values (e.g. \"until=<timestamp>\")")
	return cmd
}
