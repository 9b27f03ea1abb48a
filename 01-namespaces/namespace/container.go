package namespace

import "fmt"

// Container is the host side of one foreground container run: start init,
// let other parts of the engine act on its PID, send the spec, wait.
//
//	c := namespace.Container{Config: cfg, Spec: spec, Stdio: stdio}
//	c.OnStart(func(pid int) error { return cg.Add(pid) }) // chapter 02
//	status, err := c.Run()
//
// Each chapter adds its own steps with OnStart instead of rewriting Run.
type Container struct {
	Config Config
	Spec   any // what init reads with ReadSpec
	Stdio  Stdio
	hooks  []func(pid int) error
}

// OnStart registers f to run on the host after init started and before it
// gets its spec: the container's namespaces exist, its command does not
// yet. Hooks run in the order they were added; the first error stops the
// container.
func (c *Container) OnStart(f func(pid int) error) { c.hooks = append(c.hooks, f) }

// Run runs the container to its end and returns its exit status.
func (c *Container) Run() (int, error) {
	p, err := Start(c.Config, c.Stdio)
	if err != nil {
		return 0, err
	}
	for _, hook := range c.hooks {
		if err := hook(p.Pid()); err != nil {
			_ = p.Kill()
			return 0, fmt.Errorf("preparing container (init pid %d): %w", p.Pid(), err)
		}
	}
	defer p.ForwardSignals()()
	if err := p.Release(c.Spec); err != nil {
		_ = p.Kill()
		return 0, err
	}
	return p.Wait()
}
