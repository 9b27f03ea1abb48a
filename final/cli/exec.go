package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type execOptions struct {
	detach      bool
	interactive bool
	tty         bool
	env         listValue
	envFile     listValue
	workdir     string
	user        string
	privileged  bool
	detachKeys  string
}

func newExecCommand(c *CLI) *cobra.Command {
	var opts execOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Long: `Run a new process in a running container: in its namespaces, its cgroup
and its root filesystem, beside its main process. The process ends with
the container; berth exits with the process's status.`,
		Example: `  berth exec web ps
  berth exec -it web sh
  berth exec -d web touch /tmp/marker`,
		Args: requiresMinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.exec(cmd, &opts, args[0], args[1:])
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.BoolVarP(&opts.detach, "detach", "d", false, "Detached mode: run command in the background")
	fs.BoolVarP(&opts.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&opts.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.VarP(&opts.env, "env", "e", "Set environment variables")
	fs.Var(&opts.envFile, "env-file", "Read in a file of environment variables")
	fs.StringVarP(&opts.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&opts.user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	fs.BoolVar(&opts.privileged, "privileged", false, "Give extended privileges to the command")
	fs.StringVar(&opts.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// execCreateOptions maps the flags to POST /containers/{id}/exec as
// docker does: without -d, stdout and stderr are attached, and stdin too
// with -i.
func (c *CLI) execCreateOptions(opts *execOptions, cmdArgs []string) (client.ExecCreateOptions, error) {
	env, err := c.readEnv(opts.envFile, opts.env)
	if err != nil {
		return client.ExecCreateOptions{}, err
	}
	eo := client.ExecCreateOptions{
		User:       opts.user,
		Privileged: opts.privileged,
		TTY:        opts.tty,
		Env:        env,
		WorkingDir: opts.workdir,
		Cmd:        cmdArgs,
		DetachKeys: opts.detachKeys,
	}
	if !opts.detach {
		eo.AttachStdout = true
		eo.AttachStderr = true
		eo.AttachStdin = opts.interactive
	}
	if opts.tty {
		h, w := terminalSize(c.Out)
		eo.ConsoleSize = client.ConsoleSize{Height: h, Width: w}
	}
	return eo, nil
}

// exec: inspect (so that "no such container" comes before anything is
// created), create the exec, then either start it detached, or start it
// on a hijacked connection, stream, and read its exit code from
// GET /exec/{id}/json.
func (c *CLI) exec(cmd *cobra.Command, opts *execOptions, name string, cmdArgs []string) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	eo, err := c.execCreateOptions(opts, cmdArgs)
	if err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if _, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err != nil {
		return err
	}
	if !opts.detach {
		if err := checkTTY(c.In, eo.AttachStdin, eo.TTY); err != nil {
			return err
		}
	}
	created, err := cl.ExecCreate(ctx, name, eo)
	if err != nil {
		return err
	}
	if created.ID == "" {
		return errors.New("exec ID empty")
	}
	if opts.detach {
		_, err := cl.ExecStart(ctx, created.ID, client.ExecStartOptions{Detach: true, TTY: eo.TTY, ConsoleSize: eo.ConsoleSize})
		return err
	}

	resp, err := cl.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: eo.TTY, ConsoleSize: eo.ConsoleSize})
	if err != nil {
		return err
	}
	defer resp.Close()
	s := &hijackedStream{resp: resp.HijackedResponse, tty: eo.TTY, out: c.Out, errw: c.Err, detachKeys: opts.detachKeys, warn: c.Err}
	if eo.TTY {
		s.errw = c.Out
	}
	if eo.AttachStdin {
		s.in = c.In
	}
	streamDone := s.start(ctx)
	if eo.TTY && isTerminal(c.In) {
		stop := c.monitorTTYSize(ctx, func(ctx context.Context, h, w uint) error {
			_, err := cl.ExecResize(ctx, created.ID, client.ExecResizeOptions{Height: h, Width: w})
			return err
		})
		defer stop()
	}
	if err := <-streamDone; err != nil {
		return err
	}

	ins, err := cl.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		if client.IsErrConnectionFailed(err) {
			return StatusError{StatusCode: -1}
		}
		return fmt.Errorf("exec %s: %w", created.ID, err)
	}
	if ins.ExitCode != 0 {
		return StatusError{StatusCode: ins.ExitCode}
	}
	return nil
}
