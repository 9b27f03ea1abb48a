package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
)

// `events ID [--stats] [--interval D]`: the container's statistics and
// OOM kills as runc's JSON lines (ociruntime.Events).
func init() {
	var (
		stats    bool
		interval time.Duration
	)
	c := &cobra.Command{
		Use:   "events ID",
		Short: "print a container's statistics every interval, and its OOM kills, as JSON lines",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ociruntime.Events(global.Root, args[0], interval, stats, os.Stdout)
		},
	}
	c.Flags().BoolVar(&stats, "stats", false, "print the statistics once and exit")
	c.Flags().DurationVar(&interval, "interval", 5*time.Second, "how often to print the statistics")
	register(c)
}
