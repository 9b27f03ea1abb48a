package layer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
)

// DefaultRoot is where the chapter programs keep their state unless
// --root says otherwise, as dockerd keeps /var/lib/docker (its
// --data-root). It is the course's own, outside berthd's /var/lib/berth:
// the two engines keep separate records, and neither may find the
// other's containers, leases or volumes in its directories.
const DefaultRoot = "/var/lib/berth-course"

// The names inside a container's directory.
const (
	upperName  = "upper"
	workName   = "work"
	mergedName = "merged"
	recordName = "layer.json"
)

// Errors that callers can test with errors.Is.
var (
	ErrNotFound  = errors.New("no such container")
	ErrAmbiguous = errors.New("ambiguous container ID prefix")
	ErrInUse     = errors.New("container is running")
)

// ContainersDir is the directory under the state root that holds one
// directory per container: <root>/containers.
func ContainersDir(root string) string { return filepath.Join(root, "containers") }

// RW is a container's writable layer, kept in the container's directory
// under the state root:
//
//	<root>/containers/<id>/
//	  layer.json   which image layers the container was started from
//	  upper/       the container's changes (overlay's upperdir)
//	  work/        overlay's scratch space (workdir)
//	  merged/      where the container's root filesystem is mounted
//
// upper and work are siblings, so they are on the same filesystem, as
// overlay requires.
type RW struct {
	ID  string
	Dir string // <root>/containers/<id>
	// Lower are the image's layer directories, bottom first. The image
	// is shared: many containers may stack their own RW on the same
	// Lower, and none of them can change it.
	Lower []string
	hold  *os.File // open while Hold keeps the layer in use
}

// record is layer.json.
type record struct {
	ID    string   `json:"id"`
	Lower []string `json:"lower"`
}

// Create makes a new, empty writable layer for container id on top of
// the image layers lower (bottom first). Nothing is copied: creating a
// container costs four directories and a small file, whatever the size
// of the image.
func Create(root, id string, lower []string) (*RW, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if len(lower) == 0 {
		return nil, fmt.Errorf("container %s: no image layers given", id)
	}
	if len(lower) > MaxLayers {
		return nil, fmt.Errorf("container %s: %d image layers, overlay stacks at most %d", id, len(lower), MaxLayers)
	}
	for _, dir := range lower {
		if err := checkDir("image layer", dir); err != nil {
			return nil, fmt.Errorf("container %s: %w", id, err)
		}
	}
	// The paths end up in mount options and in the spec that init
	// reads after it changed directory: they must be absolute.
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	containers := ContainersDir(root)
	// 0711: the directories can be passed through, not listed. A
	// container's root in a user namespace (an unprivileged uid on the
	// host) must be able to reach its own upper directory.
	if err := os.MkdirAll(containers, 0o711); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	// overlay refuses an upper directory on overlay (pitfall 11): a
	// state directory inside a container's root does not work.
	if over, err := onOverlay(containers); err != nil {
		return nil, err
	} else if over {
		return nil, fmt.Errorf("state directory %s is on an overlay filesystem: overlay cannot use it for a writable layer; choose a --root on a disk filesystem", containers)
	}
	l := &RW{ID: id, Dir: filepath.Join(containers, id), Lower: append([]string(nil), lower...)}
	if err := os.Mkdir(l.Dir, 0o711); err != nil {
		return nil, fmt.Errorf("creating container directory: %w", err)
	}
	if err := l.populate(); err != nil {
		_ = os.RemoveAll(l.Dir)
		return nil, err
	}
	return l, nil
}

func (l *RW) populate() error {
	for _, d := range []struct {
		name string
		perm os.FileMode
	}{{upperName, 0o755}, {workName, 0o700}, {mergedName, 0o755}} {
		if err := os.Mkdir(filepath.Join(l.Dir, d.name), d.perm); err != nil {
			return fmt.Errorf("creating container layer: %w", err)
		}
	}
	// overlay shows upper's root directory as the container's "/":
	// give it the mode every image's root has, whatever the umask.
	if err := os.Chmod(l.Upper(), 0o755); err != nil {
		return fmt.Errorf("creating container layer: %w", err)
	}
	data, err := json.Marshal(record{ID: l.ID, Lower: l.Lower})
	if err != nil {
		return fmt.Errorf("encoding %s: %w", recordName, err)
	}
	// Written beside and renamed into place: a process killed halfway
	// leaves no record at all rather than a torn one.
	record := filepath.Join(l.Dir, recordName)
	if err := atomicfile.WriteFile(record, append(data, '\n'), atomicfile.Options{Perm: 0o644}); err != nil {
		return fmt.Errorf("container layer record: %w", err)
	}
	return nil
}

// checkID rejects IDs that are not a single path component.
func checkID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("container ID %q: not a valid name", id)
	}
	return nil
}

// Open returns the writable layer of container id, which Create made.
func Open(root, id string) (*RW, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	dir := filepath.Join(ContainersDir(root), id)
	data, err := os.ReadFile(filepath.Join(dir, recordName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (no layer in %s)", ErrNotFound, id, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("container %s: %s: %w", id, filepath.Join(dir, recordName), err)
	}
	return &RW{ID: id, Dir: dir, Lower: rec.Lower}, nil
}

// List returns the IDs of the containers under root that have a layer,
// sorted. A missing state directory is an empty list.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(ContainersDir(root))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // set aside by RemoveLater
		}
		if _, err := os.Stat(filepath.Join(ContainersDir(root), e.Name(), recordName)); err == nil {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Find opens the container that ref names: its full ID or a prefix of
// it that no other container shares, as Docker accepts.
func Find(root, ref string) (*RW, error) {
	if ref == "" {
		return nil, fmt.Errorf("%w: empty container ID", ErrNotFound)
	}
	ids, err := List(root)
	if err != nil {
		return nil, err
	}
	var matches []string
	for _, id := range ids {
		if id == ref {
			return Open(root, id)
		}
		if strings.HasPrefix(id, ref) {
			matches = append(matches, id)
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("%w: %s (in %s)", ErrNotFound, ref, ContainersDir(root))
	case 1:
		return Open(root, matches[0])
	}
	for i, id := range matches {
		matches[i] = namespace.ShortID(id)
	}
	return nil, fmt.Errorf("%w: %q matches %d containers (%s)", ErrAmbiguous, ref, len(matches), strings.Join(matches, ", "))
}

// Upper is the directory that receives the container's changes.
func (l *RW) Upper() string { return filepath.Join(l.Dir, upperName) }

// Work is overlay's work directory for this container.
func (l *RW) Work() string { return filepath.Join(l.Dir, workName) }

// Merged is where the container's root filesystem is mounted. The
// chapter mounts it only inside the container's mount namespace, so on
// the host it stays an empty directory.
func (l *RW) Merged() string { return filepath.Join(l.Dir, mergedName) }

// MountSpec returns what Mount needs to mount this container's root
// filesystem.
func (l *RW) MountSpec() MountSpec {
	return MountSpec{Lower: append([]string(nil), l.Lower...), Upper: l.Upper(), Work: l.Work()}
}

// Changes lists what the container changed compared with its image.
func (l *RW) Changes() ([]Change, error) { return Changes(l.Lower, l.Upper()) }

// Usage is the disk space the container's own layer takes: what running
// it cost on top of the shared image.
func (l *RW) Usage() (int64, error) { return DiskUsage(l.Dir) }

// Chown gives the upper and work directories to uid and gid: the host IDs
// of root in a container's user namespace, which mounts the overlay and
// must be able to write there.
func (l *RW) Chown(uid, gid int) error {
	for _, dir := range []string{l.Upper(), l.Work()} {
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("container %s: %w", l.ID, err)
		}
	}
	return nil
}

// Hold marks the layer as in use by a running container until Release,
// so that Remove, in this process or another, refuses to delete it from
// under the container. It is an advisory lock (flock) on layer.json,
// which the kernel drops if the holder dies.
func (l *RW) Hold() error {
	if l.hold != nil {
		return nil
	}
	f, err := l.lock()
	if err != nil {
		return err
	}
	l.hold = f
	return nil
}

// Release ends Hold.
func (l *RW) Release() error {
	if l.hold == nil {
		return nil
	}
	err := l.hold.Close()
	l.hold = nil
	if err != nil {
		return fmt.Errorf("container %s: releasing layer: %w", l.ID, err)
	}
	return nil
}

// lock opens layer.json and takes its lock, or fails with ErrInUse.
func (l *RW) lock() (*os.File, error) {
	name := filepath.Join(l.Dir, recordName)
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", l.ID, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (stop it first)", ErrInUse, l.ID)
		}
		return nil, fmt.Errorf("container %s: locking %s: %w", l.ID, name, err)
	}
	return f, nil
}

// Remove deletes the container's directory and the writable layer in
// it; the image is untouched. It refuses while the layer is held by a
// running container, and while something is mounted on merged (deleting
// through a mounted overlay would delete in the container's view, not
// the directories).
func (l *RW) Remove() error {
	finish, err := l.RemoveLater()
	if err != nil {
		return err
	}
	return finish()
}

// removedPrefix names a container directory on its way out (RemoveLater).
const removedPrefix = ".removed-"

// RemoveLater is Remove in two steps. It makes the container's directory
// disappear at once, in one rename(2) into a name that List and every
// other lookup skip, and returns the deletion of the files, which the
// caller may run later or elsewhere (a daemon runs it in the background:
// deleting a directory tree is a syscall per file, on the path of every
// `run --rm`). A directory left behind by a crash between the two steps
// is deleted by SweepRemoved.
func (l *RW) RemoveLater() (finish func() error, err error) {
	if err := l.Release(); err != nil {
		return nil, err
	}
	f, err := l.lock()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if f != nil {
		defer f.Close()
	}
	if mounted, err := isMountPoint(l.Merged()); err != nil {
		return nil, fmt.Errorf("container %s: %w", l.ID, err)
	} else if mounted {
		return nil, fmt.Errorf("container %s: %s is still mounted", l.ID, l.Merged())
	}
	aside := filepath.Join(filepath.Dir(l.Dir), removedPrefix+filepath.Base(l.Dir))
	if err := os.RemoveAll(aside); err != nil {
		return nil, fmt.Errorf("removing container %s: %w", l.ID, err)
	}
	switch err := os.Rename(l.Dir, aside); {
	case errors.Is(err, fs.ErrNotExist):
		return func() error { return nil }, nil // gone already
	case err != nil:
		return nil, fmt.Errorf("removing container %s: %w", l.ID, err)
	}
	return func() error {
		if err := os.RemoveAll(aside); err != nil {
			return fmt.Errorf("removing container %s: %w", l.ID, err)
		}
		return nil
	}, nil
}

// SweepRemoved deletes what RemoveLater set aside under root and nobody
// deleted (the program ended first).
func SweepRemoved(root string) error {
	entries, err := os.ReadDir(ContainersDir(root))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), removedPrefix) {
			errs = append(errs, os.RemoveAll(filepath.Join(ContainersDir(root), e.Name())))
		}
	}
	return errors.Join(errs...)
}
