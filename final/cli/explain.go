package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moby/moby/client"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// askExplain is --explain: the label that asks berthd to trace the
// container's start (explain.Label). The trace is made in berthd's
// shim, where the kernel is asked; berth prints it once the start has
// returned.
func (o *containerOptions) askExplain(v string) error {
	if v == "false" {
		return nil
	}
	return o.labels.Set(explain.Label + "=true")
}

// printExplained prints the trace of the container's start on stderr,
// if --explain asked for it. berthd keeps it under its data root, which
// berth reads directly: the Engine API has no call for it, so this
// works with a berthd on this machine only, and says so otherwise. The
// container's own output, streamed meanwhile, may come first.
func (c *CLI) printExplained(ctx context.Context, cl *client.Client, id string, labels map[string]string) {
	if labels[explain.Label] != "true" {
		return
	}
	info, err := cl.Info(ctx, client.InfoOptions{})
	if err != nil {
		fmt.Fprintf(c.Err, "berth: --explain: %v\n", err)
		return
	}
	path := filepath.Join(info.Info.DockerRootDir, "containers", id, "explain.log")
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(c.Err, "berth: --explain: the trace of %s: %v (it is kept by a berthd on this machine, until the container is removed)\n", id[:min(12, len(id))], err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(c.Err, f)
}
