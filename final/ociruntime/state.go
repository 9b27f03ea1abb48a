package ociruntime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/04-cow-layers/atomicfile"
)

// Status is where a container is in the life cycle the OCI runtime spec
// defines. Only the runtime's own view is recorded on disk; the status a
// caller sees is worked out each time from the record and the kernel
// (Container.Status), because the kernel, not the record, knows whether
// init is still alive.
//
//	           create                start               init exits
//	(none) ─────────────▶ created ─────────────▶ running ─────────────▶ stopped
//	          │                        ▲  │ pause                          │
//	          │ fails: nothing is left │  ▼                  delete        ▼
//	          ▼                        paused              ───────────▶ (none)
//	       (none)                      (resume)
type Status string

// The statuses. "creating" is the spec's, for a container whose create
// has not returned yet; "paused" is runc's addition, which containerd
// and dockerd understand.
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// Record is what the runtime keeps of one container, in
// <root>/<id>/state.json. It is written once by create (and again only
// by update, for the resources), so readers never see half a record:
// atomicfile replaces the file whole.
type Record struct {
	ID     string `json:"id"`
	Bundle string `json:"bundle"`
	// Rootfs is the container's root directory on the host, made
	// absolute against the bundle.
	Rootfs string `json:"rootfs"`
	// Pid is the host PID of the container's init; InitStart is that
	// process's start time in clock ticks since boot (field 22 of
	// /proc/PID/stat). A PID alone may be reused by another process
	// once init is gone; the pair may not.
	Pid       int       `json:"pid"`
	InitStart uint64    `json:"initStart"`
	Created   time.Time `json:"created"`
	// Owner is the user that created the container, as runc reports
	// it ("" for root).
	Owner string `json:"owner,omitempty"`
	// CgroupPaths are the container's cgroup directories, one per
	// hierarchy it was put in (one on cgroup v2), for pause, update,
	// ps, events and delete.
	CgroupPaths []string `json:"cgroupPaths,omitempty"`
	// Annotations are config.json's, which the state reports back.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Config is the bundle's config.json as create read it: delete
	// runs its poststop hooks and exec joins its namespaces even if the
	// bundle changed (or is gone) since.
	Config json.RawMessage `json:"config"`
}

// ExecFifo is the name, in the container's state directory, of the FIFO
// that holds the user's process back between create and start. Init
// opens it for writing, which blocks until start opens it for reading
// (see doc.go).
const ExecFifo = "exec.fifo"

// recordFile is the record's name in the container's state directory.
const recordFile = "state.json"

// validID is what runc accepts as a container ID: it becomes a directory
// name under the root, so no slash, no "..", nothing a shell or a path
// would read differently.
var validID = regexp.MustCompile(`^[\w+\-.]+$`)

// CheckID refuses an ID that cannot be a directory name of its own.
func CheckID(id string) error {
	if id == "" || id == "." || id == ".." || !validID.MatchString(id) {
		return fmt.Errorf("container id %q: must be letters, digits and + - . _ only", id)
	}
	return nil
}

// Dir is the container's state directory under root.
func Dir(root, id string) string { return filepath.Join(root, id) }

// ErrNotExist is returned (wrapped) by Load for a container the runtime
// does not know. Callers that tolerate it (delete --force) test with
// errors.Is.
var ErrNotExist = errors.New("container does not exist")

// Load reads the record of container id under root.
func Load(root, id string) (*Record, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(Dir(root, id), recordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: reading its state: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("container %s: %s: %w", id, filepath.Join(Dir(root, id), recordFile), err)
	}
	return &r, nil
}

// Save writes the record into its state directory, which must exist.
func (r *Record) Save(root string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("container %s: encoding its state: %w", r.ID, err)
	}
	path := filepath.Join(Dir(root, r.ID), recordFile)
	if err := atomicfile.WriteFile(path, b, atomicfile.Options{}); err != nil {
		return fmt.Errorf("container %s: %w", r.ID, err)
	}
	return nil
}

// Alive reports whether the record's init is still the process it
// started as: its PID exists, is not a zombie, and started at InitStart.
func (r *Record) Alive() bool {
	start, state, err := procStat(r.Pid)
	return err == nil && start == r.InitStart && state != 'Z' && state != 'X'
}

// procStat reads a process's start time (field 22) and state (field 3)
// from /proc/PID/stat. The command name, field 2, is in parentheses and
// may itself hold spaces and parentheses: the fields after it are read
// from the last ')'.
func procStat(pid int) (start uint64, state byte, err error) {
	if pid <= 0 {
		return 0, 0, fmt.Errorf("pid %d: not a process", pid)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return start, f[0][0], nil
}

// ProcStart is the start time of process pid in clock ticks since boot,
// for Record.InitStart.
func ProcStart(pid int) (uint64, error) {
	start, _, err := procStat(pid)
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	return start, nil
}

// OCIState is the state a runtime reports (`state ID`), in the runtime
// spec's JSON shape plus runc's extra fields ("rootfs", "created",
// "owner"), which containerd and dockerd read.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Status works out where the container is now: stopped once its init is
// gone (or is another process under a reused PID: Alive checks the start
// time too), created while the exec FIFO is there (start removes it),
// paused while its freezer holds it, running otherwise.
func (r *Record) Status(root string) Status {
	if !r.Alive() {
		return Stopped
	}
	if _, err := os.Lstat(filepath.Join(Dir(root, r.ID), ExecFifo)); err == nil {
		return Created
	}
	if r.frozen() {
		return Paused
	}
	return Running
}

// frozen reads the freezer of the container's cgroup directories: v1's
// freezer.state, v2's cgroup.events.
func (r *Record) frozen() bool {
	for _, dir := range r.CgroupPaths {
		if b, err := os.ReadFile(filepath.Join(dir, "freezer.state")); err == nil {
			s := strings.TrimSpace(string(b))
			return s == "FROZEN" || s == "FREEZING"
		}
		if b, err := os.ReadFile(filepath.Join(dir, "cgroup.events")); err == nil {
			return strings.Contains(string(b), "frozen 1")
		}
	}
	return false
}

// State is the OCI state `state` prints. A stopped container's pid is
// still its init's (the spec makes it optional then): start returns
// only once the process runs, so a process as short as `true` is often
// stopped by the first `state`, and its caller (the conformance suite's
// hook checks) wants to know which process that was. The number may
// belong to another process by now: the runtime's own kill and delete
// check the start time before they signal (Record.pidfd).
func (r *Record) State(root string) OCIState {
	st := OCIState{
		OCIVersion:  specs.Version,
		ID:          r.ID,
		Pid:         r.Pid,
		Status:      r.Status(root),
		Bundle:      r.Bundle,
		Rootfs:      r.Rootfs,
		Created:     r.Created,
		Owner:       r.Owner,
		Annotations: r.Annotations,
	}
	return st
}

// recordedConfig is what the commands after create read of the recorded
// config.json: the hooks and the cgroup's path. Decoding only these is a
// fraction of decoding the whole spec, which each command (a process of
// its own) would otherwise pay again; create checked the rest.
type recordedConfig struct {
	Hooks *specs.Hooks `json:"hooks"`
	Linux *struct {
		CgroupsPath string `json:"cgroupsPath"`
	} `json:"linux"`
}

// config decodes the record's recordedConfig.
func (r *Record) config() (*recordedConfig, error) {
	var c recordedConfig
	if err := json.Unmarshal(r.Config, &c); err != nil {
		return nil, fmt.Errorf("container %s: its recorded config: %w", r.ID, err)
	}
	if c.Hooks == nil {
		c.Hooks = &specs.Hooks{}
	}
	return &c, nil
}

// cgroupsPath is the recorded linux.cgroupsPath.
func (c *recordedConfig) cgroupsPath() string {
	if c.Linux == nil {
		return ""
	}
	return c.Linux.CgroupsPath
}
