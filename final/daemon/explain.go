package daemon

import (
	"strings"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/07-logs/shim"
)

// ExplainLabel asks berthd for the explain trace of a container's
// starts (`berth run --explain` sets it): the shim keeps it in the
// container's directory, explain.log under the data root, where berth
// reads it. berthd --debug (Options.Explain) traces every container.
const ExplainLabel = explain.Label

// explains reports whether a container with these labels is traced.
func (d *Daemon) explains(labels map[string]string) bool {
	return d.opts.Explain != nil || labels[ExplainLabel] == "true"
}

// logExplained writes the trace of c's last start to the debug log, one
// record per step: each step its own record, so that a log reader can
// filter by container and still read the steps in order.
func (d *Daemon) logExplained(c *shim.Container) {
	if d.opts.Explain == nil || !c.Config.Explain {
		return
	}
	trace, err := c.Explained()
	if err != nil {
		d.opts.Explain.Debug("explain", "container", namespace.ShortID(c.ID()), "error", err)
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(trace), "\n") {
		if line != "" {
			d.opts.Explain.Debug("explain", "container", namespace.ShortID(c.ID()), "step", line)
		}
	}
}
