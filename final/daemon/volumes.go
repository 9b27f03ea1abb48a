package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	moby "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	apivolume "github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/04-cow-layers/volume"
	"github.com/berth-project/berth/final/filters"
)

// Volumes are chapter 04's store (<DataRoot>/volumes), which knows
// nothing of containers: who uses a volume is the daemon's to say. A
// volume is in use while any container, running or not, has it in its
// mounts (api.json), as in Docker. A create holds volumesMu for reading
// from its first check to the container's listing, a removal for
// writing, so no volume goes between a create's finding it and the
// container's showing it in use.

// VolumeCreate answers POST /volumes/create. An existing name is
// returned as it is (201, as Docker).
func (d *Daemon) VolumeCreate(ctx context.Context, req apivolume.CreateRequest) (apivolume.Volume, error) {
	if req.Driver != "" && req.Driver != volume.Driver {
		return apivolume.Volume{}, invalid("volume driver %q is not supported: berth has the local driver", req.Driver)
	}
	if req.ClusterVolumeSpec != nil {
		return apivolume.Volume{}, invalid("cluster volumes are not supported: berth is not a swarm")
	}
	v, isNew, err := d.volumes.Create(req.Name, req.Labels, req.DriverOpts)
	if err == nil && isNew {
		err = d.chownNewVolume(v)
	}
	if errors.Is(err, volume.ErrInvalid) {
		return apivolume.Volume{}, giveKind(errdefs.ErrInvalidArgument, err)
	}
	if errors.Is(err, volume.ErrConflict) {
		return apivolume.Volume{}, giveKind(errdefs.ErrConflict, err)
	}
	if err != nil {
		return apivolume.Volume{}, err
	}
	// For an existing volume too, as dockerd.
	d.emitVolume(v.Name, moby.ActionCreate, nil)
	return apiVolume(v), nil
}

// apiVolume is v as the API shows it.
func apiVolume(v volume.Volume) apivolume.Volume {
	labels := v.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return apivolume.Volume{
		Name:       v.Name,
		Driver:     volume.Driver,
		Scope:      volume.Scope,
		Mountpoint: v.Mountpoint,
		CreatedAt:  v.CreatedAt.Format(time.RFC3339),
		Labels:     labels,
		Options:    v.Options,
	}
}

// VolumeInspect answers GET /volumes/{name}.
func (d *Daemon) VolumeInspect(ctx context.Context, name string) (apivolume.Volume, error) {
	v, err := d.getVolume(name)
	if err != nil {
		return apivolume.Volume{}, err
	}
	return apiVolume(v), nil
}

// getVolume is the store's volume, with Docker's 404.
func (d *Daemon) getVolume(name string) (volume.Volume, error) {
	v, err := d.volumes.Get(name)
	if errors.Is(err, volume.ErrNotFound) {
		return v, errdefs.ErrNotFound.WithMessage("get " + name + ": no such volume")
	}
	return v, err
}

// volumeUsers maps each volume in use to the containers that use it.
func (d *Daemon) volumeUsers() map[string][]string {
	l := d.live
	l.mu.Lock()
	defer l.mu.Unlock()
	users := map[string][]string{}
	for id, e := range l.byID {
		if e.rec == nil {
			continue
		}
		for _, m := range e.rec.Mounts {
			if m.Type == mount.TypeVolume && !slices.Contains(users[m.Name], id) {
				users[m.Name] = append(users[m.Name], id)
			}
		}
	}
	return users
}

// VolumeRemove answers DELETE /volumes/{name}: 409 while a container
// uses it. force makes a missing volume no error; it does not remove a
// volume in use (nor does Docker's).
func (d *Daemon) VolumeRemove(ctx context.Context, name string, force bool) error {
	d.volumesMu.Lock()
	defer d.volumesMu.Unlock()
	if _, err := d.getVolume(name); err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	if users := d.volumeUsers()[name]; len(users) > 0 {
		slices.Sort(users)
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("remove %s: volume is in use - [%s]", name, strings.Join(users, ", ")))
	}
	if err := d.volumes.Remove(name); err != nil {
		return err
	}
	d.emitVolume(name, moby.ActionDestroy, nil)
	return nil
}

// removeVolumes removes the named volumes that no container uses: a
// failed create's new volumes, or with rm -v a container's anonymous
// ones. A volume gone already is no error.
func (d *Daemon) removeVolumes(names []string) error {
	if len(names) == 0 {
		return nil
	}
	users := d.volumeUsers()
	var errs []error
	for _, n := range names {
		if len(users[n]) > 0 {
			continue
		}
		err := d.volumes.Remove(n)
		if err == nil {
			d.emitVolume(n, moby.ActionDestroy, nil)
		} else if !errors.Is(err, volume.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeAnonymousVolumes removes the anonymous volumes of rec (rm -v,
// and --rm), named ones stay. The container is no longer listed.
func (d *Daemon) removeAnonymousVolumes(rec *record) error {
	if rec == nil {
		return nil
	}
	var names []string
	for _, m := range rec.Mounts {
		if m.Type != mount.TypeVolume {
			continue
		}
		if v, err := d.volumes.Get(m.Name); err == nil && v.Anonymous() {
			names = append(names, m.Name)
		}
	}
	d.volumesMu.Lock()
	defer d.volumesMu.Unlock()
	return d.removeVolumes(names)
}

// volumeFilter is a parsed filters argument of GET /volumes and POST
// /volumes/prune (package final/filters says how its values combine).
type volumeFilter struct {
	args                  filters.Args
	dangling, danglingSet bool
	all                   bool
}

// parseVolumeFilter reads args, allowing the keys of allowed.
func parseVolumeFilter(args filters.Args, allowed ...string) (volumeFilter, error) {
	vf := volumeFilter{args: args}
	if err := args.Check("volumes", allowed...); err != nil {
		return vf, err
	}
	var err error
	if vf.dangling, vf.danglingSet, err = args.Bool("dangling"); err != nil {
		return vf, err
	}
	vf.all, _, err = args.Bool("all")
	return vf, err
}

// match says whether v (used by a container or not) passes the filter.
func (vf volumeFilter) match(v volume.Volume, inUse bool) bool {
	return vf.args.Any("name", func(n string) bool { return strings.Contains(v.Name, n) }) &&
		vf.args.Any("driver", func(d string) bool { return d == volume.Driver }) &&
		vf.args.Labels(v.Labels) &&
		(!vf.danglingSet || vf.dangling == !inUse)
}

// VolumeList answers GET /volumes.
func (d *Daemon) VolumeList(ctx context.Context, args filters.Args) (apivolume.ListResponse, error) {
	vf, err := parseVolumeFilter(args, "name", "driver", "label", "dangling")
	if err != nil {
		return apivolume.ListResponse{}, err
	}
	vols, err := d.volumes.List()
	if err != nil {
		return apivolume.ListResponse{}, err
	}
	users := d.volumeUsers()
	out := apivolume.ListResponse{Volumes: []apivolume.Volume{}, Warnings: []string{}}
	for _, v := range vols {
		if vf.match(v, len(users[v.Name]) > 0) {
			out.Volumes = append(out.Volumes, apiVolume(v))
		}
	}
	return out, nil
}

// VolumesPrune answers POST /volumes/prune: the unused volumes that
// match the filters go; only anonymous ones unless all=true (Docker's
// rule since API 1.42; the server asks for all on older versions).
func (d *Daemon) VolumesPrune(ctx context.Context, args filters.Args) (apivolume.PruneReport, error) {
	vf, err := parseVolumeFilter(args, "label", "label!", "all")
	if err != nil {
		return apivolume.PruneReport{}, err
	}
	d.volumesMu.Lock()
	defer d.volumesMu.Unlock()
	vols, err := d.volumes.List()
	if err != nil {
		return apivolume.PruneReport{}, err
	}
	users := d.volumeUsers()
	report := apivolume.PruneReport{VolumesDeleted: []string{}}
	var errs []error
	for _, v := range vols {
		if len(users[v.Name]) > 0 || (!vf.all && !v.Anonymous()) || !vf.match(v, false) {
			continue
		}
		size, _ := layer.DiskUsage(v.Mountpoint)
		if err := d.volumes.Remove(v.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		// No destroy event: dockerd's prune reports only the prune.
		report.VolumesDeleted = append(report.VolumesDeleted, v.Name)
		report.SpaceReclaimed += uint64(max(size, 0))
	}
	d.Pruned(moby.VolumeEventType, report.SpaceReclaimed)
	return report, errors.Join(errs...)
}
