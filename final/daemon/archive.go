package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/dns"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/containerfs"
)

// docker cp: HEAD, GET and PUT /containers/ID/archive. The paths are
// resolved by final/containerfs inside the container's root, which is:
//
//	running   /proc/<init>/root: the root its processes see, volumes
//	          and all, held open by a descriptor
//	stopped   its overlay and its mounts, mounted for the request in a
//	          mount namespace of their own (containerfs.MountRoot), the
//	          writable layer held so that no start overlaps
//
// See final/containerfs/doc.go for why, and for the CVEs behind it.

// ContainerStatPath answers HEAD /containers/ID/archive.
func (d *Daemon) ContainerStatPath(ctx context.Context, name, p string) (container.PathStat, error) {
	e, root, err := d.openContainerRoot(ctx, name)
	if err != nil {
		return container.PathStat{}, err
	}
	defer root.Close()
	st, err := root.Stat(p)
	if err != nil {
		return container.PathStat{}, archiveErr(e, name, p, err)
	}
	d.emitCopy(e, "")
	return apiPathStat(st), nil
}

// ContainerArchivePath answers GET /containers/ID/archive.
func (d *Daemon) ContainerArchivePath(ctx context.Context, name, p string, stat func(container.PathStat) error, w io.Writer) error {
	e, root, err := d.openContainerRoot(ctx, name)
	if err != nil {
		return err
	}
	defer root.Close()
	st, err := root.Stat(p)
	if err != nil {
		return archiveErr(e, name, p, err)
	}
	if err := stat(apiPathStat(st)); err != nil {
		return err
	}
	if err := root.Archive(p, cancelWriter{ctx: ctx, w: w}); err != nil {
		return archiveErr(e, name, p, err)
	}
	d.emitCopy(e, moby.ActionArchivePath)
	return nil
}

// ContainerExtractToDir answers PUT /containers/ID/archive.
func (d *Daemon) ContainerExtractToDir(ctx context.Context, name, p string, opts api.CopyToOptions, content io.Reader) error {
	e, root, err := d.openContainerRoot(ctx, name)
	if err != nil {
		return err
	}
	defer root.Close()
	rec := e.rec
	if rec == nil {
		rec = &record{}
	}
	mounts, err := containerMounts(e)
	if err != nil {
		return err
	}
	xo := containerfs.ExtractOptions{
		NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir,
		Check:                func(dest string) error { return writable(rec, mounts, dest, root.Resolve) },
	}
	if opts.CopyUIDGID && rec.Config.User != "" {
		uid, gid, err := image.LookupUser([]string{fmt.Sprintf("/proc/self/fd/%d", root.FD())}, rec.Config.User)
		if err != nil {
			return invalid("docker cp -a: the user of container %s: %v", name, err)
		}
		xo.Owner = &containerfs.Owner{UID: int(uid), GID: int(gid)}
	}
	// The API takes the tar compressed too (gzip, bzip2; xz is refused,
	// as chapter 06 refuses it for images).
	tarStream, _, err := image.Decompress(cancelReader{ctx: ctx, r: content})
	if err != nil {
		return giveKind(errdefs.ErrInvalidArgument, fmt.Errorf("the archive for container %s: %w", name, err))
	}
	defer tarStream.Close()
	if err := root.Extract(p, tarStream, xo); err != nil {
		return archiveErr(e, name, p, err)
	}
	d.emitCopy(e, moby.ActionExtractToDir)
	return nil
}

// containerMounts lists what is mounted in a container besides its
// image, exactly as its start mounts them: its binds, volumes and tmpfs
// mounts, which create planned (mounts.go) and kept in the shim's spec.
// The stopped container's root is made of these.
//
// The name files (/etc/hostname, hosts, resolv.conf) come first, as at
// the start, so that a user's own mount of one of them wins; those the
// container's runs have not written yet (it never started) are left out.
func containerMounts(e *entry) ([]rootfs.Volume, error) {
	var s runSpec
	if err := e.c.DecodeSpec(&s); err != nil {
		return nil, err
	}
	var out []rootfs.Volume
	for _, v := range dns.Volumes(e.c.Dir()) {
		if _, err := os.Stat(v.Source); err == nil {
			out = append(out, v)
		}
	}
	return append(out, s.Run.FS.Volumes...), nil
}

// writable refuses an extraction into a read-only place, as Docker
// does: a read-only mount, or the root file system of a container run
// with --read-only outside its mounts. (A running container's kernel
// would refuse with EROFS anyway; a stopped one's overlay is mounted
// read-write for the copy, so this is what protects it.) The status is
// the API's 403, "the volume or container rootfs is marked as
// read-only".
//
// A mount's target is resolved in the root as dest was (resolve), since
// a target may run through the image's symlinks (/var/run -> /run).
func writable(rec *record, mounts []rootfs.Volume, dest string, resolve func(string) (string, error)) error {
	var in *rootfs.Volume
	longest := -1
	for i, m := range mounts {
		t, err := resolve(m.Target)
		if err != nil {
			return err
		}
		if (dest == t || strings.HasPrefix(dest, t+"/") || t == "/") && len(t) > longest {
			in, longest = &mounts[i], len(t)
		}
	}
	switch {
	case in != nil && in.ReadOnly:
		return errdefs.ErrPermissionDenied.WithMessage("mounted volume is marked read-only")
	case in == nil && rec.HostConfig.ReadonlyRootfs:
		return errdefs.ErrPermissionDenied.WithMessage("container rootfs is marked read-only")
	}
	return nil
}

// openContainerRoot opens the root of the container that name names,
// running or not. A container that starts or stops in between (its init
// exiting, say, before its shim has recorded the exit) is tried again as
// what it has become, once its state has changed.
func (d *Daemon) openContainerRoot(ctx context.Context, name string) (*entry, *containerfs.Root, error) {
	e, err := d.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	what := "container " + name
	for range 5 {
		d.live.mu.Lock()
		changed := e.changed
		d.live.mu.Unlock()
		st, err := e.c.State()
		if err != nil {
			return nil, nil, err
		}
		var root *containerfs.Root
		if st.Status == shim.Running && st.Pid > 0 {
			root, err = runningRoot(st, what)
			if err == nil {
				if err = remappedRoot(e, root, true); err != nil {
					root.Close()
					root = nil
				}
			}
		} else {
			root, err = d.stoppedRootLocked(e, what)
		}
		if !errors.Is(err, errChanged) {
			return e, root, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(time.Second): // a change the watch did not report
		}
	}
	return nil, nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s keeps starting and stopping: try again", name))
}

// errChanged: the container started or stopped while its root was being
// opened.
var errChanged = errors.New("the container started or stopped meanwhile")

// runningRoot opens /proc/PID/root of the container's init. The PID is
// held with a pidfd and checked to be PID 1 of the container's PID
// namespace before and alive after the open, so that a PID reused by
// another process cannot hand over a foreign root.
func runningRoot(st shim.State, what string) (*containerfs.Root, error) {
	pidfd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return nil, errChanged
	}
	defer unix.Close(pidfd)
	if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid)); err != nil || (st.PidNS != "" && ns != st.PidNS) {
		return nil, errChanged
	}
	root, err := containerfs.OpenRoot(fmt.Sprintf("/proc/%d/root", st.Pid), what)
	if err != nil {
		return nil, errChanged
	}
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		root.Close()
		return nil, errChanged
	}
	return root, nil
}

// remappedRoot makes writes into a running container in a user namespace
// (--userns-remap) those of its root (containerfs's idshift.go): its
// layers and volumes are idmapped mounts, which the host's root cannot
// write through. A stopped container's root is mounted on the host, not
// idmapped, and needs nothing, unless its layers are chowned copies
// (userns_copies.go): then its files have host ids, on the disk, and a
// copy in or out shifts them, running or not.
func remappedRoot(e *entry, root *containerfs.Root, running bool) error {
	var s runSpec
	if err := e.c.DecodeSpec(&s); err != nil {
		return err
	}
	cfg := s.Run.Config
	if !cfg.UserNS || !running && !s.Run.Layer.Chowned {
		return nil
	}
	root.WithIDShift(containerfs.IDShift{UID: cfg.UIDRange().Base, GID: cfg.GIDRange().Base})
	if s.Run.Layer.Chowned {
		root.WithUnmappedOwners(image.Unmap{UIDs: cfg.UIDRange(), GIDs: cfg.GIDRange()})
	}
	return nil
}

// stoppedRoot mounts the root of a container that does not run. Its
// writable layer is held meanwhile (layer.RW.Hold): a start waits for
// no one, it fails, rather than mount the same upper directory twice.
func (d *Daemon) stoppedRoot(e *entry, what string) (*containerfs.Root, error) {
	rw, err := layer.Open(d.opts.DataRoot, e.id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := rw.Hold(); err != nil {
		if errors.Is(err, layer.ErrInUse) {
			return nil, errChanged
		}
		return nil, err
	}
	mounts, err := containerMounts(e)
	if err != nil {
		rw.Release()
		return nil, err
	}
	root, err := containerfs.MountRoot(rw.MountSpec(), rw.Merged(), mounts, what)
	if err != nil {
		rw.Release()
		return nil, err
	}
	if err := remappedRoot(e, root, false); err != nil {
		root.Close()
		rw.Release()
		return nil, err
	}
	return root.WithRelease(rw.Release), nil
}

// stoppedRootLocked is stoppedRoot for one request at a time: two copies
// into the same stopped container wait for each other rather than find
// its layer held and take it for a start.
func (d *Daemon) stoppedRootLocked(e *entry, what string) (*containerfs.Root, error) {
	e.cpMu.Lock()
	root, err := d.stoppedRoot(e, what)
	if err != nil {
		e.cpMu.Unlock()
		return nil, err
	}
	return root.WithRelease(func() error { e.cpMu.Unlock(); return nil }), nil
}

// apiPathStat is the Engine API's form of a stat.
func apiPathStat(st containerfs.PathStat) container.PathStat {
	return container.PathStat{Name: st.Name, Size: st.Size, Mode: st.Mode, Mtime: st.Mtime, LinkTarget: st.LinkTarget}
}

// archiveErr gives containerfs's errors their kind and Docker's words.
func archiveErr(e *entry, name, p string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s in container %s", p, name))
	case errors.Is(err, containerfs.ErrNotDir):
		return giveKind(errdefs.ErrInvalidArgument, fmt.Errorf("extraction point is not a directory: %s", p))
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, containerfs.ErrOverwrite),
		errors.Is(err, containerfs.ErrUnsafeEntry), errors.Is(err, containerfs.ErrDeviceRefuse),
		errors.Is(err, containerfs.ErrBadArchive), errors.Is(err, unix.ELOOP):
		return giveKind(errdefs.ErrInvalidArgument, err)
	case errors.Is(err, unix.EROFS):
		return giveKind(errdefs.ErrPermissionDenied, fmt.Errorf("container %s: %s is on a read-only file system: %w", e.id, p, err))
	}
	return err
}
