package volume

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// Driver and Scope are what Docker's API reports of every volume here:
// the local driver, whose volumes live on this host.
const (
	Driver = "local"
	Scope  = "local"
)

// AnonymousLabel marks a volume that was made for a container because
// it asked for a path without naming a volume (-v /data, an image's
// VOLUME). Docker sets the same label, with an empty value; rm -v and
// prune remove such volumes, and nothing else does.
const AnonymousLabel = "com.docker.volume.anonymous"

// The names inside a volume's directory.
const (
	dataName   = "_data"
	recordName = "volume.json"
)

// Errors that callers can test with errors.Is.
var (
	ErrNotFound = errors.New("no such volume")
	// ErrInvalid is a name or option that cannot be: the caller's
	// mistake.
	ErrInvalid = errors.New("invalid volume")
	// ErrConflict is a Create of an existing name with other options.
	ErrConflict = errors.New("volume exists")
)

// Volume is one volume's record: <root>/volumes/<name>/volume.json.
// It does not change after Create.
type Volume struct {
	Name      string            `json:"name"`
	CreatedAt time.Time         `json:"createdAt"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Options are the local driver's (docker volume create -o): type,
	// o and device; see CheckOptions.
	Options map[string]string `json:"options,omitempty"`
	// Mountpoint is the directory that holds the volume's files,
	// <root>/volumes/<name>/_data. The store fills it in.
	Mountpoint string `json:"-"`
}

// Anonymous reports whether v was made for one container (AnonymousLabel).
func (v Volume) Anonymous() bool {
	_, ok := v.Labels[AnonymousLabel]
	return ok
}

// Dir is the directory under the state root that holds one directory per
// volume: <root>/volumes.
func Dir(root string) string { return filepath.Join(root, "volumes") }

// Store is the volumes under a state root:
//
//	<root>/volumes/
//	  <name>/
//	    volume.json   the record: created when, labels, options
//	    _data/        the files (the Mountpoint)
//	  .tmp-<pid>-<random>/   a volume being created (renamed to <name>)
//	  .rm-<pid>-<random>/    a volume being deleted
//
// A volume appears in one rename, whole, or not at all; it goes the same
// way. Several processes may use one store at once (chapter 04's
// program, berthd): the file system is the only state.
type Store struct {
	dir string
}

// Open opens the store under root, creating its directory if needed,
// and deletes what a process that died left half-created or half-removed.
func Open(root string) (*Store, error) {
	s := &Store{dir: Dir(root)}
	// 0711, and each volume's directory too: a container in a user
	// namespace is an unprivileged user on the host, who must pass
	// through them to its volume (but may list nothing).
	if err := os.MkdirAll(s.dir, 0o711); err != nil {
		return nil, fmt.Errorf("volume store %s: %w", s.dir, err)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("volume store %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if pid, ok := leftBy(e.Name()); ok && !alive(pid) {
			if err := os.RemoveAll(filepath.Join(s.dir, e.Name())); err != nil {
				return nil, fmt.Errorf("volume store %s: %w", s.dir, err)
			}
		}
	}
	return s, nil
}

// leftBy is the process that made a .tmp- or .rm- entry.
func leftBy(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, ".tmp-")
	if !ok {
		if rest, ok = strings.CutPrefix(name, ".rm-"); !ok {
			return 0, false
		}
	}
	pid, _, _ := strings.Cut(rest, "-")
	n, err := strconv.Atoi(pid)
	return n, err == nil
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	return unix.Kill(pid, 0) != unix.ESRCH
}

// scratch is a new, unused name in the store's directory: kind is "tmp"
// or "rm".
func (s *Store) scratch(kind string) string {
	return filepath.Join(s.dir, fmt.Sprintf(".%s-%d-%s", kind, os.Getpid(), namespace.NewID()[:16]))
}

// checkName refuses a name that is not Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+,
// which also keeps it one path component inside the store.
func checkName(name string) error {
	if !rootfs.ValidVolumeName.MatchString(name) {
		return fmt.Errorf("%w: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed", ErrInvalid, name)
	}
	return nil
}

// Create creates the volume name, or an anonymous one for "" (a new name
// and AnonymousLabel). If name exists already, Create returns it and
// created false, as Docker does; its labels stay as they were, and
// options that differ from its own are an error (ErrConflict): the
// caller would not get the volume it asked for.
func (s *Store) Create(name string, labels, opts map[string]string) (v Volume, created bool, err error) {
	if name == "" {
		name = namespace.NewID() // 64 hex digits, as Docker names an anonymous volume
		labels = maps.Clone(labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[AnonymousLabel] = ""
	}
	if err := checkName(name); err != nil {
		return Volume{}, false, err
	}
	if err := CheckOptions(opts); err != nil {
		return Volume{}, false, err
	}
	if v, err := s.Get(name); err == nil || !errors.Is(err, ErrNotFound) {
		if err == nil && len(opts) > 0 && !maps.Equal(v.Options, opts) {
			return Volume{}, false, fmt.Errorf("%w: %s has the options %v, not %v", ErrConflict, name, v.Options, opts)
		}
		return v, false, err
	}
	v = Volume{Name: name, CreatedAt: time.Now().UTC(), Labels: labels, Options: opts}
	tmp := s.scratch("tmp")
	if err := s.prepare(tmp, v); err != nil {
		return Volume{}, false, errors.Join(err, os.RemoveAll(tmp))
	}
	err = os.Rename(tmp, filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrExist) || errors.Is(err, unix.ENOTEMPTY) {
		// Another process created it meanwhile: that one stands.
		v, err := s.Get(name)
		return v, false, errors.Join(err, os.RemoveAll(tmp))
	}
	if err != nil {
		return Volume{}, false, errors.Join(fmt.Errorf("volume %s: %w", name, err), os.RemoveAll(tmp))
	}
	v.Mountpoint = s.mountpoint(name)
	return v, true, nil
}

// prepare fills the directory tmp with a new volume: its record, and the
// empty directory of its files. 0755 like Docker's _data: what the
// container sees of the volume's root until a copy-up sets it.
func (s *Store) prepare(tmp string, v Volume) error {
	if err := os.Mkdir(tmp, 0o711); err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	if err := os.Mkdir(filepath.Join(tmp, dataName), 0o755); err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	f, err := os.OpenFile(filepath.Join(tmp, recordName), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync() // the record is whole before the rename shows it
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("volume %s: %s: %w", v.Name, recordName, err)
	}
	return nil
}

func (s *Store) mountpoint(name string) string { return filepath.Join(s.dir, name, dataName) }

// Get returns the volume name, or an error wrapping ErrNotFound.
func (s *Store) Get(name string) (Volume, error) {
	if err := checkName(name); err != nil {
		return Volume{}, fmt.Errorf("volume %s: %w", name, ErrNotFound)
	}
	data, err := os.ReadFile(filepath.Join(s.dir, name, recordName))
	if errors.Is(err, fs.ErrNotExist) {
		return Volume{}, fmt.Errorf("volume %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Volume{}, fmt.Errorf("volume %s: %w", name, err)
	}
	var v Volume
	if err := json.Unmarshal(data, &v); err != nil {
		return Volume{}, fmt.Errorf("volume %s: %s: %w", name, recordName, err)
	}
	v.Mountpoint = s.mountpoint(name)
	return v, nil
}

// List returns every volume, sorted by name.
func (s *Store) List() ([]Volume, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("volume store %s: %w", s.dir, err)
	}
	var out []Volume
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		v, err := s.Get(e.Name())
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Remove deletes the volume name and its files. Whether a container
// still uses it is the caller's to know (the store keeps no references).
// os.RemoveAll follows no symlink: whatever a container left in the
// volume, only the volume's own directory goes.
func (s *Store) Remove(name string) error {
	if _, err := s.Get(name); err != nil {
		return err
	}
	gone := s.scratch("rm")
	if err := os.Rename(filepath.Join(s.dir, name), gone); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("volume %s: %w", name, ErrNotFound)
		}
		return fmt.Errorf("volume %s: %w", name, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("volume %s: deleting its files: %w", name, err)
	}
	return nil
}
