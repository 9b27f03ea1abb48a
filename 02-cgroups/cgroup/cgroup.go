package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// DefaultParent is the directory, directly under each hierarchy's root,
// that holds every berth container's cgroup. Grouping them keeps the
// host's tree tidy (`ls /sys/fs/cgroup/memory/berth` lists the
// containers) and gives one place to set a limit for all containers
// together.
//
// The parent is shared: it is created on demand and never removed, because
// another container may be created in it at the very moment we would
// remove it.
//
// A Hierarchy may name another parent (Hierarchy.Parent): a second engine
// on the same host keeps its containers apart from the first one's, and
// `docker run --cgroup-parent` puts one container elsewhere.
const DefaultParent = "berth"

// CleanParent checks a parent cgroup as a user names it and returns it
// relative to the hierarchies' roots, as Docker's cgroupfs driver reads
// it: "/batch/jobs" and "batch/jobs" are both <mount>/batch/jobs. An empty
// name is DefaultParent.
//
// A ".." is refused rather than cleaned away: the name is about to become
// directories that berth creates, fills and removes, and a name that
// climbs must not get anywhere near another program's cgroups. The root
// itself ("/") is refused too: the containers would sit among the
// host's own cgroups (system.slice, user.slice) with no parent of
// berth's to hold them.
func CleanParent(parent string) (string, error) {
	if parent == "" {
		return DefaultParent, nil
	}
	if strings.ContainsRune(parent, 0) {
		return "", fmt.Errorf("invalid cgroup parent %q: contains a NUL byte", parent)
	}
	for _, elem := range strings.Split(parent, "/") {
		if elem == ".." {
			return "", fmt.Errorf("invalid cgroup parent %q: \"..\" is not allowed", parent)
		}
	}
	clean := strings.TrimPrefix(filepath.Clean("/"+parent), "/")
	if clean == "" {
		return "", fmt.Errorf("invalid cgroup parent %q: the root of the hierarchy cannot hold containers directly", parent)
	}
	return clean, nil
}

// Hierarchy says where the cgroup filesystems are mounted. System fills
// it in for this machine; tests point one at a fake cgroupfs.
type Hierarchy struct {
	Version Version
	// Unified is the cgroup2 mount point. Containers' cgroups are made
	// under it when Version is V2. On a Hybrid host each container also
	// gets a directory there, which limits nothing (see Hybrid).
	Unified string
	// Mounts maps a v1 controller ("memory", "cpu", "cpuacct", "pids",
	// "freezer") to the mount point of the hierarchy that carries it.
	// Used when Version is V1 or Hybrid. Co-mounted controllers share a
	// mount point.
	Mounts map[string]string
	// Parent is the cgroup, relative to each hierarchy's root, that New
	// creates containers' cgroups in and Load looks for them in (see
	// CleanParent). Empty means DefaultParent.
	Parent string
	// AtRoot puts containers' cgroups directly under each hierarchy's
	// root instead, Parent unused. berth's own engine never does (see
	// CleanParent), but an OCI runtime is told where a container's
	// cgroup goes by its caller (linux.cgroupsPath "/name").
	AtRoot bool
	// Explain, if set, gets each directory New makes and each file it,
	// Add and Update write in a container's cgroup (explain.go).
	Explain *explain.Trace `json:"-"`

	ops ops // zero: the real kernel (hostOps)
}

// Under returns a copy of h whose containers' cgroups go under parent.
func (h *Hierarchy) Under(parent string) *Hierarchy {
	c := *h
	c.Parent = parent
	return &c
}

// parent returns h.Parent, checked and relative.
func (h *Hierarchy) parent() (string, error) {
	if h.AtRoot {
		return "", nil
	}
	return CleanParent(h.Parent)
}

func (h *Hierarchy) sys() ops {
	if h.ops.mkdir == nil {
		return hostOps
	}
	return h.ops
}

// Cgroup is one container's cgroup. On v2 that is one directory. On v1 it
// is one directory per hierarchy, all named <mount>/<parent>/<name>: the
// process must be added to each, and each must be removed.
//
// A Cgroup holds nothing but those paths; all state is in the kernel. So
// its methods may be called from several goroutines, and a Cgroup from
// Load is as good as the one New returned.
type Cgroup struct {
	name    string
	version Version
	// paths maps each joined controller to the directory holding its
	// files. On v2 every controller maps to the same directory.
	paths map[string]string
	ops   ops
}

// New creates the cgroup of container name under the DefaultParent
// cgroup, with limits r, on this machine. It is System followed by
// Hierarchy.New.
func New(name string, r Resources) (*Cgroup, error) {
	h, err := System()
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}
	return h.New(name, r)
}

// Load reopens the existing cgroup of container name on this machine, for
// a daemon that restarts while its containers keep running.
func Load(name string) (*Cgroup, error) {
	h, err := System()
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}
	return h.Load(name)
}

// New creates the cgroup of container name under h's parent (created if
// need be) and writes the
// limits r. It fails (with an error matching fs.ErrExist) if the cgroup
// already exists: it may belong to a running container, and silently
// sharing it would mix two containers' processes and limits.
//
// The cgroup starts empty; put the container's first process in it with
// Add before that process runs any code of the container's (see the
// package documentation). If New fails, it removes what it created.
func (h *Hierarchy) New(name string, r Resources) (*Cgroup, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}
	parent, err := h.parent()
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}

	var (
		c       *Cgroup
		created []string
	)
	traceCgroup(name, h.Explain) // until Destroy
	switch {
	case h.Version == V2:
		c, created, err = h.createV2(parent, name, r)
	case h.Version.usesV1():
		c, created, err = h.createV1(parent, name, r)
	default:
		err = fmt.Errorf("unknown cgroup version %v", h.Version)
	}
	// A new cgroup is unlimited in every controller, whatever its
	// parent's limits: only real limits need writing (a container's
	// start saves a dozen system calls when it has none).
	if err == nil && r.limited() {
		err = c.update(r) // r is already validated
	}
	if err != nil {
		// Remove only the directories made above: nothing has joined
		// them yet, so a plain rmdir suffices and nothing is killed.
		// The shared parent stays.
		errs := []error{fmt.Errorf("cgroup %s: %w", name, err)}
		for _, dir := range created {
			if rerr := h.sys().rmdir(dir); rerr != nil {
				errs = append(errs, fmt.Errorf("cgroup %s: clean up: %w", name, rerr))
			}
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// Load reopens the existing cgroup of container name. On v1 it picks up
// whichever of the container's hierarchy directories still exist, so a
// cgroup that was half created or half removed can still be destroyed.
// It fails with an error matching fs.ErrNotExist when none exists.
func (h *Hierarchy) Load(name string) (*Cgroup, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	parent, err := h.parent()
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}
	c := &Cgroup{name: name, version: h.Version, paths: map[string]string{}, ops: h.sys()}
	var tried []string
	switch {
	case h.Version == V2:
		dir := filepath.Join(h.Unified, parent, name)
		tried = append(tried, dir)
		if isDir(dir) {
			for _, ctrl := range v1Controllers {
				c.paths[ctrl] = dir
			}
		}
	case h.Version.usesV1():
		for _, ctrl := range v1Joined() {
			if mnt := h.Mounts[ctrl]; mnt != "" {
				dir := filepath.Join(mnt, parent, name)
				tried = append(tried, dir)
				if isDir(dir) {
					c.paths[ctrl] = dir
				}
			}
		}
		if h.Version == Hybrid && h.Unified != "" {
			if dir := filepath.Join(h.Unified, parent, name); isDir(dir) {
				c.paths[unifiedKey] = dir
			}
		}
	default:
		return nil, fmt.Errorf("cgroup %s: unknown cgroup version %v", name, h.Version)
	}
	if len(c.paths) == 0 {
		return nil, fmt.Errorf("cgroup %s: not found at %s: %w", name, strings.Join(tried, ", "), fs.ErrNotExist)
	}
	return c, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// checkName makes sure name is one path element: a name such as
// "../../cpu" must not let a caller create or destroy cgroups outside
// the parent.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid cgroup name %q: must be a single path element", name)
	}
	return nil
}

// mkdirShared creates a directory that other containers share (the
// parent); losing a race to create it is fine.
func mkdirShared(o ops, dir string) error {
	if err := o.mkdir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// mkdirParent creates the parent cgroup (relative to root, and maybe
// several levels deep) one level at a time, and calls each on every level
// on the way down, root excluded: v2 enables the controllers there for
// the level below. It returns the parent's directory.
func mkdirParent(o ops, root, parent string, each func(dir string) error) (string, error) {
	dir := root
	for _, elem := range strings.Split(parent, "/") {
		dir = filepath.Join(dir, elem)
		if err := mkdirShared(o, dir); err != nil {
			return "", fmt.Errorf("create parent cgroup: %w", err)
		}
		if each != nil {
			if err := each(dir); err != nil {
				return "", err
			}
		}
	}
	return dir, nil
}

// RemoveParent removes h's parent cgroup from every hierarchy, for
// whoever owns it alone (a test's engine): the shared DefaultParent is
// never removed (see there). It fails while a container's cgroup is still
// inside (the kernel's EBUSY). Only the last level of a parent such as
// "a/b" goes: "a" may hold other things.
func (h *Hierarchy) RemoveParent() error {
	if h.AtRoot {
		return errors.New("cgroup parent: containers are at the hierarchies' roots, which are never removed")
	}
	parent, err := h.parent()
	if err != nil {
		return err
	}
	var roots []string
	if h.Version == V2 {
		roots = append(roots, h.Unified)
	} else {
		for _, mnt := range h.Mounts {
			if !slices.Contains(roots, mnt) {
				roots = append(roots, mnt)
			}
		}
		if h.Version == Hybrid && h.Unified != "" {
			roots = append(roots, h.Unified) // createV1's "0::" tree
		}
	}
	var errs []error
	for _, root := range roots {
		if err := h.sys().rmdir(filepath.Join(root, parent)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove parent cgroup: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Name returns the container name the cgroup was created with.
func (c *Cgroup) Name() string { return c.name }

// Version returns the cgroup interface the cgroup lives in.
func (c *Cgroup) Version() Version { return c.version }

// Path returns the directory holding controller's interface files
// ("memory", "cpu", "cpuacct", "pids" or "freezer"), or "" if the cgroup
// has no directory in that controller's hierarchy. On v2 there is a
// single directory and the controller does not matter.
//
// On v2 this is also the directory to open for SysProcAttr.CgroupFD, which
// starts a child directly inside the cgroup (clone3 CLONE_INTO_CGROUP).
func (c *Cgroup) Path(controller string) string {
	if c.version == V2 {
		for _, dir := range c.paths {
			return dir // all the same
		}
		return ""
	}
	return c.paths[controller]
}

// Dirs returns every directory that makes up the cgroup, sorted: one on
// v2, one per joined hierarchy on v1.
func (c *Cgroup) Dirs() []string {
	var dirs []string
	for _, d := range c.paths {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	slices.Sort(dirs)
	return dirs
}

// Add moves process pid (with all its threads) into the cgroup. From then
// on the process and every child it forks are limited and accounted here.
//
// On v1 the process is written into each hierarchy's directory in turn. If
// one write fails, the process stays in the hierarchies already written;
// the caller should then kill it and Destroy the cgroup.
func (c *Cgroup) Add(pid int) error {
	for _, dir := range c.Dirs() {
		if err := writeString(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroup %s: add process %d: %w", c.name, pid, err)
		}
	}
	return nil
}

// ProcsFiles returns the cgroup.procs files of the cgroup, for a process
// that joins it itself by writing "0" to each (final/nsenter's exec). The
// late ones are best joined as late as possible: there the process's
// memory and tasks are charged to the container. The early ones charge
// nothing but check the mover: a v1 cpuset refuses a process one of
// whose threads has a capability the writing thread lacks (a Go program
// that gave up its capabilities on one thread only), so it is joined
// while the process still has them all.
func (c *Cgroup) ProcsFiles() (early, late []string) {
	cpuset := ""
	if c.version != V2 {
		cpuset = c.paths["cpuset"]
	}
	for _, dir := range c.Dirs() {
		if dir == cpuset {
			early = append(early, filepath.Join(dir, "cgroup.procs"))
		} else {
			late = append(late, filepath.Join(dir, "cgroup.procs"))
		}
	}
	return early, late
}

// Procs returns the processes in the cgroup, sorted. On v1 it merges the
// hierarchies' lists, so a process that was only partly added shows up.
func (c *Cgroup) Procs() ([]int, error) {
	var pids []int
	for _, dir := range c.Dirs() {
		ps, err := readProcs(dir)
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: list processes: %w", c.name, err)
		}
		for _, p := range ps {
			if !slices.Contains(pids, p) {
				pids = append(pids, p)
			}
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// readProcs reads dir/cgroup.procs: one process ID per line. (On v1 the
// list is neither sorted nor free of duplicates, hence Procs' merge.)
func readProcs(dir string) ([]int, error) {
	s, err := readString(dir, "cgroup.procs")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "cgroup.procs"), err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Update writes new limits into the cgroup (docker update). New calls it
// for the initial limits. A zero field removes that limit.
func (c *Cgroup) Update(r Resources) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	if err := c.update(r); err != nil {
		return fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	return nil
}

func (c *Cgroup) update(r Resources) error {
	if c.version == V2 {
		return c.updateV2(r)
	}
	return c.updateV1(r)
}

// setLimit writes value to dir/name. An unlimited value (limited false)
// is skipped when the file or the whole hierarchy is missing: there is
// nothing to lift. A real limit that cannot be written is an error, since
// silently running a container without its memory limit is how hosts get
// taken down.
func setLimit(dir, name, value string, limited bool) error {
	if !limited && (dir == "" || !exists(dir, name)) {
		return nil
	}
	if dir == "" {
		return fmt.Errorf("cannot write %s: the cgroup has no directory in that controller's hierarchy", name)
	}
	return writeString(dir, name, value)
}

// Stats are a cgroup's counters, as `docker stats` shows them. A counter
// the kernel does not provide (a controller not mounted, memory.peak before
// Linux 5.19) reads as zero.
type Stats struct {
	CPUUsage    time.Duration // CPU time used by all processes, ever, user plus system
	MemoryUsage int64         // bytes charged now, page cache included
	MemoryPeak  int64         // highest MemoryUsage so far
	MemoryLimit int64         // bytes; 0 = unlimited
	Pids        int64         // tasks (processes and threads) now
	PidsLimit   int64         // 0 = unlimited
	// MemoryStat is memory.stat as the kernel writes it, nil without the
	// file. docker stats needs one line of it: the page cache that could
	// be dropped at once (v1 total_inactive_file, v2 inactive_file) is
	// not counted as used.
	MemoryStat map[string]int64
	// IO are the bytes read and written per block device, ever (v1
	// blkio.throttle.io_service_bytes_recursive, v2 io.stat).
	IO []DeviceIO
}

// DeviceIO are the bytes a cgroup read from and wrote to one block device.
type DeviceIO struct {
	Major, Minor uint64
	Read, Write  int64
}

// Stats reads the cgroup's counters.
func (c *Cgroup) Stats() (Stats, error) {
	// Missing counters read as zero below, so make sure first that the
	// cgroup itself still exists.
	for _, dir := range c.Dirs() {
		if _, err := os.Stat(dir); err != nil {
			return Stats{}, fmt.Errorf("cgroup %s: read stats: %w", c.name, err)
		}
	}
	var (
		s   Stats
		err error
	)
	if c.version == V2 {
		s, err = c.statsV2()
	} else {
		s, err = c.statsV1()
	}
	if err != nil {
		return Stats{}, fmt.Errorf("cgroup %s: read stats: %w", c.name, err)
	}
	return s, nil
}

// optInt reads an integer file that may legitimately be missing; it then
// reads as 0. "max" (v2's word for no limit) also reads as 0.
func optInt(dir, name string) (int64, error) {
	if dir == "" {
		return 0, nil
	}
	s, err := readString(dir, name)
	if errors.Is(err, fs.ErrNotExist) || s == "max" {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", filepath.Join(dir, name), err)
	}
	return n, nil
}

// OOMKilled reports whether the kernel's OOM killer has killed a process
// of this cgroup since it was created.
//
// It reads the kernel's kill counter: "oom_kill" in memory.events on v2
// and in memory.oom_control on v1 (Linux 4.13 and later). memory.failcnt
// is no substitute: it counts how often usage hit the limit, and most of
// those times the kernel reclaimed page cache and nobody died.
func (c *Cgroup) OOMKilled() (bool, error) {
	n, err := c.OOMKills()
	return n > 0, err
}

// OOMKills is that counter itself: how many processes of the cgroup the
// OOM killer has killed so far. A watcher that reads it again and again
// (an OCI runtime's `events`) sees each new kill as a larger number.
func (c *Cgroup) OOMKills() (int64, error) {
	dir, file := c.Path("memory"), "memory.oom_control"
	if c.version == V2 {
		file = "memory.events"
	}
	if dir == "" {
		return 0, fmt.Errorf("cgroup %s: read OOM kills: the cgroup is not in a memory hierarchy", c.name)
	}
	m, err := readKeyed(dir, file)
	if err != nil {
		return 0, fmt.Errorf("cgroup %s: read OOM kills: %w", c.name, err)
	}
	n, ok := m["oom_kill"]
	if !ok {
		return 0, fmt.Errorf("cgroup %s: read OOM kills: %s has no oom_kill counter (kernel older than 4.13?): %w",
			c.name, filepath.Join(dir, file), errors.ErrUnsupported)
	}
	return n, nil
}

// destroyTimeout bounds how long Destroy waits for killed processes to
// leave a cgroup.
const destroyTimeout = 5 * time.Second

// Destroy kills every process left in the cgroup and removes its
// directories. It is idempotent: destroying a cgroup that is already gone
// (or half gone) succeeds. The shared parent is left in place. A frozen
// cgroup is thawed as its processes are killed (see thawForKill).
func (c *Cgroup) Destroy() error {
	defer untraceCgroup(c.name)
	// Most often the container's processes are all gone by now (its
	// init has exited, and the kernel killed the rest of its PID
	// namespace): then each rmdir simply succeeds, and there is nothing
	// to thaw or kill. Only a busy directory takes the long way.
	if c.removeIdle() {
		return nil
	}
	var errs []error
	if err := c.thawForKill(); err != nil {
		errs = append(errs, fmt.Errorf("cgroup %s: destroy: %w", c.name, err))
	}
	for _, dir := range c.Dirs() {
		if err := c.removeDir(dir); err != nil {
			errs = append(errs, fmt.Errorf("cgroup %s: destroy: %w", c.name, err))
		}
	}
	return errors.Join(errs...)
}

// removeIdle removes the cgroup's directories if none has a member left,
// and reports whether they are all gone. It stops at the first that is
// busy (or fails otherwise), leaving the rest to Destroy's long way.
func (c *Cgroup) removeIdle() bool {
	for _, dir := range c.Dirs() {
		if err := c.ops.rmdir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}
	return true
}

// removeDir empties one cgroup directory and removes it.
//
// rmdir fails with EBUSY while the cgroup has members, and a SIGKILLed
// process stays a member until the kernel has torn it down (freed its
// memory, closed its files), which takes a moment after kill(2) returns.
// A process may also fork between our reading cgroup.procs and our
// signals. So kill and rmdir are retried together, with a growing pause,
// until the directory is gone or destroyTimeout has passed.
//
// A zombie does not hold the cgroup busy: a killed process need not be
// reaped by its parent before its cgroup can be removed.
func (c *Cgroup) removeDir(dir string) error {
	deadline := time.Now().Add(destroyTimeout)
	pause := 5 * time.Millisecond
	for {
		if err := c.killAll(dir); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // already removed
			}
			return err
		}
		err := c.ops.rmdir(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (still busy after %v: processes left, or child cgroups inside)", err, destroyTimeout)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// killAll sends SIGKILL to every process in one cgroup directory.
//
// On v2 since Linux 5.14, writing "1" to cgroup.kill does it in the
// kernel, atomically: no process can fork a child we have not seen. On v1
// we can only read cgroup.procs and signal each process; removeDir's loop
// catches what was forked in between.
func (c *Cgroup) killAll(dir string) error {
	if c.version == V2 && exists(dir, "cgroup.kill") {
		return writeString(dir, "cgroup.kill", "1")
	}
	pids, err := readProcs(dir)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := c.ops.kill(pid); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill process %d in %s: %w", pid, dir, err)
		}
	}
	return nil
}
