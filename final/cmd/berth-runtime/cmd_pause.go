package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
)

// `pause ID` and `resume ID`: chapter 02's freezer.
func init() {
	register(&cobra.Command{
		Use:   "pause ID",
		Short: "freeze every process of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ociruntime.Pause(global.Root, args[0])
		},
	})
	register(&cobra.Command{
		Use:   "resume ID",
		Short: "thaw a paused container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ociruntime.Resume(global.Root, args[0])
		},
	})
}
