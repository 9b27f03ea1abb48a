package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
	"github.com/berth-project/berth/07-logs/logs"
)

// Errors that callers can test with errors.Is.
var (
	ErrNotFound   = errors.New("no such container")
	ErrAmbiguous  = errors.New("ambiguous container ID prefix")
	ErrNameInUse  = errors.New("container name already in use")
	ErrRunning    = errors.New("container is running")
	ErrNotRunning = errors.New("container is not running")
	// ErrTorn: a container whose config.json does not parse. Every
	// config is replaced atomically, so only a crash of the machine
	// leaves one so: an Ephemeral container's, written without waiting
	// for the disk.
	ErrTorn = errors.New("container record torn by a crash")
)

// The files of a container's directory, <root>/containers/<id>/. Other
// chapters' packages keep their own files there too (chapter 04 its
// writable layer).
const (
	configFile = "config.json"   // Config: written once by Create
	stateFile  = "state.json"    // State: written by the shim
	exitFile   = "exit.json"     // the exit status, written by the monitor before cleanup, kept until the next start
	lockFile   = "shim.lock"     // flock-ed by the shim for its whole life
	stdinFifo  = "stdin"         // the FIFO an attached client writes the container's stdin to
	logFile    = "container.log" // logs.FileName(logFile, i) for the rotated ones
)

// Config is what a container was created with. The shim package reads the
// fields it needs (the log options, whether stdin is kept open); Spec is
// the program's own, opaque here: the flags of chapters 01 to 05, which
// the program's Start function decodes.
type Config struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Image   string    `json:"image,omitempty"` // shown by ps
	Command []string  `json:"command"`
	Created time.Time `json:"created"`
	// Interactive keeps the container's stdin open (run -i): the shim
	// holds a pipe to it and copies to it what an attached client
	// writes to the stdin FIFO.
	Interactive bool `json:"interactive,omitempty"`
	// Tty gives the container a pseudo-terminal (run -t) as its stdin,
	// stdout and stderr, instead of pipes: see tty.go. Its output is
	// logged as stdout.
	Tty bool `json:"tty,omitempty"`
	// ConsoleSize is the terminal's size when the container starts,
	// rows and columns; zero leaves the kernel's default (0x0) until
	// the first Resize.
	ConsoleSize [2]uint16 `json:"consoleSize,omitzero"`
	// Ephemeral marks a container that is removed when it exits (run
	// --rm): nothing of it is meant to outlive a crash of the machine,
	// so its records (this config, its exit status) are written without
	// waiting for the disk. They are still replaced atomically, and a
	// daemon or shim that dies loses nothing; only a crash of the whole
	// machine may, and after one an --rm container is removed anyway.
	Ephemeral bool            `json:"ephemeral,omitempty"`
	Log       logs.Options    `json:"log"`
	Spec      json.RawMessage `json:"spec,omitempty"`
	// Explain asks the shim for the trace of the container's start
	// (--explain; explain.go), kept for whoever started it to print.
	Explain bool `json:"explain,omitempty"`
}

// Store keeps the containers of one state directory (--root):
//
//	<root>/containers/<id>/   one directory per container (see the constants above)
//	<root>/names/<name>       a symlink to the ID: names are unique
type Store struct {
	root string
}

// OpenStore opens the store under root, creating its directories.
func OpenStore(root string) (*Store, error) {
	for _, dir := range []string{containersDir(root), namesDir(root)} {
		// 0711: a container's root in a user namespace must be able to
		// pass through to its own layer (chapter 04).
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, fmt.Errorf("container store: %w", err)
		}
	}
	return &Store{root: root}, nil
}

// Root returns the state directory.
func (s *Store) Root() string { return s.root }

func containersDir(root string) string { return filepath.Join(root, "containers") }
func namesDir(root string) string      { return filepath.Join(root, "names") }

// Create records a new container. cfg.ID may be empty (a new ID is made)
// or name a directory that another chapter's package has just created
// for it (chapter 04's layer.Create makes the directory). An empty
// cfg.Name gets a generated one (S24). The name is reserved atomically: of
// two runs asking for the same name at once, one fails with ErrNameInUse.
func (s *Store) Create(cfg Config) (*Container, error) {
	if cfg.ID == "" {
		cfg.ID = namespace.NewID()
	}
	if cfg.ID == "." || cfg.ID == ".." || strings.ContainsAny(cfg.ID, "/\x00") {
		return nil, fmt.Errorf("container ID %q: not a valid name", cfg.ID)
	}
	if cfg.Created.IsZero() {
		cfg.Created = time.Now().UTC()
	}
	if err := cfg.Log.Validate(); err != nil {
		return nil, err
	}
	if err := s.reserveName(&cfg); err != nil {
		return nil, err
	}
	c := &Container{Config: cfg, dir: filepath.Join(containersDir(s.root), cfg.ID), store: s}
	err := os.Mkdir(c.dir, 0o711)
	if errors.Is(err, fs.ErrExist) {
		_, serr := os.Stat(filepath.Join(c.dir, configFile))
		if serr == nil {
			err = fmt.Errorf("container %s already exists", cfg.ID)
		} else {
			err = nil // a directory made for us by another package
		}
	}
	if err == nil {
		// No state.json yet: its absence is the state Created.
		err = writeJSONFile(filepath.Join(c.dir, configFile), cfg, !cfg.Ephemeral)
	}
	if err != nil {
		_ = os.Remove(filepath.Join(namesDir(s.root), cfg.Name))
		return nil, fmt.Errorf("creating container %s: %w", cfg.Name, err)
	}
	return c, nil
}

// reserveName takes cfg.Name, or a generated name, by creating its
// symlink. symlink(2) fails if the name exists: that is the atomic
// test-and-set that keeps names unique across concurrent runs.
func (s *Store) reserveName(cfg *Config) error {
	generate := cfg.Name == ""
	if !generate {
		if err := CheckName(cfg.Name); err != nil {
			return err
		}
	}
	for try := 0; ; try++ {
		if generate {
			cfg.Name = generateName(try)
		}
		err := os.Symlink(cfg.ID, filepath.Join(namesDir(s.root), cfg.Name))
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("reserving container name %s: %w", cfg.Name, err)
		}
		if !generate {
			return fmt.Errorf("%w: %q; remove that container or choose another name", ErrNameInUse, cfg.Name)
		}
		if try > 100 {
			return fmt.Errorf("no free container name found")
		}
	}
}

// Get finds a container by name, by ID, or by an unambiguous prefix of
// its ID, as every docker command that takes a container does.
func (s *Store) Get(ref string) (*Container, error) {
	if ref == "" || strings.ContainsAny(ref, "/\x00") || ref == "." || ref == ".." {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, ref)
	}
	if id, err := os.Readlink(filepath.Join(namesDir(s.root), ref)); err == nil {
		if c, err := s.load(id); err == nil {
			return c, nil
		}
	}
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	var match []string
	for _, id := range ids {
		if id == ref {
			return s.load(id)
		}
		if strings.HasPrefix(id, ref) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
		return s.load(match[0])
	}
	return nil, fmt.Errorf("%w: %s matches %d containers", ErrAmbiguous, ref, len(match))
}

// ids lists the directories that hold a container record.
func (s *Store) ids() ([]string, error) {
	entries, err := os.ReadDir(containersDir(s.root))
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // a directory on its way out (chapter 04's RemoveLater)
		}
		if _, err := os.Stat(filepath.Join(containersDir(s.root), e.Name(), configFile)); err == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// List returns every container, the newest first (as docker ps sorts).
func (s *Store) List() ([]*Container, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	var list []*Container
	for _, id := range ids {
		c, err := s.load(id)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // removed meanwhile
			}
			if errors.Is(err, ErrTorn) {
				continue // not a container anyone can use: see RemoveTorn
			}
			return nil, err
		}
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *Container) int { return b.Config.Created.Compare(a.Config.Created) })
	return list, nil
}

// RemoveTorn deletes the containers whose record a crash of the machine
// tore (ErrTorn), which List leaves out, and returns their IDs. A
// program calls it when it starts, before any container can be created.
func (s *Store) RemoveTorn() ([]string, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	var torn []string
	for _, id := range ids {
		if _, err := s.load(id); !errors.Is(err, ErrTorn) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(containersDir(s.root), id)); err != nil {
			return torn, fmt.Errorf("removing torn container %s: %w", id, err)
		}
		torn = append(torn, id)
	}
	return torn, nil
}

func (s *Store) load(id string) (*Container, error) {
	c, err := Load(filepath.Join(containersDir(s.root), id))
	if err != nil {
		return nil, err
	}
	c.store = s
	return c, nil
}

// Container is one container's record.
type Container struct {
	Config Config
	dir    string
	store  *Store
	// nameMu guards Config.Name and Config.Spec, which Rename and
	// SetSpec change while others may read them through Name and
	// DecodeSpec.
	nameMu sync.RWMutex
	trace  *explain.Trace // the start's trace, in the shim (explain.go)
}

// Load reads the container whose directory is dir.
func Load(dir string) (*Container, error) {
	c := &Container{dir: dir}
	data, err := os.ReadFile(filepath.Join(dir, configFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, filepath.Base(dir))
	}
	if err != nil {
		return nil, fmt.Errorf("reading container: %w", err)
	}
	if err := json.Unmarshal(data, &c.Config); err != nil {
		return nil, fmt.Errorf("reading container %s: %w", filepath.Join(dir, configFile), errors.Join(ErrTorn, err))
	}
	return c, nil
}

// ID, Name and Dir describe the container.
func (c *Container) ID() string { return c.Config.ID }
func (c *Container) Name() string {
	c.nameMu.RLock()
	defer c.nameMu.RUnlock()
	return c.Config.Name
}
func (c *Container) Dir() string { return c.dir }

// LogPath is the container's log file (see package logs).
func (c *Container) LogPath() string { return filepath.Join(c.dir, logFile) }

// DecodeSpec decodes the program's part of the config into v.
func (c *Container) DecodeSpec(v any) error {
	c.nameMu.RLock()
	spec := c.Config.Spec
	c.nameMu.RUnlock()
	if err := json.Unmarshal(spec, v); err != nil {
		return fmt.Errorf("container %s: reading its spec: %w", c.Name(), err)
	}
	return nil
}

// writeJSONFile writes v to path atomically: to a temporary file first,
// then renamed over path. durable flushes the file (fsync) and the
// directory to disk first: a reader sees the old content or the new,
// never half of it, and after a crash one or the other is on disk. This
// is how an exit status survives the death of everything but the disk.
func writeJSONFile(path string, v any, durable bool) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return writeFile(path, append(data, '\n'), durable)
}

// writeState writes a container's state.json atomically, like
// writeJSONFile, but without waiting for the disk: it is rewritten at every
// start and exit, and those writes lie on the path of every `docker run`.
// Readers never see half a file (the rename is atomic); a crash of the
// machine may take the newest state with it, but not the exit status,
// which exit.json keeps durably until the container's next start.
func writeState(dir string, st State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding the state of %s: %w", dir, err)
	}
	return writeFile(filepath.Join(dir, stateFile), append(data, '\n'), false)
}

// writeFile replaces path with data through a temporary file; durable
// flushes the file and the directory to disk first.
//
// A durable file is renamed over the old one. One that is not is swapped
// with it (atomicfile's Exchange, engine tuning: skip on first reading),
// which is just as atomic for readers and cheaper on ext4.
func writeFile(path string, data []byte, durable bool) error {
	return atomicfile.WriteFile(path, data, atomicfile.Options{Perm: 0o644, Durable: durable, Exchange: !durable})
}

// Rename gives c the name name (docker rename). The new name is reserved
// first, by the same symlink(2) as Create's, so a rename racing a create
// for it fails with ErrNameInUse; then config.json says the new name,
// durably, before the old link goes: a crash in between leaves the old
// name reserved for nothing (it still points to this ID, and Get finds
// the container under both), never a container without a name.
//
// c.Config.Name changes too: the caller serializes a rename with other
// uses of c.
func (c *Container) Rename(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if c.store == nil {
		return fmt.Errorf("renaming container %s: not in a store", c.Name())
	}
	old := c.Name()
	cfg := c.Config
	cfg.Name = name
	if err := c.store.reserveName(&cfg); err != nil {
		return err
	}
	if err := writeJSONFile(filepath.Join(c.dir, configFile), cfg, !cfg.Ephemeral); err != nil {
		_ = os.Remove(filepath.Join(namesDir(c.store.root), name))
		return fmt.Errorf("renaming container %s: %w", old, err)
	}
	c.nameMu.Lock()
	c.Config.Name = name
	c.nameMu.Unlock()
	link := filepath.Join(namesDir(c.store.root), old)
	if id, err := os.Readlink(link); err == nil && id == c.ID() {
		if err := os.Remove(link); err != nil {
			return fmt.Errorf("renaming container %s: %w", old, err)
		}
	}
	return nil
}

// SetSpec replaces the program's part of the config (docker update's
// new limits): config.json says it durably, so the next start, by a
// shim that loads the file, and a daemon started later both see it. A
// run under way keeps the spec it started with; the caller changes
// that run itself. The caller serializes SetSpec with Rename.
func (c *Container) SetSpec(spec json.RawMessage) error {
	c.nameMu.RLock()
	cfg := c.Config
	c.nameMu.RUnlock()
	cfg.Spec = spec
	if err := writeJSONFile(filepath.Join(c.dir, configFile), cfg, !cfg.Ephemeral); err != nil {
		return fmt.Errorf("updating container %s: %w", cfg.Name, err)
	}
	c.nameMu.Lock()
	c.Config.Spec = spec
	c.nameMu.Unlock()
	return nil
}
