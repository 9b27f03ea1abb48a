package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"

	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/04-cow-layers/volume"
)

// A container's mounts come from six places of the create request, and
// become one list, by destination, of chapter 03's rootfs.Volume (what
// is mounted) and the API's MountPoint (what inspect and ps show):
//
//	HostConfig.Binds        -v /host:/path, -v NAME:/path   explicit
//	HostConfig.Mounts       --mount type=bind|volume|tmpfs  explicit
//	HostConfig.Tmpfs        --tmpfs /path:opts              explicit
//	HostConfig.VolumesFrom  --volumes-from C[:ro|rw]        C's binds and volumes
//	Config.Volumes          -v /path, and the image's VOLUME lines: anonymous
//
// Two explicit mounts on one path are an error; the others fill the
// paths that nothing explicit took. Volumes are created (named ones if
// missing, anonymous ones always) only once the whole request has
// passed its checks: see createVolumes.

// planned is one mount of a container being created.
type planned struct {
	point container.MountPoint
	vol   rootfs.Volume
	// For a volume that is yet to be created: --mount's volume
	// labels and driver options.
	labels, opts map[string]string
	// createSource: a -v of a host directory that does not exist yet,
	// which Docker makes.
	createSource bool
}

// mountPlan is a container's mounts, in the order they are mounted.
type mountPlan []planned

// planMounts checks the request's mounts and puts them in order. It
// creates nothing (but --mount's bind-create-src).
func (d *Daemon) planMounts(cfg *container.Config, h *container.HostConfig) (mountPlan, error) {
	var plan mountPlan
	taken := map[string]bool{}
	add := func(p planned, explicit bool) error {
		dst := p.vol.Target
		if taken[dst] {
			if explicit {
				return invalid("Duplicate mount point: %s", dst)
			}
			return nil
		}
		taken[dst] = true
		p.point.Destination = dst
		plan = append(plan, p)
		return nil
	}
	for _, b := range h.Binds {
		p, err := planBind(b)
		if err == nil {
			err = add(p, true)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, m := range h.Mounts {
		p, err := planMount(m)
		if err == nil {
			err = add(p, true)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, dst := range slices.Sorted(maps.Keys(h.Tmpfs)) {
		spec, opts := dst, h.Tmpfs[dst]
		if opts != "" {
			spec += ":" + opts
		}
		v, err := rootfs.ParseTmpfs(spec)
		if err != nil {
			return nil, invalid("invalid tmpfs: %v", err)
		}
		if err := add(planned{vol: v}, true); err != nil {
			return nil, err
		}
	}
	for _, from := range h.VolumesFrom {
		inherited, err := d.volumesFrom(from)
		if err != nil {
			return nil, err
		}
		for _, p := range inherited {
			_ = add(p, false)
		}
	}
	for _, dst := range slices.Sorted(maps.Keys(cfg.Volumes)) {
		// An image's VOLUME may be relative (the builder keeps it as
		// written); Docker resolves it from the container's root.
		v, err := rootfs.ParseVolume(path.Join("/", dst))
		if err != nil || v.Type != rootfs.TypeVolume || v.Name != "" {
			return nil, invalid("invalid volume %q in Config.Volumes: want a path in the container", dst)
		}
		_ = add(planned{vol: v, point: volumePoint("", true)}, false)
	}
	// Parents before children: /data before /data/logs, whatever the
	// order of the request, or the parent's mount would cover the child.
	slices.SortStableFunc(plan, func(a, b planned) int {
		return strings.Count(a.vol.Target, "/") - strings.Count(b.vol.Target, "/")
	})
	return plan, nil
}

// volumePoint is a volume's MountPoint before the volume is known.
func volumePoint(mode string, rw bool) container.MountPoint {
	return container.MountPoint{Type: mount.TypeVolume, Driver: volume.Driver, Mode: mode, RW: rw}
}

// planBind reads one of HostConfig.Binds: a -v of a host path or of a
// named volume. A missing host path is made a directory, as Docker's -v
// makes it (Compose files bind ./data that no one created); createVolumes
// makes it once the whole request has passed its checks. (--mount
// type=bind refuses a missing source, as Docker's does.)
func planBind(spec string) (planned, error) {
	v, err := rootfs.ParseVolume(spec)
	create := false
	if errors.Is(err, fs.ErrNotExist) {
		// Everything but the source's existence is checked on a
		// source that exists.
		src, rest, _ := strings.Cut(spec, ":")
		if v, err = rootfs.ParseVolume("/:" + rest); err == nil {
			v.Source, create = filepath.Clean(src), true
		}
	}
	if err != nil {
		return planned{}, invalid("invalid volume specification: '%s': %v", spec, err)
	}
	mode := ""
	if parts := strings.Split(spec, ":"); len(parts) == 3 {
		mode = parts[2]
	}
	if err := checkPropagation(v.Propagation); err != nil {
		return planned{}, err
	}
	if v.Type == rootfs.TypeVolume {
		if mode == "" {
			mode = "z" // what Docker shows of a -v volume without a mode
		}
		return planned{vol: v, point: volumePoint(mode, !v.ReadOnly)}, nil
	}
	return planned{vol: v, point: bindPoint(v, mode), createSource: create}, nil
}

// checkPropagation refuses the propagations that, under Docker, join a
// bind to the host's peer group (shared, slave and their recursive
// forms), so that mounts travel between the host and the container.
// berth's container has a mount namespace private to it (chapter 01,
// pitfall 1): such a mount would be made, and nothing would travel.
// Chapter 03 sets them inside the container, which its text teaches;
// the engine does not promise what it cannot keep.
func checkPropagation(p string) error {
	switch p {
	case "", "private", "rprivate":
		return nil
	}
	return invalid("bind propagation %q is not supported: a container's mount namespace is private to it, so no mount would travel between it and the host (private and rprivate apply)", p)
}

// bindPoint is a bind's MountPoint.
func bindPoint(v rootfs.Volume, mode string) container.MountPoint {
	prop := v.Propagation
	if prop == "" {
		prop = string(mount.PropagationRPrivate)
	}
	return container.MountPoint{Type: mount.TypeBind, Source: v.Source, Mode: mode, RW: !v.ReadOnly, Propagation: mount.Propagation(prop)}
}

// planMount reads one of HostConfig.Mounts (--mount). Options berth does
// not apply are refused by name.
func planMount(m mount.Mount) (planned, error) {
	bad := func(format string, args ...any) (planned, error) {
		return planned{}, invalid("invalid mount config for type %q: %s", m.Type, fmt.Sprintf(format, args...))
	}
	if m.Consistency != "" && m.Consistency != mount.ConsistencyDefault {
		return bad("consistency %q is not supported (it is for Docker Desktop's shared folders)", m.Consistency)
	}
	if m.ImageOptions != nil || m.ClusterOptions != nil {
		return bad("image and cluster options are not supported")
	}
	if m.BindOptions != nil && m.Type != mount.TypeBind {
		return bad("bind options (bind-*) apply to bind mounts only")
	}
	if m.VolumeOptions != nil && m.Type != mount.TypeVolume {
		return bad("volume options (volume-*) apply to volume mounts only")
	}
	if m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs {
		return bad("tmpfs options (tmpfs-*) apply to tmpfs mounts only")
	}
	switch m.Type {
	case mount.TypeBind:
		return planBindMount(m, bad)
	case mount.TypeVolume:
		return planVolumeMount(m, bad)
	case mount.TypeTmpfs:
		if m.Source != "" {
			return bad("source must not be specified")
		}
		opts, err := tmpfsMountOptions(m.TmpfsOptions)
		if err != nil {
			return bad("%v", err)
		}
		v, err := rootfs.Volume{Type: rootfs.TypeTmpfs, Target: m.Target, ReadOnly: m.ReadOnly, Tmpfs: opts}.Check()
		if err != nil {
			return bad("%v", err)
		}
		return planned{vol: v, point: container.MountPoint{Type: mount.TypeTmpfs, RW: !m.ReadOnly}}, nil
	}
	return planned{}, invalid("mount type %q is not supported: berth mounts bind, volume and tmpfs", m.Type)
}

// planBindMount is --mount type=bind.
func planBindMount(m mount.Mount, bad func(string, ...any) (planned, error)) (planned, error) {
	v := rootfs.Volume{Type: rootfs.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	if o := m.BindOptions; o != nil {
		switch {
		case o.NonRecursive:
			return bad("bind-recursive=disabled is not supported: berth's binds take the mounts below along")
		case o.ReadOnlyNonRecursive:
			return bad("bind-recursive=writable is not supported: a read-only bind is read-only all the way down")
		}
		v.Propagation = string(o.Propagation)
		if err := checkPropagation(v.Propagation); err != nil {
			return planned{}, err
		}
		if o.CreateMountpoint && filepath.IsAbs(m.Source) {
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return bad("bind-create-src: %v", err)
			}
		}
	}
	if m.Source == "" {
		return bad("field Source must not be empty")
	}
	if _, err := os.Stat(m.Source); filepath.IsAbs(m.Source) && errors.Is(err, os.ErrNotExist) {
		return bad("bind source path does not exist: %s", m.Source)
	}
	v, err := v.Check()
	if err != nil {
		return bad("%v", err)
	}
	return planned{vol: v, point: bindPoint(v, "")}, nil
}

// planVolumeMount is --mount type=volume: a named volume, or an
// anonymous one without a source.
func planVolumeMount(m mount.Mount, bad func(string, ...any) (planned, error)) (planned, error) {
	v := rootfs.Volume{Type: rootfs.TypeVolume, Name: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	p := planned{point: volumePoint("", !m.ReadOnly)}
	if o := m.VolumeOptions; o != nil {
		if o.Subpath != "" {
			return bad("volume-subpath is not supported")
		}
		v.NoCopy = o.NoCopy
		p.labels = o.Labels
		if dc := o.DriverConfig; dc != nil {
			if dc.Name != "" && dc.Name != volume.Driver {
				return bad("volume driver %q is not supported: berth has the local driver", dc.Name)
			}
			if err := volume.CheckOptions(dc.Options); err != nil {
				return bad("%v", err)
			}
			p.opts = dc.Options
		}
	}
	v, err := v.Check()
	if err != nil {
		return bad("%v", err)
	}
	p.vol = v
	return p, nil
}

// tmpfsMountOptions turns --mount's tmpfs-size, tmpfs-mode and the
// API's option list into chapter 03's tmpfs options.
func tmpfsMountOptions(o *mount.TmpfsOptions) ([]string, error) {
	if o == nil {
		return nil, nil
	}
	var opts []string
	if o.SizeBytes < 0 {
		return nil, fmt.Errorf("tmpfs-size %d: must not be negative", o.SizeBytes)
	}
	if o.SizeBytes > 0 {
		opts = append(opts, fmt.Sprintf("size=%d", o.SizeBytes))
	}
	if o.Mode != 0 {
		// The docker client sends the octal number as it was typed
		// (1777 is 0o1777, not os.ModeSticky); honour both.
		perm := uint32(o.Mode & 0o7777)
		if o.Mode&os.ModeSticky != 0 {
			perm |= 0o1000
		}
		if o.Mode&os.ModeSetgid != 0 {
			perm |= 0o2000
		}
		if o.Mode&os.ModeSetuid != 0 {
			perm |= 0o4000
		}
		opts = append(opts, fmt.Sprintf("mode=%o", perm))
	}
	for _, kv := range o.Options {
		switch len(kv) {
		case 1:
			opts = append(opts, kv[0])
		case 2:
			opts = append(opts, kv[0]+"="+kv[1])
		default:
			return nil, fmt.Errorf("tmpfs option %q: want a flag or a key and a value", kv)
		}
	}
	return opts, nil
}

// volumesFrom is --volumes-from C[:ro|rw]: C's binds and volumes, at the
// same places, read-only or writable as asked (as C has them without a
// mode). The volumes are C's, so they are not filled from this image.
func (d *Daemon) volumesFrom(spec string) ([]planned, error) {
	name, mode, _ := strings.Cut(spec, ":")
	if mode != "" && mode != "ro" && mode != "rw" {
		return nil, invalid("invalid mode for volumes-from: %s", mode)
	}
	e, err := d.lookup(name)
	if errdefs.IsNotFound(err) {
		// Not a 404: the docker client takes a 404 from create for a
		// missing image, and would try to pull it.
		return nil, invalid("--volumes-from %s: no such container", name)
	}
	if err != nil {
		return nil, err
	}
	if e.rec == nil {
		return nil, nil
	}
	var out []planned
	for _, pt := range e.rec.Mounts {
		if mode != "" {
			pt.RW = mode == "rw"
			pt.Mode = mode
		}
		var v rootfs.Volume
		switch pt.Type {
		case mount.TypeBind:
			v = rootfs.Volume{Type: rootfs.TypeBind, Source: pt.Source, Propagation: string(pt.Propagation)}
		case mount.TypeVolume:
			v = rootfs.Volume{Type: rootfs.TypeVolume, Name: pt.Name, NoCopy: true}
		default:
			continue // a tmpfs is C's own memory
		}
		v.Target, v.ReadOnly = pt.Destination, !pt.RW
		out = append(out, planned{vol: v, point: pt})
	}
	return out, nil
}

// createVolumes creates the plan's volumes that do not exist (all the
// anonymous ones), and the missing host directories of its -v binds,
// and resolves every volume to what chapter 03 mounts.
// It returns the volumes it created, for the caller to remove should
// the container not come to be.
func (d *Daemon) createVolumes(plan mountPlan) ([]string, error) {
	var created []string
	for i := range plan {
		p := &plan[i]
		if p.createSource {
			if err := os.MkdirAll(p.vol.Source, 0o755); err != nil {
				return created, fmt.Errorf("creating the host directory of -v %s: %w", p.vol, err)
			}
		}
		if p.vol.Type != rootfs.TypeVolume {
			continue
		}
		v, isNew, err := d.volumes.Create(p.vol.Name, p.labels, p.opts)
		if errors.Is(err, volume.ErrInvalid) || errors.Is(err, volume.ErrConflict) {
			// Not a 409: the docker client would take create's
			// conflict for a taken container name.
			return created, giveKind(errdefs.ErrInvalidArgument, err)
		}
		if err != nil {
			return created, err
		}
		// dockerd reports a create for every volume a container's
		// create asks for, new or not.
		d.emitVolume(v.Name, moby.ActionCreate, nil)
		if isNew {
			created = append(created, v.Name)
			if err := d.chownNewVolume(v); err != nil {
				return created, err
			}
		}
		p.point.Name, p.point.Source = v.Name, v.Mountpoint
		p.vol = v.Mount(p.vol.Target, p.vol.ReadOnly, p.vol.NoCopy)
	}
	return created, nil
}

// points are the MountPoints of the plan, for api.json.
func (plan mountPlan) points() []container.MountPoint {
	out := make([]container.MountPoint, 0, len(plan))
	for _, p := range plan {
		if p.point.Type == "" {
			continue // --tmpfs: shown in HostConfig.Tmpfs, not in Mounts (as Docker)
		}
		out = append(out, p.point)
	}
	return out
}

// volumes are what chapter 03 mounts, in order.
func (plan mountPlan) volumes() []rootfs.Volume {
	out := make([]rootfs.Volume, len(plan))
	for i, p := range plan {
		out[i] = p.vol
	}
	return out
}
