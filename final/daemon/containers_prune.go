package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/filters"
)

// ContainersPrune answers POST /containers/prune (docker container
// prune): every container that is not running, created before until
// (if given) and with the labels asked for, is removed, as `docker rm`
// would remove it: its writable layer and its log go, its volumes stay,
// even the anonymous ones (Docker's prune keeps them too; volume prune
// is theirs). SpaceReclaimed is what the writable layers held.
func (d *Daemon) ContainersPrune(ctx context.Context, args filters.Args) (container.PruneReport, error) {
	report := container.PruneReport{ContainersDeleted: []string{}}
	if err := args.Check("containers", "until", "label", "label!"); err != nil {
		return report, err
	}
	until, hasUntil, err := args.Until(time.Now())
	if err != nil {
		return report, err
	}
	var errs []error
	for _, e := range d.live.newestFirst() {
		if err := ctx.Err(); err != nil {
			return report, err
		}
		st, err := e.c.State()
		if err != nil || st.Status == shim.Running { // a paused one runs too
			continue // removed meanwhile, or in use
		}
		if hasUntil && !created(e.c).Before(until) {
			continue
		}
		if !args.Labels(e.labels()) {
			continue
		}
		var size int64
		if rw, err := layer.Open(d.opts.DataRoot, e.id); err == nil {
			size, _ = layer.DiskUsage(rw.Upper())
		}
		if err := d.ContainerRemove(ctx, e.id, false, false); err != nil {
			errs = append(errs, err)
			continue
		}
		report.ContainersDeleted = append(report.ContainersDeleted, e.id)
		report.SpaceReclaimed += uint64(max(size, 0))
	}
	d.Pruned(moby.ContainerEventType, report.SpaceReclaimed)
	return report, errors.Join(errs...)
}
