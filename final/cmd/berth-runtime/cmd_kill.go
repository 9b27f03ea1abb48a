package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
)

func init() {
	var all bool
	c := &cobra.Command{
		Use:   "kill [flags] CONTAINER-ID [SIGNAL]",
		Short: "send a signal (default SIGTERM) to a container's init",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := "SIGTERM"
			if len(args) == 2 {
				name = args[1]
			}
			sig, err := ociruntime.ParseSignal(name)
			if err != nil {
				return err
			}
			return ociruntime.Kill(global.Root, args[0], sig, all)
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "send the signal to every process of the container")
	register(c)
}
