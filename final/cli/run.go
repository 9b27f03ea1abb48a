package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type runOptions struct {
	container  containerOptions
	detach     bool
	sigProxy   bool
	detachKeys string
}

func newRunCommand(c *CLI) *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Long: `Create and run a new container from an image.

berth run creates a container from IMAGE, attaches to it unless -d is
given, starts it, and waits for it to exit. berth's exit status is the
container's, or 125 when the engine failed, 126 when the command cannot be
invoked, and 127 when it is not found.

With -it the container gets a pseudo-terminal joined to yours: the window
size follows yours, and ctrl-p ctrl-q (see --detach-keys) detaches,
leaving the container running. Without -t, signals berth receives (such as
the SIGINT of ctrl-c) are passed on to the container (see --sig-proxy).`,
		Example: `  berth run --rm busybox echo hello
  berth run -it --name shell busybox sh
  berth run -d -p 8080:80 --name web busybox httpd -f -p 80
  berth run --memory 32m --cpus 0.5 --pids-limit 64 busybox sh -c 'ulimit -a'`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runRun(cmd, &opts, args)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.detach, "detach", "d", false, "Run container in background and print container ID")
	fs.BoolVar(&opts.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	fs.StringVar(&opts.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	opts.container.AddFlags(fs)
	return cmd
}

func newCreateCommand(c *CLI) *cobra.Command {
	var opts containerOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Long: `Create a new container from IMAGE without starting it, and print its ID.
Start it later with berth start. The options are those of berth run.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := opts.parse(c, cmd.Flags(), args)
			if err != nil {
				return runError(cmd, err, 125)
			}
			if spec.Config.Tty {
				h, w := terminalSize(c.Out)
				spec.HostConfig.ConsoleSize = [2]uint{h, w}
			}
			cl, err := c.Client()
			if err != nil {
				return runError(cmd, err, 125)
			}
			id, err := c.createContainer(cmd.Context(), cl, spec)
			if err != nil {
				return runError(cmd, c.describe(err), 125)
			}
			fmt.Fprintln(c.Out, id)
			return nil
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runError is how docker reports a failed run or create: prefixed with
// the program's name, with a pointer to the help, and a status of 125 or
// the 126/127 of a command that could not be started.
func runError(cmd *cobra.Command, err error, status int) error {
	msg := strings.TrimSuffix(err.Error(), ".")
	return StatusError{
		Status:     fmt.Sprintf("%s: %s\n\nRun '%s --help' for more information", cmd.Root().Name(), msg, cmd.CommandPath()),
		StatusCode: status,
	}
}

// runRun is `berth run`. The order of the API calls is the docker CLI's,
// and it matters:
//
//  1. create
//  2. attach, before start, so that no early output is lost
//  3. wait (next-exit, or removed with --rm), before start, so that a
//     container that exits at once cannot be missed
//  4. start
//  5. resize the container's terminal to ours, and again on SIGWINCH
//  6. stream until the output ends, then read the status from the wait
func (c *CLI) runRun(cmd *cobra.Command, opts *runOptions, args []string) error {
	ctx := cmd.Context()
	fail := func(err error, status int) error { return runError(cmd, c.describe(err), status) }

	spec, err := opts.container.parse(c, cmd.Flags(), args)
	if err != nil {
		return fail(err, 125)
	}
	cfg, hc := spec.Config, spec.HostConfig
	if opts.detach {
		if len(opts.container.attach) != 0 {
			return fail(errors.New("conflicting options: cannot specify both --attach and --detach"), 125)
		}
		cfg.AttachStdin, cfg.AttachStdout, cfg.AttachStderr = false, false, false
		cfg.StdinOnce = false
	} else if err := checkTTY(c.In, cfg.AttachStdin, cfg.Tty); err != nil {
		return err
	}
	sigProxy := opts.sigProxy && !cfg.Tty // with a tty, ctrl-c is a byte for the container's terminal
	if cfg.Tty {
		h, w := terminalSize(c.Out)
		hc.ConsoleSize = [2]uint{h, w}
	}

	cl, err := c.Client()
	if err != nil {
		return fail(err, 125)
	}
	id, err := c.createContainer(ctx, cl, spec)
	if err != nil {
		return fail(err, startErrorStatus(err))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if sigProxy {
		stop := c.forwardSignals(ctx, cl, id)
		defer stop()
	}

	detached := !cfg.AttachStdout && !cfg.AttachStderr
	if detached {
		fmt.Fprintln(c.Out, id)
	}

	attach := cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr
	var streamDone <-chan error
	if attach {
		resp, err := cl.ContainerAttach(ctx, id, client.ContainerAttachOptions{
			Stream:     true,
			Stdin:      cfg.AttachStdin,
			Stdout:     cfg.AttachStdout,
			Stderr:     cfg.AttachStderr,
			DetachKeys: opts.detachKeys,
		})
		if err != nil {
			return err
		}
		defer resp.Close()
		s := &hijackedStream{resp: resp.HijackedResponse, tty: cfg.Tty, detachKeys: opts.detachKeys, warn: c.Err}
		if cfg.AttachStdin {
			s.in = c.In
		}
		if cfg.AttachStdout {
			s.out = c.Out
		}
		if cfg.AttachStderr {
			s.errw = c.Err
			if cfg.Tty {
				s.errw = c.Out
			}
		}
		streamDone = s.start(ctx)
	}

	status := c.waitExitOrRemoved(ctx, cl, id, hc.AutoRemove)

	if _, err := cl.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		if attach {
			// Stop streaming first, so the terminal is restored before
			// the error is printed.
			cancel()
			<-streamDone
		}
		if hc.AutoRemove {
			<-status // the daemon removes the container; wait for it
		}
		return fail(err, startErrorStatus(err))
	}
	c.printExplained(ctx, cl, id, cfg.Labels) // --explain (explain.go)

	if attach && cfg.Tty && isTerminal(c.Out) {
		stop := c.monitorTTYSize(ctx, func(ctx context.Context, h, w uint) error {
			_, err := cl.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
		defer stop()
	}

	if streamDone != nil {
		if err := <-streamDone; err != nil {
			if errors.Is(err, errDetached) {
				return nil // the container runs on
			}
			return err
		}
	}
	if detached {
		return nil
	}
	if code := <-status; code != 0 {
		return StatusError{StatusCode: code}
	}
	return nil
}

// createContainer creates the container, and if the daemon does not have
// the image, asks it to pull the image and tries once more, as docker
// run does.
func (c *CLI) createContainer(ctx context.Context, cl *client.Client, spec *containerSpec) (string, error) {
	create := func() (client.ContainerCreateResult, error) {
		return cl.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name:             spec.Name,
			Config:           spec.Config,
			HostConfig:       spec.HostConfig,
			NetworkingConfig: spec.NetworkingConfig,
		})
	}
	res, err := create()
	if err != nil && cerrdefs.IsNotFound(err) {
		named, perr := reference.ParseNormalizedNamed(spec.Config.Image)
		if perr != nil {
			return "", err
		}
		fmt.Fprintf(c.Err, "Unable to find image '%s' locally\n", reference.FamiliarString(reference.TagNameOnly(named)))
		if perr := c.pullImage(ctx, cl, named); perr != nil {
			return "", perr
		}
		res, err = create()
	}
	if err != nil {
		return "", err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(c.Err, "WARNING: %s\n", w)
	}
	return res.ID, nil
}

// pullImage pulls named (its tag, latest by default) with the stored
// credentials for its registry, the progress on stderr, as docker run.
func (c *CLI) pullImage(ctx context.Context, cl *client.Client, named reference.Named) error {
	auth, err := c.registryAuth(named)
	if err != nil {
		return err
	}
	resp, err := cl.ImagePull(ctx, reference.FamiliarString(reference.TagNameOnly(named)), client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return err
	}
	defer resp.Close()
	return displayJSONMessages(resp, c.Err, isTerminal(c.Err))
}
