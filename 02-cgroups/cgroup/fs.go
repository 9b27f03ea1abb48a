package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ops are the places where a cgroup filesystem does not behave like an
// ordinary one, plus the one call that touches real processes:
//
//   - mkdir on cgroupfs makes the kernel fill the new directory with its
//     interface files (memory.max, cgroup.procs, ...);
//   - rmdir on cgroupfs removes a directory that still "contains" those
//     files, and fails with EBUSY while processes are inside;
//   - kill sends SIGKILL to the processes listed in cgroup.procs;
//   - setFreezer writes a freezer file (freezer.state, cgroup.freeze),
//     after which the state read back is not what was written but the
//     processes' progress: FREEZING, then FROZEN once all have stopped;
//   - setDevices writes rules to v1's devices.allow or devices.deny, one
//     write(2) each, after which devices.list shows the whole list, not
//     what was written;
//   - attachDevices loads the v2 device program and attaches it to a
//     cgroup (an eBPF program is not a file at all).
//
// Everything else is plain reading and writing of small files. Unit tests
// replace these with a fake kernel working on a temporary directory
// (see fake_test.go), so the file-writing logic is tested without root and
// without ever signalling or freezing a real process.
type ops struct {
	mkdir      func(path string) error
	rmdir      func(path string) error
	kill       func(pid int) error
	setFreezer func(dir, name, value string) error
	setDevices func(dir, name string, rules []string) error
	// attachDevices is a field rather than a function call so that
	// tests of the v2 path need neither root nor a cgroup2 mount.
	attachDevices func(dir string, w whitelist) error
}

var hostOps = ops{
	mkdir: func(path string) error { traceMkdir(path); return os.Mkdir(path, 0o755) },
	rmdir: func(path string) error {
		// unix.Rmdir, not os.Remove: os.Remove first tries unlink,
		// which is pointless on a directory and muddles the error.
		if err := unix.Rmdir(path); err != nil {
			return &fs.PathError{Op: "rmdir", Path: path, Err: err}
		}
		return nil
	},
	kill:          func(pid int) error { return unix.Kill(pid, unix.SIGKILL) },
	setFreezer:    writeString,
	setDevices:    writeEach,
	attachDevices: attachDeviceProgram,
}

// readString returns the content of dir/name without the trailing newline.
func readString(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", err // *fs.PathError: already names the file
	}
	return strings.TrimSpace(string(b)), nil
}

// readInt reads a file holding one integer, such as memory.current.
func readInt(dir, name string) (int64, error) {
	s, err := readString(dir, name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", filepath.Join(dir, name), err)
	}
	return n, nil
}

// readKeyed reads a "flat keyed" file such as memory.events, cpu.stat or
// v1's memory.oom_control: one "key value" pair per line.
func readKeyed(dir, name string) (map[string]int64, error) {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := make(map[string]int64)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s: line %q: %w", path, sc.Text(), err)
		}
		m[k] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return m, nil
}

// writeString writes value to the interface file dir/name.
//
// The file is opened without O_CREATE: on cgroupfs a missing file means
// the controller is not enabled for this cgroup, and "no such file" is the
// honest error for that; creating a regular file would be impossible on
// cgroupfs anyway and would hide the mistake on the fake one. O_TRUNC is
// meaningless to the kernel but lets a short value replace a longer one in
// the fake cgroupfs the tests use.
//
// The kernel validates the value during write(2), so the interesting
// errors (EINVAL for a bad value, EBUSY for a limit below current usage)
// come from WriteString, not from OpenFile. The message names the value as
// well as the file, since the value is usually what is wrong.
func writeString(dir, name, value string) error {
	traceWrite(dir, name, value) // --explain (explain.go)
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write %q: %w", value, err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path goes into our own message
		}
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}

// exists reports whether dir/name exists. Optional interface files
// (memory.swap.max without swap accounting, cgroup.kill before Linux 5.14)
// are probed with it.
func exists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// writeEach writes each value to dir/name with a write(2) of its own, on
// one open file: v1's devices.allow takes one rule per write, and opening
// the file once rather than per rule makes the default policy's twelve
// rules cost about a third (see BenchmarkDevicePolicyV1).
func writeEach(dir, name string, values []string) error {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for _, v := range values {
		traceWrite(dir, name, v) // --explain (explain.go)
		if _, err := f.WriteString(v); err != nil {
			f.Close()
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("write %q to %s: %w", v, path, err)
		}
	}
	return f.Close()
}

// optKeyed is readKeyed for a file that may be missing (a controller not
// mounted): nil then.
func optKeyed(dir, name string) (map[string]int64, error) {
	if dir == "" {
		return nil, nil
	}
	m, err := readKeyed(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return m, err
}

// readIO reads a per-device I/O file whose lines start with "MAJ:MIN";
// add parses one line's fields into its device's counters. Lines of
// another shape (v1's final "Total 0") are skipped. A missing file (no io
// controller enabled, no blkio hierarchy) reads as no devices.
func readIO(dir, name string, add func(fields []string, d *DeviceIO)) ([]DeviceIO, error) {
	if dir == "" {
		return nil, nil
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []DeviceIO
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		maj, min, ok := strings.Cut(fields[0], ":")
		if !ok {
			continue
		}
		var d DeviceIO
		if d.Major, err = strconv.ParseUint(maj, 10, 64); err != nil {
			continue
		}
		if d.Minor, err = strconv.ParseUint(min, 10, 64); err != nil {
			continue
		}
		// v1 gives each device several lines; they add up in one entry.
		i := slices.IndexFunc(out, func(o DeviceIO) bool { return o.Major == d.Major && o.Minor == d.Minor })
		if i < 0 {
			out = append(out, d)
			i = len(out) - 1
		}
		add(fields, &out[i])
	}
	return out, nil
}
