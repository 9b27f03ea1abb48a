package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// This file holds the commands that move a container through its life:
// start, stop, kill, restart, rm and wait. Each is one API call per
// container named; start -a is run's attach-wait-start sequence again.

func newStartCommand(c *CLI) *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Long: `Start one or more stopped containers.

A container keeps its filesystem and configuration when it stops; start
runs its command again in it. With -a, berth attaches to its output and
exits with its status; with -i, stdin is attached too, if the container
was created with -i.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attach || interactive {
				if len(args) > 1 {
					return errors.New("you cannot start and attach multiple containers at once")
				}
				return c.startAttached(cmd, args[0], interactive, detachKeys)
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			var failed []string
			for _, name := range args {
				if _, err := cl.ContainerStart(cmd.Context(), name, client.ContainerStartOptions{}); err != nil {
					fmt.Fprintln(c.Err, err)
					failed = append(failed, name)
					continue
				}
				fmt.Fprintln(c.Out, name)
			}
			if len(failed) > 0 {
				return errors.New("Error: failed to start containers: " + strings.Join(failed, ", "))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	fs.BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	fs.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// startAttached is `start -a [-i]`: inspect (for Tty, OpenStdin and
// AutoRemove, which the container was created with), attach, wait,
// start, resize, stream.
func (c *CLI) startAttached(cmd *cobra.Command, name string, interactive bool, detachKeys string) error {
	ctx := cmd.Context()
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ins, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	ctr := ins.Container
	if ctr.Config == nil || ctr.HostConfig == nil {
		return fmt.Errorf("container %s: the daemon's answer lacks Config or HostConfig", name)
	}
	id := ctr.ID
	tty := ctr.Config.Tty
	withStdin := interactive && ctr.Config.OpenStdin
	if withStdin {
		if err := checkTTY(c.In, true, tty); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !tty {
		stop := c.forwardSignals(ctx, cl, id)
		defer stop()
	}

	resp, err := cl.ContainerAttach(ctx, id, client.ContainerAttachOptions{
		Stream: true, Stdin: withStdin, Stdout: true, Stderr: true, DetachKeys: detachKeys,
	})
	if err != nil {
		return err
	}
	defer resp.Close()
	s := &hijackedStream{resp: resp.HijackedResponse, tty: tty, out: c.Out, errw: c.Err, detachKeys: detachKeys, warn: c.Err}
	if tty {
		s.errw = c.Out
	}
	if withStdin {
		s.in = c.In
	}
	streamDone := s.start(ctx)

	status := c.waitExitOrRemoved(ctx, cl, id, ctr.HostConfig.AutoRemove)
	if _, err := cl.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		cancel()
		<-streamDone
		if ctr.HostConfig.AutoRemove {
			<-status
		}
		return err
	}
	if tty && isTerminal(c.Out) {
		stop := c.monitorTTYSize(ctx, func(ctx context.Context, h, w uint) error {
			_, err := cl.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
		defer stop()
	}
	if err := <-streamDone; err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return err
	}
	if code := <-status; code != 0 {
		return StatusError{StatusCode: code}
	}
	return nil
}

func newStopCommand(c *CLI) *cobra.Command {
	var timeout int
	var signal string
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Long: `Stop one or more running containers.

The main process receives SIGTERM (or the container's stop signal, or
--signal) and, if it has not exited after the grace period (--time, 10
seconds by default), SIGKILL. A shell running as PID 1 ignores SIGTERM,
so it takes the whole grace period to stop.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.ContainerStopOptions{Signal: signal}
			if cmd.Flags().Changed("time") || cmd.Flags().Changed("timeout") {
				t := timeout
				opts.Timeout = &t
			}
			return c.eachContainer(cmd, args, func(cl *client.Client, name string) error {
				_, err := cl.ContainerStop(cmd.Context(), name, opts)
				return err
			})
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&timeout, "time", "t", 0, "Seconds to wait before killing the container")
	fs.IntVar(&timeout, "timeout", 0, "Seconds to wait before killing the container")
	_ = fs.MarkHidden("timeout")
	fs.StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func newKillCommand(c *CLI) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Long: `Kill one or more running containers: send them SIGKILL at once, or the
signal given with --signal (a name, KILL or SIGKILL, or a number).`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd, args, func(cl *client.Client, name string) error {
				_, err := cl.ContainerKill(cmd.Context(), name, client.ContainerKillOptions{Signal: signal})
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}

func newRestartCommand(c *CLI) *cobra.Command {
	var timeout int
	var signal string
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Long:  "Restart one or more containers: stop them as berth stop does, then start them.",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.ContainerRestartOptions{Signal: signal}
			if cmd.Flags().Changed("time") {
				t := timeout
				opts.Timeout = &t
			}
			return c.eachContainer(cmd, args, func(cl *client.Client, name string) error {
				_, err := cl.ContainerRestart(cmd.Context(), name, opts)
				return err
			})
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&timeout, "time", "t", 0, "Seconds to wait before killing the container")
	fs.StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func newRmCommand(c *CLI) *cobra.Command {
	var force, volumes, link bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Long: `Remove one or more containers: their writable layer, their log and their
state. A running container cannot be removed unless --force is given,
which kills it first. With --link, each argument is a legacy link,
/LINKER/ALIAS, which is removed from the linking container.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd, args, func(cl *client.Client, name string) error {
				_, err := cl.ContainerRemove(cmd.Context(), name, client.ContainerRemoveOptions{Force: force, RemoveVolumes: volumes, RemoveLinks: link})
				return err
			})
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	fs.BoolVarP(&volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	fs.BoolVarP(&link, "link", "l", false, "Remove the specified link")
	return cmd
}

func newWaitCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				res := cl.ContainerWait(cmd.Context(), name, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
				select {
				case r := <-res.Result:
					if r.Error != nil && r.Error.Message != "" {
						errs = append(errs, errors.New(r.Error.Message))
						continue
					}
					fmt.Fprintln(c.Out, r.StatusCode)
				case err := <-res.Error:
					errs = append(errs, err)
				}
			}
			return errorList(errs)
		},
	}
}

// eachContainer applies fn to each container named, printing the name of
// each one done, as docker does, and collecting the failures: one bad
// name does not stop the others.
func (c *CLI) eachContainer(cmd *cobra.Command, names []string, fn func(cl *client.Client, name string) error) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if err := fn(cl, name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(c.Out, name)
	}
	return errorList(errs)
}
