package cgroup

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// fakeKernel imitates cgroupfs on an ordinary temporary directory, so the
// package's file-writing logic can be tested without root.
//
// Reading and writing interface files needs no imitation: they are plain
// files here. Only the three calls in ops are faked:
//
//   - mkdir creates the interface files the kernel would. On v2 they
//     depend on the parent's cgroup.subtree_control, exactly like the
//     kernel: a controller that was not enabled in the parent leaves no
//     memory.max in the child, and writing the limit fails. On v1 they
//     depend on the hierarchy, and memory.use_hierarchy and
//     oom_kill_disable are inherited from the parent.
//   - rmdir refuses (EBUSY) while cgroup.procs lists processes or child
//     cgroups exist, and otherwise removes the directory with its files.
//   - kill records the pid (no real process is ever signalled) and, like
//     the death of a process, drops it from every cgroup.procs.
//   - setFreezer plays the freezer: on v1 a write of FROZEN leaves
//     freezer.state at FREEZING for the first freezeSlow writes (the
//     processes have not all stopped yet), then FROZEN; on v2 "frozen 1"
//     appears in cgroup.events freezeDelay after the write of "1" to
//     cgroup.freeze, as the kernel sets it on its own. With freezeStuck
//     the freeze never completes (a process in an uninterruptible
//     sleep). A thaw takes effect at once, as in the kernel.
//   - setDevices records each write to devices.allow and devices.deny in
//     calls ("devices.deny a"), in order: the order is what matters.
//   - attachDevices records the whitelist a v2 cgroup's program would be
//     compiled from, in attached.
//
// A write to cgroup.kill cannot be noticed when it happens, so rmdir
// honours it instead: a "1" in cgroup.kill empties cgroup.procs.
type fakeKernel struct {
	t       *testing.T
	root    string
	version Version
	mounts  map[string][]string // v1: mount point -> controllers

	swap       bool            // create memory.memsw.* (v1) and memory.swap.max (v2)
	cgroupKill bool            // create v2's cgroup.kill (Linux 5.14+)
	omit       map[string]bool // interface files mkdir should not create
	busy       int             // fail this many rmdirs with EBUSY first, as the kernel tears down

	freezeSlow  int           // v1: writes of FROZEN that leave FREEZING
	freezeDelay time.Duration // v2: from cgroup.freeze 1 to "frozen 1"
	freezeStuck bool          // the freeze never completes

	killed      []int                // pids passed to kill
	groupKilled []string             // dirs emptied through cgroup.kill
	rmdirs      int                  // rmdir calls
	freezerOps  int                  // setFreezer calls
	attached    map[string]whitelist // v2: dir -> device policy attached
	// calls lists kills ("kill 10") and freezer writes
	// ("freezer.state THAWED") in order.
	calls []string
	mu    sync.Mutex // guards the v2 freezer's delayed write
}

const fakeUnlimitedV1 = "9223372036854771712"

// newFakeV2 returns a fake cgroup2 root with the usual controllers
// available and none enabled for children yet.
func newFakeV2(t *testing.T) (*Hierarchy, *fakeKernel) {
	t.Helper()
	k := &fakeKernel{t: t, root: t.TempDir(), version: V2, swap: true, omit: map[string]bool{}}
	k.writeFiles(k.root, map[string]string{
		"cgroup.controllers":     "cpuset cpu io memory hugetlb pids rdma misc",
		"cgroup.subtree_control": "",
		"cgroup.procs":           "1\n",
		"cpu.stat":               "usage_usec 1\n",
	})
	return &Hierarchy{Version: V2, Unified: k.root, ops: k.ops()}, k
}

// newFakeV1 returns fake v1 hierarchies. Each argument is one mount, with
// its controllers comma-joined: "memory", "cpu,cpuacct". A "devices"
// hierarchy is added unless one is given or "-devices" asks for none:
// every container needs it for its device policy.
func newFakeV1(t *testing.T, hierarchies ...string) (*Hierarchy, *fakeKernel) {
	t.Helper()
	if i := slices.Index(hierarchies, "-devices"); i >= 0 {
		hierarchies = slices.Delete(slices.Clone(hierarchies), i, i+1)
	} else if !slices.ContainsFunc(hierarchies, func(h string) bool { return slices.Contains(strings.Split(h, ","), "devices") }) {
		hierarchies = append(slices.Clone(hierarchies), "devices")
	}
	k := &fakeKernel{t: t, root: t.TempDir(), version: V1, swap: true,
		omit: map[string]bool{}, mounts: map[string][]string{}}
	h := &Hierarchy{Version: V1, Mounts: map[string]string{}, ops: k.ops()}
	for _, hier := range hierarchies {
		mnt := filepath.Join(k.root, hier)
		require.NoError(t, os.Mkdir(mnt, 0o755))
		ctrls := strings.Split(hier, ",")
		k.mounts[mnt] = ctrls
		for _, c := range ctrls {
			h.Mounts[c] = mnt
		}
		// The root cgroup's files; a root has no pids.max and no
		// memory.memsw limits of its own, but that does not matter here.
		k.writeFiles(mnt, k.v1Files(ctrls, "1", "0"))
		if slices.Contains(ctrls, "cpuset") {
			k.writeFile(filepath.Join(mnt, "cpuset.cpus"), "0-3\n")
			k.writeFile(filepath.Join(mnt, "cpuset.mems"), "0\n")
		}
		k.writeFile(filepath.Join(mnt, "cgroup.procs"), "1\n")
	}
	return h, k
}

func (k *fakeKernel) ops() ops {
	return ops{mkdir: k.mkdir, rmdir: k.rmdir, kill: k.kill, setFreezer: k.setFreezer,
		setDevices: k.setDevices, attachDevices: k.attachDevices}
}

func (k *fakeKernel) writeFile(path, content string) {
	k.t.Helper()
	require.NoError(k.t, os.WriteFile(path, []byte(content), 0o644))
}

func (k *fakeKernel) writeFiles(dir string, files map[string]string) {
	k.t.Helper()
	for name, content := range files {
		if !k.omit[name] {
			k.writeFile(filepath.Join(dir, name), content)
		}
	}
}

func (k *fakeKernel) read(path string) string {
	k.t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(k.t, err)
	return strings.TrimSpace(string(b))
}

func (k *fakeKernel) mkdir(path string) error {
	if err := os.Mkdir(path, 0o755); err != nil {
		return err
	}
	parent := filepath.Dir(path)
	if k.version == V2 {
		var enabled []string
		for _, f := range strings.Fields(k.read(filepath.Join(parent, "cgroup.subtree_control"))) {
			enabled = append(enabled, strings.TrimPrefix(f, "+"))
		}
		k.writeFiles(path, k.v2Files(enabled))
		return nil
	}
	for mnt, ctrls := range k.mounts {
		if strings.HasPrefix(path, mnt+"/") {
			// Inherited from the parent at creation, as in the kernel.
			useHier, oomOff := "1", "0"
			if slices.Contains(ctrls, "memory") {
				useHier = k.read(filepath.Join(parent, "memory.use_hierarchy"))
				m, err := readKeyed(parent, "memory.oom_control")
				require.NoError(k.t, err)
				oomOff = strconv.FormatInt(m["oom_kill_disable"], 10)
			}
			k.writeFiles(path, k.v1Files(ctrls, useHier, oomOff))
			return nil
		}
	}
	k.t.Fatalf("fake mkdir %s: not under any fake hierarchy", path)
	return nil
}

func (k *fakeKernel) v2Files(enabled []string) map[string]string {
	files := map[string]string{
		"cgroup.procs":           "",
		"cgroup.controllers":     strings.Join(enabled, " "),
		"cgroup.subtree_control": "",
		"cgroup.events":          "populated 0\nfrozen 0\n",
		"cgroup.freeze":          "0",
		"cpu.stat":               "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
	}
	if k.cgroupKill {
		files["cgroup.kill"] = ""
	}
	if slices.Contains(enabled, "memory") {
		files["memory.max"] = "max"
		files["memory.current"] = "0"
		files["memory.peak"] = "0"
		files["memory.low"] = "0"
		files["memory.high"] = "max"
		files["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"
		if k.swap {
			files["memory.swap.max"] = "max"
		}
	}
	if slices.Contains(enabled, "cpu") {
		files["cpu.max"] = "max 100000"
		files["cpu.weight"] = "100"
	}
	if slices.Contains(enabled, "io") {
		files["io.weight"] = "default 100"
		files["io.max"] = ""
	}
	if slices.Contains(enabled, "hugetlb") {
		files["hugetlb.2MB.max"] = "max"
		files["hugetlb.1GB.max"] = "max"
	}
	if slices.Contains(enabled, "cpuset") {
		files["cpuset.cpus"] = ""
		files["cpuset.mems"] = ""
	}
	if slices.Contains(enabled, "pids") {
		files["pids.max"] = "max"
		files["pids.current"] = "0"
	}
	return files
}

func (k *fakeKernel) v1Files(ctrls []string, useHierarchy, oomKillDisable string) map[string]string {
	files := map[string]string{"cgroup.procs": "", "tasks": "", "notify_on_release": "0"}
	for _, c := range ctrls {
		switch c {
		case "memory":
			files["memory.limit_in_bytes"] = fakeUnlimitedV1
			files["memory.usage_in_bytes"] = "0"
			files["memory.max_usage_in_bytes"] = "0"
			files["memory.failcnt"] = "0"
			files["memory.use_hierarchy"] = useHierarchy
			files["memory.oom_control"] = "oom_kill_disable " + oomKillDisable + "\nunder_oom 0\noom_kill 0\n"
			files["memory.soft_limit_in_bytes"] = fakeUnlimitedV1
			files["memory.swappiness"] = "60"
			files["memory.kmem.tcp.limit_in_bytes"] = fakeUnlimitedV1
			if k.swap {
				files["memory.memsw.limit_in_bytes"] = fakeUnlimitedV1
			}
		case "cpu":
			files["cpu.cfs_period_us"] = "100000"
			files["cpu.cfs_quota_us"] = "-1"
			files["cpu.shares"] = "1024"
			files["cpu.rt_period_us"] = "1000000"
			files["cpu.rt_runtime_us"] = "0"
		case "blkio":
			for _, f := range []string{"blkio.weight", "blkio.weight_device", "blkio.throttle.read_bps_device",
				"blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"} {
				files[f] = ""
			}
		case "hugetlb":
			files["hugetlb.2MB.limit_in_bytes"] = fakeUnlimitedV1
			files["hugetlb.1GB.limit_in_bytes"] = fakeUnlimitedV1
		case "net_cls":
			files["net_cls.classid"] = "0"
		case "net_prio":
			files["net_prio.ifpriomap"] = "lo 0"
		case "cpuacct":
			files["cpuacct.usage"] = "0"
		case "pids":
			files["pids.max"] = "max"
			files["pids.current"] = "0"
		case "cpuset": // empty in a new cgroup (inheritCpuset)
			files["cpuset.cpus"] = ""
			files["cpuset.mems"] = ""
		case "freezer":
			files["freezer.state"] = "THAWED"
			files["freezer.self_freezing"] = "0"
			files["freezer.parent_freezing"] = "0"
		case "devices":
			files["devices.allow"] = ""
			files["devices.deny"] = ""
			files["devices.list"] = "a *:* rwm" // copied from the parent
		}
	}
	return files
}

func (k *fakeKernel) rmdir(path string) error {
	k.rmdirs++
	busy := &fs.PathError{Op: "rmdir", Path: path, Err: unix.EBUSY}
	entries, err := os.ReadDir(path)
	if err != nil {
		return &fs.PathError{Op: "rmdir", Path: path, Err: unix.ENOENT}
	}
	if k.read(filepath.Join(path, "cgroup.procs")) != "" && exists(path, "cgroup.kill") &&
		k.read(filepath.Join(path, "cgroup.kill")) == "1" {
		k.groupKilled = append(k.groupKilled, path)
		k.writeFile(filepath.Join(path, "cgroup.procs"), "")
	}
	if k.busy > 0 {
		k.busy--
		return busy
	}
	for _, e := range entries {
		if e.IsDir() {
			return busy // a child cgroup
		}
	}
	if k.read(filepath.Join(path, "cgroup.procs")) != "" {
		return busy
	}
	return os.RemoveAll(path)
}

func (k *fakeKernel) kill(pid int) error {
	k.killed = append(k.killed, pid)
	k.calls = append(k.calls, "kill "+strconv.Itoa(pid))
	return filepath.WalkDir(k.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "cgroup.procs" {
			return err
		}
		var keep []string
		for _, f := range strings.Fields(k.read(path)) {
			if f != strconv.Itoa(pid) {
				keep = append(keep, f)
			}
		}
		k.writeFile(path, strings.Join(keep, "\n"))
		return nil
	})
}

func (k *fakeKernel) setFreezer(dir, name, value string) error {
	k.freezerOps++
	k.calls = append(k.calls, name+" "+value)
	if !exists(dir, name) {
		return writeString(dir, name, value) // fails as the kernel would
	}
	switch {
	case name == "freezer.state" && value == "FROZEN":
		if k.freezeStuck || k.freezeSlow > 0 {
			k.freezeSlow--
			value = "FREEZING"
		}
	case name == "cgroup.freeze":
		k.mu.Lock()
		defer k.mu.Unlock()
		frozen := "0"
		if value == "1" {
			if k.freezeStuck {
				break
			}
			if k.freezeDelay > 0 {
				time.AfterFunc(k.freezeDelay, func() { k.setEvent(dir, "frozen", "1") })
				break
			}
			frozen = "1"
		}
		k.setEventLocked(dir, "frozen", frozen)
	}
	return writeString(dir, name, value)
}

// setEvent sets key in dir/cgroup.events, atomically (by rename): the
// code under test may be reading it from another goroutine.
func (k *fakeKernel) setEvent(dir, key, value string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.setEventLocked(dir, key, value)
}

func (k *fakeKernel) setEventLocked(dir, key, value string) {
	path := filepath.Join(dir, "cgroup.events")
	b, err := os.ReadFile(path)
	if err != nil {
		return // removed meanwhile
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, _, _ := strings.Cut(line, " "); k != key {
			lines = append(lines, line)
		}
	}
	lines = append(lines, key+" "+value)
	tmp := path + ".tmp"
	if os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o644) == nil {
		_ = os.Rename(tmp, path)
	}
}

func (k *fakeKernel) setDevices(dir, name string, rules []string) error {
	for _, r := range rules {
		k.calls = append(k.calls, name+" "+r)
		if err := writeString(dir, name, r); err != nil { // fails as the kernel would if missing
			return err
		}
	}
	return nil
}

func (k *fakeKernel) attachDevices(dir string, w whitelist) error {
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return err
	}
	if k.attached == nil {
		k.attached = map[string]whitelist{}
	}
	k.attached[dir] = w
	return nil
}
