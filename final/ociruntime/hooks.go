package ociruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Hooks are programs the caller of the runtime asks to run at points of
// the life cycle (config.json's "hooks"). Each gets the container's
// state as JSON on its stdin, runs with exactly its own args (args[0]
// included) and env, and may be given a timeout in seconds. Where each
// kind runs, and why there:
//
//	createRuntime, prestart  create, host side, once init exists (its
//	                         namespaces do, pid known), before init
//	                         reads its spec: a network hook can plumb
//	                         the netns before anything in it runs
//	createContainer          init, in the container's namespaces, after
//	                         the mounts and before pivot_root: the path
//	                         resolves on the host, the effect is inside
//	startContainer           init, after start released it and just
//	                         before the exec: the path resolves inside
//	poststart                start, host side, once the process runs
//	poststop                 delete, host side, once init is gone
//
// A hook that fails before the process runs fails the operation; a
// poststart or poststop hook that fails is reported and the others still
// run, as the spec says.

// hookKind names a list of hooks in errors, as config.json spells it.
type hookKind string

const (
	hookCreateRuntime   hookKind = "createRuntime"
	hookPrestart        hookKind = "prestart"
	hookCreateContainer hookKind = "createContainer"
	hookStartContainer  hookKind = "startContainer"
	hookPoststart       hookKind = "poststart"
	hookPoststop        hookKind = "poststop"
)

// runHooks runs the hooks in order with state on their stdin and stops at
// the first failure.
func runHooks(kind hookKind, hooks []specs.Hook, state *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	b, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("hooks.%s: state: %w", kind, err)
	}
	for i, h := range hooks {
		if err := runHook(h, b); err != nil {
			return fmt.Errorf("hooks.%s[%d] %s: %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// runHooksAll runs every hook even when some fail (poststart, poststop),
// and returns the failures joined.
func runHooksAll(kind hookKind, hooks []specs.Hook, state *specs.State) error {
	var errs []error
	for i := range hooks {
		errs = append(errs, runHooks(kind, hooks[i:i+1], state))
	}
	return errors.Join(errs...)
}

// runHook runs one hook: path with args as they are (Args[0] is the
// program's argv[0], which may differ from path), env as it is (nothing
// of the runtime's own), state on stdin. Its output is collected and
// quoted in the error, as runc does: a failing hook then says why in
// the one line that containerd reports.
func runHook(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout %d: must be positive", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args = h.Args
	if len(cmd.Args) == 0 {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A hook that leaves a child holding its output open must not hold
	// the runtime up past its own exit.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}

// hookState is the state a hook gets: the OCI state of the container at
// that point.
func hookState(id string, status Status, pid int, bundle string, annotations map[string]string) *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          id,
		Status:      specs.ContainerState(status),
		Pid:         pid,
		Bundle:      bundle,
		Annotations: annotations,
	}
}
