package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
)

func init() {
	var force bool
	c := &cobra.Command{
		Use:   "delete [flags] CONTAINER-ID",
		Short: "delete a stopped (or, with --force, any) container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ociruntime.Delete(global.Root, args[0], force)
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it is still running")
	register(c)
}
