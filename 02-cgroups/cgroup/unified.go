package cgroup

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Raw v2 files
//
// v2 keeps growing files no struct field foresees (memory.high,
// memory.oom.group, cpu.idle, io.latency ...). Resources.Unified writes
// them as given, after everything else, so a value there has the last
// word:
//
//	Unified{"memory.high": "50M"}    echo 50M > <cgroup>/memory.high
//
// Each name must be a file of the container's own cgroup that exists:
// a missing one means its controller is not enabled, and creating a
// plain file instead is impossible on cgroupfs anyway. The kernel
// checks the value at the write. Files that decide the cgroup's
// membership and shape (cgroup.procs, cgroup.subtree_control ...) are
// refused: they are New's and Add's. v1 has no such escape hatch.

// ErrNoUnifiedV1 refuses Resources.Unified on cgroup v1 and hybrid hosts.
var ErrNoUnifiedV1 = errors.New("raw cgroup v2 files (unified) cannot be written on a cgroup v1 host")

func (r Resources) validateUnified() error {
	for name := range r.Unified {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return fmt.Errorf("unified %q: must be the name of a file in the cgroup", name)
		}
		if strings.HasPrefix(name, "cgroup.") {
			return fmt.Errorf("unified %q: the cgroup's core files are berth's to write", name)
		}
	}
	return nil
}

// setUnified writes r.Unified in name order (so that a trace reads the
// same every time).
func setUnified(dir string, unified map[string]string) error {
	names := make([]string, 0, len(unified))
	for name := range unified {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !exists(dir, name) {
			return fmt.Errorf("unified %q: no such file in %s (is its controller enabled?)", name, dir)
		}
		if err := writeString(dir, name, unified[name]); err != nil {
			return fmt.Errorf("unified %q: %w", name, err)
		}
	}
	return nil
}
