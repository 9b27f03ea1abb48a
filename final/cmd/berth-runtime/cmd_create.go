package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/final/ociruntime"
)

// createFlags registers create's flags (run has them too) on f.
func createFlags(f *pflag.FlagSet, o *ociruntime.CreateOptions) {
	f.StringVarP(&o.Bundle, "bundle", "b", ".", "path to the root of the bundle directory (holding config.json)")
	f.StringVar(&o.PidFile, "pid-file", "", "write the container init's PID to this file")
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket to send the terminal's master to (with process.terminal)")
	f.BoolVar(&o.NoPivot, "no-pivot", false, "do not use pivot_root to enter the root filesystem (MS_MOVE and chroot instead)")
	f.BoolVar(&o.NoNewKeyring, "no-new-keyring", false, "keep the caller's session keyring instead of a new one")
	f.IntVar(&o.PreserveFDs, "preserve-fds", 0, "pass this many more descriptors (from 3) to the process")
}

func init() {
	var o ociruntime.CreateOptions
	c := &cobra.Command{
		Use:   "create [flags] CONTAINER-ID",
		Short: "create a container from a bundle, its process waiting for start",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			_, err := ociruntime.Create(global.Root, o)
			return err
		},
	}
	createFlags(c.Flags(), &o)
	register(c)
}
