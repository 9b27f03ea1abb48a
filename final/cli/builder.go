package cli

import (
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// newBuilderCommand is `berth builder`, docker's group for the build
// cache: its prune.
func newBuilderCommand(c *CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "builder",
		Short: "Manage builds",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(c.Err)
			return cmd.Help()
		},
	}
	cmd.AddCommand(newBuilderPruneCommand(c))
	return cmd
}

// newBuilderPruneCommand is `berth builder prune`, docker's: the build
// cache's entries go (POST /build/prune), with the images of steps that
// nothing else holds, after a confirmation unless -f.
func newBuilderPruneCommand(c *CLI) *cobra.Command {
	var force, all bool
	var filters listValue
	var keep bytesValue
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove build cache",
		Long: `Remove the build cache: without -a, the steps nothing else holds (those
of a build that failed half-way, or of an image rebuilt since) with
their images; with -a, every step, so that the next build does each one
again (the images of tagged images stay). Filters: until or unused-for
(a duration such as 24h, a date or a Unix time: steps no build has used
since), id. --keep-storage is refused: berth cannot keep part of the
cache by size.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			warning := "WARNING! This will remove all dangling build cache."
			if all {
				warning = "WARNING! This will remove all build cache."
			}
			if !force && !c.confirm(warning) {
				return nil
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.BuildCachePrune(cmd.Context(), client.BuildCachePruneOptions{All: all, ReservedSpace: int64(keep), Filters: f})
			if err != nil {
				return err
			}
			c.printPruned("build cache objects", res.Report.CachesDeleted)
			c.printReclaimed(res.Report.SpaceReclaimed)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused build cache, not just dangling ones")
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.Var(&filters, "filter", "Provide filter values (e.g. \"until=24h\")")
	fs.Var(&keep, "keep-storage", "Amount of disk space to keep for cache (refused by berthd)")
	return cmd
}

// newSystemPruneCommand is `berth system prune`, docker's: the stopped
// containers, the unused networks, the dangling images (-a: every
// unused one), the build cache, and with --volumes the unused volumes,
// each by its own prune with the same filters, then the total given
// back.
func newSystemPruneCommand(c *CLI) *cobra.Command {
	var force, all, volumes bool
	var filters listValue
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Long: `Remove the stopped containers, the networks no container is on, the
dangling images (with -a every image no container was made from) and the
build cache (see berth builder prune); with --volumes, the volumes no
container mounts. Filters (until, label, label!) go to each prune.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			what := []string{"all stopped containers", "all networks not used by at least one container"}
			if volumes {
				what = append(what, "all volumes not used by at least one container")
			}
			if all {
				what = append(what, "all images without at least one container associated to them", "all build cache")
			} else {
				what = append(what, "all dangling images", "unused build cache")
			}
			if !force && !c.confirm("WARNING! This will remove:\n  - "+strings.Join(what, "\n  - ")+"\n") {
				return nil
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var total uint64
			cr, err := cl.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			c.printPruned("Containers", cr.Report.ContainersDeleted)
			total += cr.Report.SpaceReclaimed
			if volumes {
				vr, err := cl.VolumePrune(ctx, client.VolumePruneOptions{Filters: f})
				if err != nil {
					return err
				}
				c.printPruned("Volumes", vr.Report.VolumesDeleted)
				total += vr.Report.SpaceReclaimed
			}
			nr, err := cl.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			c.printPruned("Networks", nr.Report.NetworksDeleted)
			imageFilters := client.Filters{}
			for k, vs := range f {
				for v := range vs {
					imageFilters.Add(k, v)
				}
			}
			if all {
				imageFilters.Add("dangling", "false")
			}
			ir, err := cl.ImagePrune(ctx, client.ImagePruneOptions{Filters: imageFilters})
			if err != nil {
				return err
			}
			c.printImagesDeleted(ir.Report.ImagesDeleted)
			total += ir.Report.SpaceReclaimed
			br, err := cl.BuildCachePrune(ctx, client.BuildCachePruneOptions{All: all, Filters: f})
			if err != nil {
				return err
			}
			c.printPruned("build cache objects", br.Report.CachesDeleted)
			total += br.Report.SpaceReclaimed
			c.printReclaimed(total)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.BoolVar(&volumes, "volumes", false, "Prune volumes")
	fs.Var(&filters, "filter", "Provide filter values (e.g. \"label=<key>=<value>\")")
	return cmd
}

// printImagesDeleted prints an image prune's report as docker does.
func (c *CLI) printImagesDeleted(deleted []image.DeleteResponse) {
	if len(deleted) == 0 {
		return
	}
	fmt.Fprintln(c.Out, "Deleted Images:")
	for _, d := range deleted {
		if d.Untagged != "" {
			fmt.Fprintln(c.Out, "untagged: "+d.Untagged)
		}
		if d.Deleted != "" {
			fmt.Fprintln(c.Out, "deleted: "+d.Deleted)
		}
	}
	fmt.Fprintln(c.Out)
}
