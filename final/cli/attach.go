package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newAttachCommand(c *CLI) *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Long: `Attach berth's standard streams to a running container's, as if its
main process had been started in this terminal. ctrl-p ctrl-q (or
--detach-keys) detaches again and leaves it running; with a terminal,
ctrl-c is sent to the container, which usually ends it.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.attach(cmd, args[0], !noStdin, sigProxy, detachKeys)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	fs.BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	fs.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func (c *CLI) attach(cmd *cobra.Command, name string, stdin, sigProxy bool, detachKeys string) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctr, err := c.runningContainer(ctx, cl, name)
	if err != nil {
		return err
	}
	tty := ctr.Config.Tty
	withStdin := stdin && ctr.Config.OpenStdin
	if withStdin {
		if err := checkTTY(c.In, true, tty); err != nil {
			return err
		}
	}
	if sigProxy && !tty {
		stop := c.forwardSignals(ctx, cl, ctr.ID)
		defer stop()
	}

	// Ask for the exit status first: after the stream ends it could be
	// too late to wait for a container that has already gone.
	wait := cl.ContainerWait(ctx, ctr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})

	resp, err := cl.ContainerAttach(ctx, ctr.ID, client.ContainerAttachOptions{
		Stream: true, Stdin: withStdin, Stdout: true, Stderr: true, DetachKeys: detachKeys,
	})
	if err != nil {
		return err
	}
	defer resp.Close()

	// The container may have stopped between the inspect and the attach;
	// then the attachment would wait forever for output.
	if _, err := c.runningContainer(ctx, cl, ctr.ID); err != nil {
		return err
	}
	s := &hijackedStream{resp: resp.HijackedResponse, tty: tty, out: c.Out, errw: c.Err, detachKeys: detachKeys, warn: c.Err}
	if tty {
		s.errw = c.Out
	}
	if withStdin {
		s.in = c.In
	}
	streamDone := s.start(ctx)
	if tty && isTerminal(c.Out) {
		stop := c.monitorTTYSize(ctx, func(ctx context.Context, h, w uint) error {
			_, err := cl.ContainerResize(ctx, ctr.ID, client.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
		defer stop()
	}
	// Normally the stream ends when the container exits, and the wait
	// answers right after. But a container that exited between the
	// check above and the daemon's own start of the attachment leaves an
	// attachment that waits for the next start (docker's does too); the
	// wait then tells us the container is gone, and after a moment for
	// the last output we stop waiting for the stream.
	var result container.WaitResponse
	select {
	case err := <-streamDone:
		if err != nil {
			return err // including errDetached: docker says "read escape sequence"
		}
		select {
		case result = <-wait.Result:
		case err := <-wait.Error:
			return waitError(err)
		}
	case result = <-wait.Result:
		select {
		case err := <-streamDone:
			if err != nil {
				return err
			}
		case <-time.After(2 * time.Second):
		}
	case err := <-wait.Error:
		return waitError(err)
	}
	if result.Error != nil && result.Error.Message != "" {
		return errors.New(result.Error.Message)
	}
	if result.StatusCode != 0 {
		return StatusError{StatusCode: int(result.StatusCode)}
	}
	return nil
}

// waitError is a failed wait: if the daemon went away, docker's status
// -1 (255).
func waitError(err error) error {
	if client.IsErrConnectionFailed(err) {
		return StatusError{StatusCode: -1}
	}
	return err
}

// runningContainer inspects a container and refuses the ones that are
// not running, with docker's messages.
func (c *CLI) runningContainer(ctx context.Context, cl *client.Client, name string) (container.InspectResponse, error) {
	res, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, err
	}
	ctr := res.Container
	if ctr.State == nil || ctr.Config == nil {
		return ctr, fmt.Errorf("container %s: the daemon's answer lacks State or Config", name)
	}
	switch {
	case !ctr.State.Running:
		return ctr, errors.New("You cannot attach to a stopped container, start it first")
	case ctr.State.Paused:
		return ctr, errors.New("You cannot attach to a paused container, unpause it first")
	case ctr.State.Restarting:
		return ctr, errors.New("You cannot attach to a restarting container, wait until it is running")
	}
	return ctr, nil
}
