//go:build manpages

package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/manpages"
)

// The hidden `berth-runtime docs man DIR`, which `make install` runs to
// write a man page for berth-runtime and for each of its commands
// (berth-runtime.1, berth-runtime-create.1, ...), as `berth docs man`
// does for berth: the pages come from the same command definitions as
// --help, so the two cannot disagree.
//
// Only a binary built with -tags manpages has it (`go run -tags manpages
// ./final/cmd/berth-runtime docs man DIR`, as the Makefile does):
// tuning_docs.go tells why the installed runtime does not.
func init() {
	docs := &cobra.Command{
		Use:    "docs",
		Short:  "Generate berth-runtime's documentation",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	docs.AddCommand(&cobra.Command{
		Use:   "man DIR",
		Short: "Write berth-runtime's man pages (berth-runtime.1, berth-runtime-create.1, ...) into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genManPages(cmd.Root(), args[0])
		},
	})
	register(docs)
}

// genManPages writes the man pages of top and its commands into dir
// (package manpages). Hidden commands (docs itself) get none, and
// neither does cobra's completion command: runc has none, and no caller
// of a runtime asks for one.
func genManPages(top *cobra.Command, dir string) error {
	for _, c := range top.Commands() {
		if c.Name() == "completion" {
			c.Hidden = true
		}
	}
	return manpages.Write(top, "berth-runtime "+Version, dir)
}
