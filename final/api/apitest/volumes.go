package apitest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/final/filters"
)

// The fake's volumes are records only: names, labels and options, no
// files. A volume is in use while a container that is not removed names
// it in HostConfig.Binds or HostConfig.Mounts.

const anonymousLabel = "com.docker.volume.anonymous"

// VolumeCreate makes a volume record (an anonymous one without a name),
// or returns the existing one.
func (f *Fake) VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error) {
	if req.Driver != "" && req.Driver != "local" {
		return volume.Volume{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("volume driver %q is not supported: berth has the local driver", req.Driver))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.volumes == nil {
		f.volumes = map[string]volume.Volume{}
	}
	labels := maps.Clone(req.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	name := req.Name
	if name == "" {
		name = randomID()
		labels[anonymousLabel] = ""
	}
	if v, ok := f.volumes[name]; ok {
		return v, nil
	}
	v := volume.Volume{Name: name, Driver: "local", Scope: "local", Labels: labels, Options: req.DriverOpts,
		Mountpoint: "/var/lib/fake/volumes/" + name + "/_data", CreatedAt: time.Now().UTC().Format(time.RFC3339)}
	f.volumes[name] = v
	return v, nil
}

// VolumeInspect returns the volume name.
func (f *Fake) VolumeInspect(ctx context.Context, name string) (volume.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.volumes[name]
	if !ok {
		return v, errdefs.ErrNotFound.WithMessage("get " + name + ": no such volume")
	}
	return v, nil
}

// volumeUsers are the IDs of the containers that name the volume,
// sorted. Call with f.mu held.
func (f *Fake) volumeUsers(name string) []string {
	var users []string
	for _, c := range f.containers {
		if !c.removed && (slices.ContainsFunc(c.host.Binds, func(b string) bool { return strings.HasPrefix(b, name+":") }) ||
			slices.ContainsFunc(c.host.Mounts, func(m mount.Mount) bool { return m.Type == mount.TypeVolume && m.Source == name })) {
			users = append(users, c.id)
		}
	}
	slices.Sort(users)
	return users
}

// VolumeRemove removes a volume no container uses.
func (f *Fake) VolumeRemove(ctx context.Context, name string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.volumes[name]; !ok {
		if force {
			return nil
		}
		return errdefs.ErrNotFound.WithMessage("get " + name + ": no such volume")
	}
	if users := f.volumeUsers(name); len(users) > 0 {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("remove %s: volume is in use - [%s]", name, strings.Join(users, ", ")))
	}
	delete(f.volumes, name)
	return nil
}

// matchVolume applies the filters name (part of the name), driver,
// label (all must match), label!, dangling, as the engine does.
func (f *Fake) matchVolume(v volume.Volume, args filters.Args) (bool, error) {
	if err := args.Check("volumes", "name", "driver", "label", "label!", "dangling", "all"); err != nil {
		return false, err
	}
	dangling, danglingSet, err := args.Bool("dangling")
	if err != nil {
		return false, err
	}
	return args.Any("name", func(n string) bool { return strings.Contains(v.Name, n) }) &&
		args.Any("driver", func(d string) bool { return d == "local" }) &&
		args.Labels(v.Labels) &&
		(!danglingSet || dangling != (len(f.volumeUsers(v.Name)) > 0)), nil
}

// VolumeList lists the volumes that pass the filters, by name.
func (f *Fake) VolumeList(ctx context.Context, args filters.Args) (volume.ListResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := volume.ListResponse{Volumes: []volume.Volume{}, Warnings: []string{}}
	for _, name := range slices.Sorted(maps.Keys(f.volumes)) {
		ok, err := f.matchVolume(f.volumes[name], args)
		if err != nil {
			return out, err
		}
		if ok {
			out.Volumes = append(out.Volumes, f.volumes[name])
		}
	}
	return out, nil
}

// VolumesPrune removes the unused anonymous volumes (all unused ones
// with all=true) that pass the filters.
func (f *Fake) VolumesPrune(ctx context.Context, args filters.Args) (volume.PruneReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	report := volume.PruneReport{VolumesDeleted: []string{}}
	all, _, err := args.Bool("all")
	if err != nil {
		return report, err
	}
	for _, name := range slices.Sorted(maps.Keys(f.volumes)) {
		v := f.volumes[name]
		if _, anon := v.Labels[anonymousLabel]; (!anon && !all) || (len(f.volumeUsers(name)) > 0) {
			continue
		}
		ok, err := f.matchVolume(v, args)
		if err != nil {
			return report, err
		}
		if ok {
			delete(f.volumes, name)
			report.VolumesDeleted = append(report.VolumesDeleted, name)
		}
	}
	return report, nil
}
