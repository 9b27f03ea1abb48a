package main

import (
	"encoding/json"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
)

// `features`: what a config.json may ask of berth-runtime, as the
// runtime spec's features document (ociruntime.Features).
func init() {
	register(&cobra.Command{
		Use:   "features",
		Short: "print the features berth-runtime implements (the runtime spec's features JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e := json.NewEncoder(os.Stdout)
			e.SetIndent("", "    ")
			return e.Encode(ociruntime.Features(Version))
		},
	})
}
