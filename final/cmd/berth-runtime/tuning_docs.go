//go:build !manpages

// Engine tuning: skip on first reading. cmd_docs.go is the docs command
// itself.

package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// The runtime without its man-page generator.
//
// Every container start runs this program twice: the runtime's command
// (create or run), then the same binary again as the container's init.
// Each start runs the initialisation of every package linked in, used
// or not, before main. The man-page generator (cobra's doc package)
// links a Markdown renderer whose tables of HTML entities alone take
// about 0.3 ms to build, and a YAML encoder: some 0.4 ms of the runtime's
// start, twice per container, for a command that `make install` runs
// once.
//
// So the installed binary is built without it, and `docs man` says how
// to get the pages: the Makefile builds them with -tags manpages, from
// the same command definitions, so the pages still match --help.
//
//	go build ./final/cmd/berth-runtime                 the runtime: no docs command
//	go run -tags manpages ./final/cmd/berth-runtime \
//	    docs man DIR                                   the man pages
func init() {
	docs := &cobra.Command{
		Use:    "docs",
		Short:  "Generate berth-runtime's documentation (only in a build with -tags manpages)",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	docs.AddCommand(&cobra.Command{
		Use:   "man DIR",
		Short: "Write berth-runtime's man pages into DIR (only in a build with -tags manpages)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("docs man %s: this berth-runtime is built without its man-page generator, which would slow every container's start; "+
				"write the pages with `go run -tags manpages ./final/cmd/berth-runtime docs man %s` (make man, make install-berth-runtime)", args[0], args[0])
		},
	})
	register(docs)
}
