package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
)

func init() {
	var o ociruntime.RunOptions
	c := &cobra.Command{
		Use:   "run [flags] CONTAINER-ID",
		Short: "create and start a container, and wait for it unless --detach",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			status, err := ociruntime.Run(global.Root, o)
			if err != nil {
				return err
			}
			// The process's status is run's own (main exits with it).
			exitStatus = status
			return nil
		},
	}
	createFlags(c.Flags(), &o.CreateOptions)
	c.Flags().BoolVarP(&o.Detach, "detach", "d", false, "return once the process runs, without waiting for it")
	c.Flags().BoolVar(&o.Keep, "keep", false, "do not delete the container after it exits")
	register(c)
}
