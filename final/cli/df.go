package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// newSystemCommand is `berth system`, docker's group for the engine as a
// whole: its df and its prune.
func newSystemCommand(c *CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage berth",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(c.Err)
			return cmd.Help()
		},
	}
	cmd.AddCommand(newDfCommand(c), newSystemPruneCommand(c))
	return cmd
}

// newDfCommand is `berth system df`: the engine's disk usage (GET
// /system/df) in docker's table, the client computing the active counts
// and the reclaimable space from the answer, as docker's does.
func newDfCommand(c *CLI) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show berth disk usage",
		Long: `Show the disk space that images, containers, local volumes and the
build cache use. SIZE counts each image layer once; RECLAIMABLE is
what removing the unused ones would give back (images no container was
made from, stopped containers, volumes no container mounts). -v lists
each image, container and volume. berth's build cache is made of
images (the steps of builds), counted with them: its line is empty.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			// Verbose always: the images' list is needed for their
			// reclaimable space below.
			du, err := cl.DiskUsage(cmd.Context(), client.DiskUsageOptions{Containers: true, Images: true, Volumes: true, BuildCache: true, Verbose: true})
			if err != nil {
				return err
			}
			if verbose {
				return c.printDfVerbose(du)
			}
			// docker's reckoning: all the layers but the unique part of
			// the images in use (the client library's sums only the
			// unused images' unique parts, and misses the shared
			// layers no used image needs).
			imagesFree := du.Images.TotalSize
			for _, img := range du.Images.Items {
				if img.Containers > 0 && img.Size >= 0 && img.SharedSize >= 0 {
					imagesFree -= img.Size - img.SharedSize
				}
			}
			du.Images.Reclaimable = imagesFree
			tw := tabwriter.NewWriter(c.Out, 10, 1, 3, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
			for _, row := range []struct {
				name                             string
				total, active, size, reclaimable int64
			}{
				{"Images", du.Images.TotalCount, du.Images.ActiveCount, du.Images.TotalSize, du.Images.Reclaimable},
				{"Containers", du.Containers.TotalCount, du.Containers.ActiveCount, du.Containers.TotalSize, du.Containers.Reclaimable},
				{"Local Volumes", du.Volumes.TotalCount, du.Volumes.ActiveCount, du.Volumes.TotalSize, du.Volumes.Reclaimable},
				{"Build Cache", du.BuildCache.TotalCount, du.BuildCache.ActiveCount, du.BuildCache.TotalSize, du.BuildCache.Reclaimable},
			} {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", row.name, row.total, row.active, units.HumanSize(float64(row.size)), reclaimable(row.reclaimable, row.size))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	return cmd
}

// reclaimable is docker's RECLAIMABLE cell: the size and, when there is
// anything at all, its whole percentage of the total.
func reclaimable(n, total int64) string {
	if total <= 0 {
		return units.HumanSize(float64(n))
	}
	return fmt.Sprintf("%s (%d%%)", units.HumanSize(float64(n)), n*100/total)
}

// printDfVerbose is df -v: a table per kind, as docker's.
func (c *CLI) printDfVerbose(du client.DiskUsageResult) error {
	now := time.Now()
	tw := tabwriter.NewWriter(c.Out, 10, 1, 3, ' ', 0)
	fmt.Fprint(tw, "Images space usage:\n\n")
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	for _, img := range du.Images.Items {
		repo, tag := "<none>", "<none>"
		if len(img.RepoTags) > 0 {
			if i := strings.LastIndex(img.RepoTags[0], ":"); i > 0 {
				repo, tag = img.RepoTags[0][:i], img.RepoTags[0][i+1:]
			}
		}
		id := strings.TrimPrefix(img.ID, "sha256:")
		fmt.Fprintf(tw, "%s\t%s\t%.12s\t%s\t%s\t%s\t%s\t%d\n", repo, tag, id, timeAgo(time.Unix(img.Created, 0), now),
			humanSize(img.Size), humanSize(img.SharedSize), humanSize(img.Size-img.SharedSize), img.Containers)
	}
	fmt.Fprint(tw, "\nContainers space usage:\n\n")
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES")
	for _, ct := range du.Containers.Items {
		vols := 0
		for _, m := range ct.Mounts {
			if m.Type == "volume" {
				vols++
			}
		}
		name := ""
		if len(ct.Names) > 0 {
			name = strings.TrimPrefix(ct.Names[0], "/")
		}
		fmt.Fprintf(tw, "%.12s\t%s\t%q\t%d\t%s\t%s\t%s\t%s\n", ct.ID, ct.Image, ellipsis(ct.Command, 20), vols,
			humanSize(ct.SizeRw), timeAgo(time.Unix(ct.Created, 0), now), ct.Status, name)
	}
	fmt.Fprint(tw, "\nLocal Volumes space usage:\n\n")
	fmt.Fprintln(tw, "VOLUME NAME\tLINKS\tSIZE")
	for _, v := range du.Volumes.Items {
		size, links := "N/A", "N/A"
		if v.UsageData != nil {
			links = fmt.Sprint(v.UsageData.RefCount)
			if v.UsageData.Size >= 0 {
				size = humanSize(v.UsageData.Size)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, links, size)
	}
	fmt.Fprintf(tw, "\nBuild cache usage: %s\n\n", humanSize(du.BuildCache.TotalSize))
	fmt.Fprintln(tw, "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED")
	return tw.Flush()
}
