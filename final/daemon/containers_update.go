package daemon

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/restart"
)

// ContainerUpdate is docker update. berthd applies the restart policy:
// the new one holds from the container's next exit on (a restart that
// is pending goes ahead), and is kept in the policy's record, so that
// inspect, a daemon restart and the next exits all see it. Resources are
// refused by name: no limit is changed silently.
func (d *Daemon) ContainerUpdate(ctx context.Context, name string, req container.UpdateConfig) (container.UpdateResponse, error) {
	e, err := d.lookup(name)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	if asked := api.UpdatedResources(req.Resources); len(asked) > 0 {
		return container.UpdateResponse{}, api.RefuseUpdate(asked)
	}
	if req.RestartPolicy.Name != "" {
		autoRemove := e.autoRemove()
		if err := restart.Validate(req.RestartPolicy, false); err != nil {
			return container.UpdateResponse{}, giveKind(errdefs.ErrInvalidArgument, err)
		}
		if autoRemove && !req.RestartPolicy.IsNone() {
			// dockerd's words and status.
			return container.UpdateResponse{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Cannot update container %s: Restart policy cannot be updated because AutoRemove is enabled for the container", e.id))
		}
		if err := d.restartOf(e).SetPolicy(req.RestartPolicy); err != nil {
			return container.UpdateResponse{}, fmt.Errorf("updating container %s: %w", e.id, err)
		}
	}
	d.emitContainer(e, moby.ActionUpdate, nil)
	return container.UpdateResponse{Warnings: []string{}}, nil
}
