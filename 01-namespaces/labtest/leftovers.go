package labtest

// The clean-up of a daemon a test started (dockerd here, containerd in
// final/ociruntime/integration): what a daemon leaves when it is killed
// is found the same way for each.

// PidsMentioning lists the processes (other than this one) whose command
// line contains s: a daemon's helpers name its private directory there
// (containerd's shims their -address), so after the daemon has stopped,
// any still running were started by it.
func PidsMentioning(s string) []int { return pidsMentioning(s) }

// MountsUnder lists the mount points below dir, deepest first, in the
// order they can be unmounted.
func MountsUnder(dir string) []string { return mountsUnder(dir) }

// CgroupDirs lists the cgroup directories named name at the top of each
// hierarchy (v1: one per controller; v2: one) and those below them,
// deepest first, in the order they can be removed.
func CgroupDirs(name string) []string { return cgroupDirs(name) }
