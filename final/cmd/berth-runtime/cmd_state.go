package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
)

func init() {
	register(&cobra.Command{
		Use:   "state CONTAINER-ID",
		Short: "print a container's state as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ociruntime.Load(global.Root, args[0])
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(r.State(global.Root), "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return err
		},
	})
}
