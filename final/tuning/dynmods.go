package tuning

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// Why the first move into a cgroup can take 15 ms, and how to avoid it.
//
// Writing a PID to cgroup.procs migrates a whole thread group. While it
// moves, no thread of any process may fork or exit half in and half out
// of the old cgroup, so the kernel takes one global lock for writing:
// cgroup_threadgroup_rwsem, a per-CPU reader/writer semaphore. Every
// fork and exit on the machine takes it for reading, and a per-CPU
// semaphore makes that nearly free. The price is paid by the writer: to
// switch all readers to the slow path it waits for an RCU grace period,
// several milliseconds on an idle machine (measured here: 11 to 19 ms
// for the first write to cgroup.procs, 0.1 ms for the next ones, while
// the switch is still fresh).
//
// A container engine migrates a process at every container start. The
// kernel has a switch for exactly this trade (Documentation/admin-guide/
// cgroup-v2.rst, "favordynmods"): the cgroup2 mount option favordynmods
// keeps the semaphore on its slow path for good, so migrations no longer
// wait for a grace period, and forks and exits pay a little more. The
// option belongs to cgroup2's root, but the semaphore it governs is the
// same for v1 hierarchies, so it helps hybrid hosts too (v1 hierarchies
// refuse the option on remount).
//
// It is a host-wide setting, which a daemon must not change unless its
// administrator asks: berthd does it only with --cgroup-favordynmods.
// BenchmarkFirstMoveIntoACgroup measures what it saves (docs/
// performance.md has the figures): on the machines it was measured on
// since, nothing, which is why it is off by default.

// FavorDynMods remounts the host's cgroup2 filesystem with favordynmods,
// unless it has it already. It reports whether it changed anything.
// Without a cgroup2 mount (a pure v1 host) it does nothing.
func FavorDynMods() (changed bool, err error) { return SetFavorDynMods(true) }

// SetFavorDynMods remounts the host's cgroup2 filesystem with
// favordynmods (on) or without it, unless it is so already, and reports
// whether it changed anything.
func SetFavorDynMods(on bool) (changed bool, err error) {
	const mountinfo = "/proc/self/mountinfo"
	f, err := os.Open(mountinfo)
	if err != nil {
		return false, fmt.Errorf("favordynmods: %w", err)
	}
	defer f.Close()
	return setFavorDynMods(f, unix.Mount, on)
}

// mountFunc is mount(2), replaceable in tests.
type mountFunc func(source, target, fstype string, flags uintptr, data string) error

func favorDynMods(mountinfo io.Reader, mount mountFunc) (bool, error) {
	return setFavorDynMods(mountinfo, mount, true)
}

func setFavorDynMods(mountinfo io.Reader, mount mountFunc, on bool) (bool, error) {
	m, ok, err := findCgroup2(mountinfo)
	if err != nil || !ok {
		return false, err
	}
	if slices.Contains(m.superOpts, "favordynmods") == on {
		return false, nil
	}
	// A remount replaces the superblock's options and the mount's own
	// flags with what it is given: cgroup2 clears every root flag that
	// is not named (nsdelegate, memory_recursiveprot, ...), and the VFS
	// clears nosuid, nodev and noexec unless passed. So the remount
	// repeats all of them, and adds or leaves out one.
	opts := slices.DeleteFunc(slices.Clone(m.superOpts), func(o string) bool { return o == "favordynmods" })
	if on {
		opts = append(opts, "favordynmods")
	}
	data := strings.Join(opts, ",")
	if err := mount("", m.point, "", unix.MS_REMOUNT|m.flags, data); err != nil {
		return false, fmt.Errorf("favordynmods: remounting %s with %s: %w", m.point, data, err)
	}
	return true, nil
}

// cgroup2Mount is what a remount of the cgroup2 mount must repeat.
type cgroup2Mount struct {
	point     string
	flags     uintptr  // the mount's flags (MS_NOSUID, ...)
	superOpts []string // the superblock's options, without rw/ro
}

// findCgroup2 finds the first cgroup2 mount in a mountinfo table:
//
//	35 25 0:30 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
//	             ^mount point          ^mount options             ^type           ^super options
func findCgroup2(r io.Reader) (cgroup2Mount, bool, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 6 || len(fields) < sep+4 || fields[sep+1] != "cgroup2" {
			continue
		}
		m := cgroup2Mount{point: cgroup.UnescapeMountinfo(fields[4])}
		for _, o := range strings.Split(fields[5], ",") {
			m.flags |= mountFlags[o]
		}
		for _, o := range strings.Split(fields[sep+3], ",") {
			if o != "rw" && o != "ro" && o != "" {
				m.superOpts = append(m.superOpts, o)
			}
		}
		return m, true, nil
	}
	if err := sc.Err(); err != nil {
		return cgroup2Mount{}, false, fmt.Errorf("read mountinfo: %w", err)
	}
	return cgroup2Mount{}, false, nil
}

// mountFlags are the per-mount options of mountinfo's sixth field.
var mountFlags = map[string]uintptr{
	"ro":          unix.MS_RDONLY,
	"nosuid":      unix.MS_NOSUID,
	"nodev":       unix.MS_NODEV,
	"noexec":      unix.MS_NOEXEC,
	"noatime":     unix.MS_NOATIME,
	"nodiratime":  unix.MS_NODIRATIME,
	"relatime":    unix.MS_RELATIME,
	"strictatime": unix.MS_STRICTATIME,
}
