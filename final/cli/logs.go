package cli

import (
	"fmt"
	"io"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newLogsCommand(c *CLI) *cobra.Command {
	var opts client.ContainerLogsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Long: `Print what a container wrote on its stdout and stderr, which the daemon
records whether or not anyone is attached: stdout here to stdout, stderr
to stderr (a container with a terminal has only one stream).

-f follows the log until the container stops; -t prefixes each line with
the time it was written (RFC 3339 with nanoseconds); --tail N prints only
the last N lines ("all" by default).`,
		Example: `  berth logs web
  berth logs -f -t --tail 10 web`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			// The stream is framed unless the container has a terminal;
			// only the container's config says which.
			ins, err := cl.ContainerInspect(cmd.Context(), args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			opts.ShowStdout, opts.ShowStderr = true, true
			body, err := cl.ContainerLogs(cmd.Context(), ins.Container.ID, opts)
			if err != nil {
				return err
			}
			defer body.Close()
			if ins.Container.Config != nil && ins.Container.Config.Tty {
				_, err = io.Copy(c.Out, body)
			} else {
				_, err = stdcopy.StdCopy(c.Out, c.Err, body)
			}
			if err != nil {
				return fmt.Errorf("reading the log of %s: %w", args[0], err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Follow, "follow", "f", false, "Follow log output")
	fs.BoolVarP(&opts.Timestamps, "timestamps", "t", false, "Show timestamps")
	fs.StringVarP(&opts.Tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	fs.StringVar(&opts.Since, "since", "", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	fs.StringVar(&opts.Until, "until", "", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	fs.BoolVar(&opts.Details, "details", false, "Show extra details provided to logs")
	return cmd
}
