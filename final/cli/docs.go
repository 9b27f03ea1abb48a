package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/manpages"
)

// GenManPages writes a man page for berth and for each of its commands
// into dir: berth.1, berth-run.1, berth-image-ls.1, ... (package
// manpages). `make install` puts them in /usr/local/share/man/man1,
// after which `man berth-run` works.
func GenManPages(dir string) error {
	return manpages.Write(NewRootCommand(New(nil, io.Discard, io.Discard)), "berth "+Version, dir)
}

// newDocsCommand is the hidden `berth docs man DIR` that the Makefile
// runs to generate the man pages.
func newDocsCommand(c *CLI) *cobra.Command {
	docs := &cobra.Command{
		Use:    "docs",
		Short:  "Generate berth's documentation",
		Hidden: true,
		Args:   noArgs,
	}
	docs.AddCommand(&cobra.Command{
		Use:   "man DIR",
		Short: "Write berth's man pages (berth.1, berth-run.1, ...) into DIR",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return GenManPages(args[0])
		},
	})
	return docs
}
