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
			c.printPruned("Containers", res.Report.ContainersDeleted)
			c.printReclaimed(res.Report.SpaceReclaimed)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.VarP(&filters, "filter", "", "Provide filter values (e.g. \"until=<timestamp>\")")
	return cmd
}

// printPruned prints what a prune removed as docker does: a heading
// ("Deleted Volumes:"), one line each and a blank line, or nothing.
func (c *CLI) printPruned(what string, deleted []string) {
	if len(deleted) == 0 {
		return
	}
	fmt.Fprintf(c.Out, "Deleted %s:\n", what)
	for _, d := range deleted {
		fmt.Fprintln(c.Out, d)
	}
	fmt.Fprintln(c.Out)
}

// printReclaimed prints the space a prune gave back, as docker does.
func (c *CLI) printReclaimed(bytes uint64) {
	fmt.Fprintf(c.Out, "Total reclaimed space: %s\n", units.HumanSize(float64(bytes)))
}

// newImagePruneCommand is `berth image prune`, docker's: the dangling
// images go (POST /images/prune), or with -a every image no container
// was made from, after a confirmation unless -f.
func newImagePruneCommand(c *CLI) *cobra.Command {
	var force, all bool
	var filters listValue
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Long: `Remove the dangling images: those without a name and without child
images. With -a, every image that no container was made from, named
or not. Filters: until (a duration such as 24h, a date or a Unix time:
created before it), label (KEY or KEY=VALUE), label! (not that label).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			warning := "WARNING! This will remove all dangling images."
			if all {
				f.Add("dangling", "false")
				warning = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !force && !c.confirm(warning) {
				return nil
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ImagePrune(cmd.Context(), client.ImagePruneOptions{Filters: f})
			if err != nil {
				return err
			}
			c.printImagesDeleted(res.Report.ImagesDeleted)
			c.printReclaimed(res.Report.SpaceReclaimed)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.VarP(&filters, "filter", "", "Provide filter values (e.g. \"until=<timestamp>\")")
	return cmd
}
