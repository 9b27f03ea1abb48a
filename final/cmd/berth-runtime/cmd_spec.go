package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
)

// `spec [--bundle DIR] [--rootless]`: a starting config.json, as runc
// writes it (ociruntime.DefaultSpec).
func init() {
	var bundle string
	var rootless bool
	c := &cobra.Command{
		Use:   "spec",
		Short: "write a default config.json into the bundle (runs sh on a terminal in ./rootfs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return ociruntime.WriteSpec(bundle, rootless)
		},
	}
	c.Flags().StringVarP(&bundle, "bundle", "b", ".", "the bundle's directory")
	c.Flags().BoolVar(&rootless, "rootless", false, "a configuration for a user without privileges (a user namespace that maps the caller to root)")
	register(c)
}
