package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
)

// `ps ID [--format table|json] [-- PS_ARGS...]`: the container's
// processes, as host PIDs (json, which containerd's shim reads) or as
// the host's ps(1) table restricted to them.
func init() {
	var format string
	c := &cobra.Command{
		Use:   "ps ID [-- PS_ARGS...]",
		Short: "list the processes of a container (host PIDs)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, psArgs := args[0], args[1:]
			switch format {
			case "json":
				if len(psArgs) > 0 {
					return fmt.Errorf("ps arguments %q: not with --format json, which lists PIDs only", psArgs)
				}
				pids, err := ociruntime.Pids(global.Root, id)
				if err != nil {
					return err
				}
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(os.Stdout).Encode(pids)
			case "table":
				return ociruntime.PsTable(os.Stdout, global.Root, id, psArgs)
			}
			return fmt.Errorf("--format %q: must be table or json", format)
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	register(c)
}
