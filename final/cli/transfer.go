package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/04-cow-layers/atomicfile"
)

// The commands that move filesystems and images in and out of the
// daemon: commit (container -> image), export/import (a container's
// flattened filesystem <-> a one-layer image), save/load (images with all
// their layers and history <-> a tar archive).

func newCommitCommand(c *CLI) *cobra.Command {
	var author, message string
	var changes listValue
	var pause bool
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Long: `Make a new image from a container: its image's layers, plus one new layer
holding what the container changed in its filesystem (its writable
layer). The container's image is not modified. --change applies
Dockerfile instructions (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER,
WORKDIR, VOLUME) to the new image's configuration.`,
		Example: `  berth commit -m "add curl" -c 'CMD ["sh"]' web myweb:v2`,
		Args:    requiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.ContainerCommitOptions{
				Comment: message, Author: author, Changes: changes, NoPause: !pause,
			}
			if len(args) == 2 {
				opts.Reference = args[1]
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerCommit(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, res.ID)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&author, "author", "a", "", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
	fs.VarP(&changes, "change", "c", "Apply Dockerfile instruction to the created image")
	fs.StringVarP(&message, "message", "m", "", "Commit message")
	fs.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

// errTerminalOutput is docker's refusal to write a tar archive on a
// terminal.
var errTerminalOutput = errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")

// streamOut writes what open returns (export's container, save's
// images) to output, or to stdout; a terminal is refused before the
// daemon is asked for anything.
func (c *CLI) streamOut(output, what string, open func(*client.Client) (io.ReadCloser, error)) error {
	if output == "" && isTerminal(c.Out) {
		return errTerminalOutput
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body, err := open(cl)
	if err != nil {
		return err
	}
	defer body.Close()
	return c.writeOutput(body, output, what)
}

// writeOutput copies r to the file named by output (through a temporary
// file renamed at the end, so that a failed transfer leaves no partial
// archive), or to c.Out when output is empty.
func (c *CLI) writeOutput(r io.Reader, output, what string) error {
	if output == "" {
		if isTerminal(c.Out) {
			return errTerminalOutput
		}
		_, err := io.Copy(c.Out, r)
		return err
	}
	err := atomicfile.Write(output, atomicfile.Options{Perm: 0o644}, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to save %s: %w", what, err)
	}
	return nil
}

func newExportCommand(c *CLI) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Long: `Write a container's whole filesystem (its image's layers with its own
changes on top, flattened) as a tar archive, to stdout or to --output.
berth import makes an image of it again, with a single layer and no
history.`,
		Example: `  berth export web > web.tar
  berth export -o web.tar web`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.streamOut(output, "container", func(cl *client.Client) (io.ReadCloser, error) {
				return cl.ContainerExport(cmd.Context(), args[0], client.ContainerExportOptions{})
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func newImportCommand(c *CLI) *cobra.Command {
	var message string
	var changes listValue
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Long: `Make an image with one layer from a tar archive of a filesystem (such as
berth export writes): a file, "-" for stdin, or a URL the daemon fetches.
--change applies Dockerfile instructions to its configuration.`,
		Example: `  berth export web | berth import - web:flat
  berth import -c 'CMD ["/bin/sh"]' rootfs.tar base:1`,
		Args: requiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src := client.ImageImportSource{SourceName: args[0]}
			switch {
			case args[0] == "-":
				src.Source = c.In
			case strings.Contains(args[0], "://"):
				// a URL: the daemon downloads it
			default:
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				src = client.ImageImportSource{SourceName: "-", Source: f}
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			body, err := cl.ImageImport(cmd.Context(), src, ref, client.ImageImportOptions{Message: message, Changes: changes})
			if err != nil {
				return err
			}
			defer body.Close()
			return displayJSONMessages(body, c.Out, isTerminal(c.Out))
		},
	}
	fs := cmd.Flags()
	fs.VarP(&changes, "change", "c", "Apply Dockerfile instruction to the created image")
	fs.StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	return cmd
}

func newSaveCommand(c *CLI) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Long: `Write images, with all their layers, configuration and history, as a tar
archive (the OCI layout plus docker's manifest.json), to stdout or to
--output. berth load, or docker load, reads it back on any machine.`,
		Example: `  berth save busybox:latest > busybox.tar
  berth save -o images.tar web:v1 web:v2`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.streamOut(output, "image", func(cl *client.Client) (io.ReadCloser, error) {
				return cl.ImageSave(cmd.Context(), args)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func newLoadCommand(c *CLI) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Long: `Load images, layers and history, from a tar archive that berth save or
docker save wrote, from stdin or --input. Progress is shown when the
output is a terminal.`,
		Example: `  berth load < busybox.tar
  berth load -i images.tar`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = c.In
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if isTerminal(c.In) {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			// Progress bars only make sense on a terminal; elsewhere ask
			// the daemon for none.
			tty := isTerminal(c.Out)
			if !tty {
				quiet = true
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			body, err := cl.ImageLoad(cmd.Context(), in, client.ImageLoadWithQuiet(quiet))
			if err != nil {
				return err
			}
			defer body.Close()
			return displayJSONMessages(body, c.Out, tty)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}
