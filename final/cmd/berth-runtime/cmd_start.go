package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
)

func init() {
	register(&cobra.Command{
		Use:   "start CONTAINER-ID",
		Short: "start the process of a created container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ociruntime.Start(global.Root, args[0])
		},
	})
}
