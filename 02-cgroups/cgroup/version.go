package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Version says which cgroup interface the host gives us.
type Version int

const (
	// V1 is the legacy interface: one hierarchy per controller, each
	// mounted on its own directory under /sys/fs/cgroup.
	V1 Version = iota + 1
	// V2 is the unified interface: /sys/fs/cgroup itself is cgroup2 and
	// one tree carries every controller.
	V2
	// Hybrid is V1 plus an extra cgroup2 mount at /sys/fs/cgroup/unified.
	// systemd uses that mount to track processes, but the controllers we
	// need (memory, cpu, pids) are bound to the v1 hierarchies, and a
	// controller can be active in only one of the two interfaces at a
	// time. So a Hybrid host is driven like V1, and its containers get a
	// directory in the cgroup2 tree as well, as runc gives them, where
	// the processes are tracked but nothing is limited.
	Hybrid
)

func (v Version) String() string {
	switch v {
	case V1:
		return "v1"
	case V2:
		return "v2"
	case Hybrid:
		return "hybrid"
	}
	return "Version(" + strconv.Itoa(int(v)) + ")"
}

// usesV1 reports whether the limits live in per-controller v1 hierarchies.
func (v Version) usesV1() bool { return v == V1 || v == Hybrid }

// MountRoot is where every mainstream distribution mounts cgroups.
const MountRoot = "/sys/fs/cgroup"

// Detect tells which cgroup interface this machine uses.
//
// It asks the kernel what kind of filesystem is mounted at /sys/fs/cgroup
// rather than looking for files such as cgroup.controllers: a file name
// can be faked or shadowed by a bind mount, the filesystem magic cannot.
func Detect() (Version, error) {
	return detect(unix.Statfs, MountRoot)
}

// detect is Detect with the statfs call and the root made replaceable, so
// the decision table can be unit-tested without the kernel's help.
func detect(statfs func(string, *unix.Statfs_t) error, root string) (Version, error) {
	magic := func(path string) (int64, error) {
		var st unix.Statfs_t
		if err := statfs(path, &st); err != nil {
			return 0, fmt.Errorf("statfs %s: %w", path, err)
		}
		// Statfs_t.Type is int64 on amd64 but a narrower type on some
		// architectures; the magic numbers all fit in 32 bits.
		return int64(st.Type), nil
	}

	m, err := magic(root)
	if err != nil {
		return 0, fmt.Errorf("detect cgroup version: %w", err)
	}
	switch m {
	case unix.CGROUP2_SUPER_MAGIC:
		return V2, nil
	case unix.CGROUP_SUPER_MAGIC:
		// A single v1 hierarchy mounted directly on the root: unusual
		// but still v1.
		return V1, nil
	case unix.TMPFS_MAGIC:
		// A tmpfs holding one directory per v1 hierarchy. If systemd
		// also mounted cgroup2 on "unified", the host is hybrid. A
		// missing "unified" directory just means plain v1.
		u, err := magic(root + "/unified")
		if err == nil && u == unix.CGROUP2_SUPER_MAGIC {
			return Hybrid, nil
		}
		return V1, nil
	}
	return 0, fmt.Errorf("detect cgroup version: %s is neither cgroup2 nor tmpfs (filesystem magic %#x)", root, m)
}

// v1Controllers are the v1 hierarchies berth joins. cpuacct is there only
// for the CPU usage counter in Stats (v1's cpu.stat has no usage figure),
// freezer only for Freeze (docker pause, and commit's consistent copy):
// it limits nothing, but a process can be frozen only by a hierarchy it
// is in. (v2 needs no controller for that: every v2 cgroup has
// cgroup.freeze.) devices holds the device policy (see devices.go); v2
// has no such controller and attaches an eBPF program instead.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "pids", "freezer", "devices"}

// v1Others are the other v1 hierarchies a container is put in, though
// berth sets nothing there: so that in every hierarchy the container's
// cgroup namespace has the container's own cgroup as its root. Chapter 03
// mounts every hierarchy in the container, as Docker does; one the
// container were not in would show it the host's tree (the root of it,
// read-only, as the cgroup of whoever started it). "name=systemd" is
// systemd's named hierarchy, which has no controller.
//
// A new cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and
// the kernel refuses to move a task into it (ENOSPC) until both are
// copied from its parent (inheritCpuset).
var v1Others = []string{"blkio", "cpuset", "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc", "name=systemd"}

// v1Joined are all the v1 hierarchies berth puts a container in.
func v1Joined() []string {
	joined := slices.Clone(v1Controllers)
	for _, h := range v1Others {
		if !slices.Contains(joined, h) {
			joined = append(joined, h)
		}
	}
	return joined
}

// v1Mounts reads a mountinfo table (normally /proc/self/mountinfo) and
// returns the mount point of each hierarchy of v1Joined that is
// mounted. A hierarchy can carry several controllers (the classic
// "cpu,cpuacct"); then both names map to the same directory.
//
// A mountinfo line looks like this (see proc(5)); the controllers are in
// the super options, the last field:
//
//	32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
//	            ^mount point                             ^type         ^super options
func v1Mounts(r io.Reader) (map[string]string, error) {
	wanted := map[string]bool{}
	for _, c := range v1Joined() {
		wanted[c] = true
	}
	mounts := make(map[string]string)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// The optional fields before "-" vary in number, so find the
		// separator instead of counting.
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+4 || fields[sep+1] != "cgroup" {
			continue
		}
		mountPoint := UnescapeMountinfo(fields[4])
		for _, opt := range strings.Split(fields[sep+3], ",") {
			// The first mount of a hierarchy wins: later lines are
			// usually bind mounts of the same hierarchy elsewhere.
			if wanted[opt] && mounts[opt] == "" {
				mounts[opt] = mountPoint
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return mounts, nil
}

// UnescapeMountinfo undoes the kernel's octal escaping of spaces, tabs,
// newlines and backslashes in mountinfo paths ("\040" for a space).
func UnescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// System describes the cgroup filesystems of this machine: it detects the
// version and, on v1 and hybrid hosts, finds each controller's mount point
// in /proc/self/mountinfo.
func System() (*Hierarchy, error) {
	v, err := Detect()
	if err != nil {
		return nil, err
	}
	if v == V2 {
		return &Hierarchy{Version: V2, Unified: MountRoot}, nil
	}
	const mountinfo = "/proc/self/mountinfo"
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("find cgroup v1 mounts: %w", err)
	}
	defer f.Close()
	mounts, err := v1Mounts(f)
	if err != nil {
		return nil, fmt.Errorf("find cgroup v1 mounts in %s: %w", mountinfo, err)
	}
	if len(mounts) == 0 {
		return nil, fmt.Errorf("find cgroup v1 mounts: %w: none of %v is mounted (see %s)",
			errors.ErrUnsupported, v1Controllers, mountinfo)
	}
	h := &Hierarchy{Version: v, Mounts: mounts}
	if v == Hybrid {
		h.Unified = MountRoot + "/unified"
	}
	return h, nil
}
