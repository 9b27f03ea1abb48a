package apitest

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/final/api"
)

// execProc is a fake exec: a program run beside the container's own.
type execProc struct {
	id       string
	c        *ctr
	cfg      container.ExecCreateRequest
	started  bool
	running  bool
	exitCode *int
	pid      int
	size     [2]uint
}

// ExecCreate prepares a program to run in a running container.
func (f *Fake) ExecCreate(_ context.Context, name string, req container.ExecCreateRequest) (string, error) {
	if len(req.Cmd) == 0 {
		return "", errdefs.ErrInvalidArgument.WithMessage("no exec command specified")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return "", err
	}
	if c.status != container.StateRunning {
		return "", notRunning(c)
	}
	if c.paused {
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is paused, unpause the container before exec", c.id))
	}
	e := &execProc{id: randomID(), c: c, cfg: req}
	f.execs[e.id] = e
	c.execIDs = append(c.execIDs, e.id)
	return e.id, nil
}

func (f *Fake) lookupExec(id string) (*execProc, error) {
	e, ok := f.execs[id]
	if !ok {
		return nil, errdefs.ErrNotFound.WithMessage("No such exec instance: " + id)
	}
	return e, nil
}

// ExecStart runs the exec's program; attached, until it returns.
func (f *Fake) ExecStart(ctx context.Context, id string, opts api.ExecStartOptions) error {
	f.mu.Lock()
	e, err := f.lookupExec(id)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	c := e.c
	if e.started {
		f.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Error: Exec command %s has already run", id))
	}
	if c.status != container.StateRunning || c.cancel == nil {
		f.mu.Unlock()
		return notRunning(c)
	}
	if c.paused {
		f.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is paused, unpause the container before exec", c.id))
	}
	prog := f.programs[path.Base(e.cfg.Cmd[0])]
	e.started = true
	if prog == nil {
		code := 127
		e.exitCode = &code
		f.mu.Unlock()
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("OCI runtime exec failed: exec failed: unable to start container process: exec: %q: executable file not found in $PATH", e.cfg.Cmd[0]))
	}
	e.running = true
	e.pid = c.pid + 100 + len(c.execIDs)
	runDone := c.done
	proc := &Proc{
		Args:   e.cfg.Cmd,
		Env:    append(append([]string{}, c.config.Env...), e.cfg.Env...),
		Tty:    e.cfg.Tty,
		Stdin:  strings.NewReader(""),
		Stdout: io.Discard,
		Stderr: io.Discard,
		fake:   f,
		ctr:    c,
	}
	f.mu.Unlock()

	if !opts.Detach {
		if e.cfg.AttachStdin && opts.Stdin != nil {
			proc.Stdin = opts.Stdin
		}
		if e.cfg.AttachStdout && opts.Stdout != nil {
			proc.Stdout = opts.Stdout
		}
		switch {
		case opts.Tty:
			proc.Stderr = proc.Stdout
		case e.cfg.AttachStderr && opts.Stderr != nil:
			proc.Stderr = opts.Stderr
		}
	}
	// The exec dies with its container, and an attached one with its
	// client.
	runCtx, cancel := context.WithCancel(context.Background())
	if !opts.Detach {
		stop := context.AfterFunc(ctx, cancel)
		defer stop()
	}
	go func() {
		select {
		case <-runDone:
			cancel()
		case <-runCtx.Done():
		}
	}()
	finish := func() {
		code := prog(runCtx, proc)
		cancel()
		f.mu.Lock()
		e.running = false
		e.exitCode = &code
		f.mu.Unlock()
	}
	if opts.Detach {
		go finish()
		return nil
	}
	finish()
	return nil
}

// ExecResize records the exec's terminal size.
func (f *Fake) ExecResize(_ context.Context, id string, height, width uint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookupExec(id)
	if err != nil {
		return err
	}
	e.size = [2]uint{height, width}
	return nil
}

// ExecInspect reports the exec's state and exit code.
func (f *Fake) ExecInspect(_ context.Context, id string) (container.ExecInspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookupExec(id)
	if err != nil {
		return container.ExecInspectResponse{}, err
	}
	resp := container.ExecInspectResponse{
		ID:          e.id,
		Running:     e.running,
		ExitCode:    e.exitCode,
		OpenStdin:   e.cfg.AttachStdin,
		OpenStdout:  e.cfg.AttachStdout,
		OpenStderr:  e.cfg.AttachStderr,
		ContainerID: e.c.id,
		Pid:         e.pid,
		ProcessConfig: &container.ExecProcessConfig{
			Tty:        e.cfg.Tty,
			Entrypoint: e.cfg.Cmd[0],
			Arguments:  e.cfg.Cmd[1:],
			User:       e.cfg.User,
		},
	}
	return resp, nil
}
