package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// What a container sees of cgroups.
//
// A cgroup namespace changes how a process sees the cgroup tree: the
// cgroup it was in when the namespace was made becomes its "/". The
// container's /proc/self/cgroup then shows "/" in every hierarchy, not
// /berth/<ID>, and a cgroup filesystem mounted inside it shows the
// container's own cgroup as its root: its limits, its usage, its
// processes, nothing of the host's or of the other containers'.
//
//	host:      /sys/fs/cgroup/memory/berth/<ID>/memory.limit_in_bytes
//	container: /sys/fs/cgroup/memory/memory.limit_in_bytes  (the same file)
//
// So the namespace must be made once the container's init is in its
// cgroup (chapter 01's init makes it after its spec came, and the host
// joins it to its cgroup before sending the spec), and the container
// must be in its own cgroup in every hierarchy that is mounted inside
// (v1Others).

// NSMount is one cgroup filesystem to mount in a container, under
// /sys/fs/cgroup, as Docker does on this host's kind of cgroups.
type NSMount struct {
	// Name is the directory under /sys/fs/cgroup: the host's name for
	// the hierarchy ("memory", "cpu,cpuacct", "systemd"). Empty for
	// cgroup2 on v2, mounted on /sys/fs/cgroup itself.
	Name string
	// Type is "cgroup" (v1) or "cgroup2".
	Type string
	// Source is the mount's source, which mount(8) shows first: "cgroup",
	// or for a named hierarchy its name ("systemd"), as Docker's.
	Source string
	// Options name the hierarchy to mount: its controllers ("cpu,cpuacct")
	// or its name ("name=systemd"). Empty for cgroup2.
	Options string
	// Links are the other names of a hierarchy that carries several
	// controllers, as symbolic links to Name: "cpu" and "cpuacct" for
	// "cpu,cpuacct".
	Links []string
	// Path is the calling process's cgroup in the hierarchy, as its
	// /proc/self/cgroup shows it: "/" in a cgroup namespace of its own,
	// the path from the hierarchy's root in the host's (--cgroupns host,
	// where a container is shown only that directory, bound).
	Path string
}

// NSMounts lists the cgroup filesystems a container gets, from this
// machine's: on v2 the one cgroup2; on v1 and hybrid hosts one per v1
// hierarchy the container is put in (every usual one), under the host's
// name for it. Docker mounts no cgroup2 on a hybrid host: neither does
// berth, whose containers are not in a cgroup2 cgroup of their own there.
//
// They come in the order of the hierarchies' IDs in /proc/self/cgroup,
// which is the order in which the host mounted them, and Docker's.
func NSMounts() ([]NSMount, error) {
	h, err := System()
	if err != nil {
		return nil, err
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	paths := hierarchyPaths(string(own))
	if h.Version == V2 {
		return []NSMount{{Type: "cgroup2", Source: "cgroup", Path: paths[""]}}, nil
	}
	mounts := h.nsMounts(hierarchyIDs(string(own)))
	for i := range mounts {
		mounts[i].Path = paths[strings.Split(mounts[i].Options, ",")[0]]
	}
	return mounts, nil
}

// hierarchyPaths maps each controller (or "name=NAME", or "" for
// cgroup2) of a /proc/PID/cgroup table to the process's cgroup there.
func hierarchyPaths(table string) map[string]string {
	paths := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			paths[c] = f[2]
		}
	}
	return paths
}

// hierarchyIDs maps each controller (or "name=NAME") of a
// /proc/PID/cgroup table ("4:memory:/berth/ID") to its hierarchy's ID.
func hierarchyIDs(table string) map[string]int {
	ids := map[string]int{}
	for _, line := range strings.Split(table, "\n") {
		id, rest, ok := strings.Cut(line, ":")
		ctrls, _, ok2 := strings.Cut(rest, ":")
		n, err := strconv.Atoi(id)
		if !ok || !ok2 || err != nil {
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			ids[c] = n
		}
	}
	return ids
}

// nsMounts builds the list for a v1 or hybrid host, in the order of ids.
func (h *Hierarchy) nsMounts(ids map[string]int) []NSMount {
	byMount := map[string][]string{}
	for _, ctrl := range v1Joined() {
		if mnt := h.Mounts[ctrl]; mnt != "" {
			byMount[mnt] = append(byMount[mnt], ctrl)
		}
	}
	var mounts []NSMount
	for mnt, ctrls := range byMount {
		// The kernel lists co-mounted controllers in its own order,
		// which is alphabetical for the usual pairs (cpu,cpuacct,
		// net_cls,net_prio).
		slices.Sort(ctrls)
		m := NSMount{Name: filepath.Base(mnt), Type: "cgroup", Source: "cgroup", Options: strings.Join(ctrls, ",")}
		for _, c := range ctrls {
			if name, ok := strings.CutPrefix(c, "name="); ok {
				m.Source = name
			} else if c != m.Name {
				m.Links = append(m.Links, c)
			}
		}
		mounts = append(mounts, m)
	}
	slices.SortFunc(mounts, func(a, b NSMount) int {
		if d := ids[strings.Split(a.Options, ",")[0]] - ids[strings.Split(b.Options, ",")[0]]; d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	return mounts
}

// String describes m for error messages.
func (m NSMount) String() string {
	return fmt.Sprintf("%s %s (%s)", m.Type, filepath.Join(MountRoot, m.Name), m.Options)
}
