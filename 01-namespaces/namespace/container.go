package namespace

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// Container is the host side of one foreground container run: start init,
// let other parts of the engine act on its PID, send the spec, wait, and
// undo what was set up.
//
//	c, err := cfg.Container(id, command, stdio)
//	c.OnStart(cg.Add)          // chapter 02: join the cgroup while init waits
//	c.OnExit(cg.Destroy)       // ... and remove it when the container is gone
//	status, err := c.Run()
//
// Each chapter adds its own steps with OnStart and OnExit instead of
// rewriting Run.
type Container struct {
	Config Config
	Spec   any // what init reads with ReadSpec; later chapters wrap it
	Stdio  Stdio
	hooks  []func(pid int) error
	beside []func(pid int) error
	exits  []func() error
	closed bool
}

// Container is the container that runs command with ID id, configured by
// c: chapter 01's spec, to which later chapters add their parts.
func (c *Config) Container(id string, command []string, stdio Stdio) (*Container, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Explain && c.Trace == nil {
		// The program's stderr, which a foreground container shares:
		// unless it is a file, which the container gets as it is, the
		// two take turns (explain.Trace.Share).
		c.Trace = explain.New(stdio.Err)
		if _, isFile := stdio.Err.(*os.File); !isFile && c.Trace != nil {
			stdio.Err = c.Trace.Share()
		}
	}
	return &Container{Config: *c, Spec: c.NewSpec(id, command), Stdio: stdio}, nil
}

// Runner is what the run options of every chapter offer: their flags, and
// the container they describe. Each chapter's RunOptions embeds the
// previous chapter's and adds to both.
type Runner interface {
	AddFlags(fs *flag.FlagSet)
	Container(id string, command []string, stdio Stdio) (*Container, error)
}

// RunCommand is a chapter program's "run": parse the flags into a fresh
// Runner, build the container with a new ID, run it in the foreground.
func RunCommand(newOptions func() Runner) func(args []string, stdio Stdio) (int, error) {
	return func(args []string, stdio Stdio) (int, error) {
		opts := newOptions()
		fs := FlagSet("run")
		opts.AddFlags(fs)
		command, err := ParseCommand(fs, args)
		if err != nil {
			return 0, err
		}
		c, err := opts.Container(NewID(), command, stdio)
		if err != nil {
			return 0, err
		}
		return c.Run()
	}
}

// OnStart registers f to run on the host after init started and before it
// gets its spec: the container's namespaces exist, its command does not
// yet. Hooks run in the order they were added; the first error stops the
// container.
func (c *Container) OnStart(f func(pid int) error) { c.hooks = append(c.hooks, f) }

// OnRelease registers f to run on the host once init has its spec,
// beside init's own set-up of the container (mounts, root filesystem):
// the command starts only after every such hook has returned. A step
// that only the command needs, and that takes a while, goes here rather
// than in OnStart, so that the two sides work at the same time: chapter
// 05 attaches the network so. A step that must come before anything init
// does (joining the cgroup) stays in OnStart.
func (c *Container) OnRelease(f func(pid int) error) { c.beside = append(c.beside, f) }

// OnExit registers f to undo a setup step once the container is gone, or
// when it never started. Exit hooks run in the reverse order of their
// registration, like deferred calls, and all of them run.
func (c *Container) OnExit(f func() error) { c.exits = append(c.exits, f) }

// Close runs the exit hooks, once. Run calls it; call it yourself only to
// abandon a container that will not be run.
func (c *Container) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for i := len(c.exits) - 1; i >= 0; i-- {
		errs = append(errs, c.exits[i]())
	}
	return errors.Join(errs...)
}

// Start starts the container and returns its init once the command is
// on its way: init started, the OnStart hooks run, the spec sent, the
// OnRelease hooks run beside init's set-up, the go given. Nothing
// waits for it here, and the exit hooks are left for Close (or for
// whoever cleans up after a detached container). If a step fails, Start
// kills init and runs the exit hooks.
func (c *Container) Start() (*Process, error) {
	p, err := Start(c.Config, c.Stdio)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	for _, hook := range c.hooks {
		if err := hook(p.Pid()); err != nil {
			_ = p.Kill()
			err = fmt.Errorf("preparing container (init pid %d): %w", p.Pid(), err)
			return nil, errors.Join(err, c.Close())
		}
	}
	fail := func(err error) (*Process, error) {
		_ = p.Kill()
		return nil, errors.Join(err, c.Close())
	}
	if err := p.SendSpec(c.Spec); err != nil {
		return fail(err)
	}
	for _, hook := range c.beside {
		if err := hook(p.Pid()); err != nil {
			return fail(fmt.Errorf("preparing container (init pid %d): %w", p.Pid(), err))
		}
	}
	if err := p.Go(); err != nil {
		return fail(err)
	}
	return p, nil
}

// Run runs the container in the foreground to its end, undoes its setup,
// and returns its exit status.
func (c *Container) Run() (status int, err error) {
	p, err := c.Start()
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	defer p.ForwardSignals()()
	return p.Wait()
}
