package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// The explain trace of a container's start (Config.Explain). The start
// happens in the shim, which has no terminal, and whose stderr is
// /dev/null: the trace goes to a file in the container's directory,
// and the program that started the container prints it once the shim
// has reported (Explained). Every line is written before the report:
// the host's as they happen, init's by the time its command runs (see
// namespace.Process.TraceDone).
const explainFile = "explain.log"

// Explain is the trace of this start, in the shim; nil when the
// container's config does not ask for one. A Runtime's Start gives it to
// the container it builds (namespace.Config.Trace).
func (c *Container) Explain() *explain.Trace {
	if !c.Config.Explain {
		return nil
	}
	if c.trace == nil {
		// O_CLOEXEC (os.OpenFile's default): nothing the shim
		// executes, the monitor included, inherits it.
		f, err := os.OpenFile(filepath.Join(c.dir, explainFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
		if err != nil {
			return nil // a trace that cannot be kept must not stop the container
		}
		c.trace = explain.New(f)
	}
	return c.trace
}

// Explained returns the trace of the container's last start, "" if it
// asked for none.
func (c *Container) Explained() (string, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, explainFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("container %s: the start's trace: %w", c.Name(), err)
	}
	return string(b), nil
}
