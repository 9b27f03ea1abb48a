package probe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// NestedArg is the argument with which Report re-executes the probe to
// try a mount in a new user namespace: the program's main must call
// NestedMount when it sees it as its first argument.
const NestedArg = "nested-mount"

// Report writes the probe's report to w. self is the probe's own
// executable, re-executed for the nested user namespace check.
func Report(w io.Writer, self string) error {
	r := &report{}
	r.identity()
	r.status()
	r.limits()
	r.syscalls(self)
	r.devices()
	r.devDir()
	r.mounts()
	r.paths()
	r.sysctls()
	r.cgroups()
	_, err := io.WriteString(w, strings.Join(r.lines, "\n")+"\n")
	return err
}

// report collects the lines. A fact that cannot be read is a line too
// ("unreadable: ..."): a difference in what can be read is a difference.
type report struct{ lines []string }

func (r *report) add(section, format string, args ...any) {
	r.lines = append(r.lines, section+" "+fmt.Sprintf(format, args...))
}

// identity: the user, the group, the supplementary groups and the umask.
func (r *report) identity() {
	r.add("id", "uid=%d euid=%d gid=%d egid=%d", os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid())
	groups, err := os.Getgroups()
	if err != nil {
		r.add("id", "groups: %v", err)
		return
	}
	slices.Sort(groups)
	r.add("id", "groups=%v", groups)
}

// statusKeys are the lines of /proc/self/status that tell what confines
// the process.
var statusKeys = []string{"Umask", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters"}

func (r *report) status() {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		r.add("status", "unreadable: %v", err)
		return
	}
	fields := map[string]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	for _, k := range statusKeys {
		r.add("status", "%s=%s", k, fields[k])
	}
}

// rlimits are the resource limits by their docker --ulimit names.
var rlimits = []struct {
	name string
	res  int
}{
	{"as", unix.RLIMIT_AS}, {"core", unix.RLIMIT_CORE}, {"cpu", unix.RLIMIT_CPU},
	{"data", unix.RLIMIT_DATA}, {"fsize", unix.RLIMIT_FSIZE}, {"locks", unix.RLIMIT_LOCKS},
	{"memlock", unix.RLIMIT_MEMLOCK}, {"msgqueue", unix.RLIMIT_MSGQUEUE}, {"nice", unix.RLIMIT_NICE},
	{"nofile", unix.RLIMIT_NOFILE}, {"nproc", unix.RLIMIT_NPROC}, {"rss", unix.RLIMIT_RSS},
	{"rtprio", unix.RLIMIT_RTPRIO}, {"rttime", unix.RLIMIT_RTTIME}, {"sigpending", unix.RLIMIT_SIGPENDING},
	{"stack", unix.RLIMIT_STACK},
}

func (r *report) limits() {
	for _, l := range rlimits {
		var lim unix.Rlimit
		if err := unix.Getrlimit(l.res, &lim); err != nil {
			r.add("rlimit", "%s: %v", l.name, err)
			continue
		}
		r.add("rlimit", "%s=%s:%s", l.name, limit(lim.Cur), limit(lim.Max))
	}
	adj, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		r.add("rlimit", "oom_score_adj: %v", err)
		return
	}
	r.add("rlimit", "oom_score_adj=%s", strings.TrimSpace(string(adj)))
}

func limit(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// verdict names what a system call answered: EPERM (or ENOSYS, which
// Docker's profile returns for clone3) when a filter or a capability
// check refused it, "allowed" for any other answer, failures included:
// the arguments are chosen to fail harmlessly once let through.
func verdict(err error) string {
	switch {
	case errors.Is(err, unix.EPERM):
		return "EPERM"
	case errors.Is(err, unix.ENOSYS):
		return "ENOSYS"
	}
	return "allowed"
}

func (r *report) syscalls(self string) {
	// keyctl: the ID of the session keyring, without creating one.
	// Keyrings belong to users, not to namespaces: when the filter lets
	// keyctl through, the session keyring must be the container's own,
	// not the daemon's (whose keys its container could then read).
	id, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
	r.add("syscall", "keyctl %s%s", verdict(err), sessionKeyring(id, err))
	// add_key of a type no kernel has: ENODEV once allowed.
	_, err = unix.AddKey("berth-probe-no-such-type", "probe", nil, unix.KEY_SPEC_PROCESS_KEYRING)
	r.add("syscall", "add_key %s", verdict(err))
	// perf_event_open of an event type no kernel has.
	attr := unix.PerfEventAttr{Type: 0x7fffffff, Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{}))}
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, 0)
	if err == nil {
		unix.Close(fd)
	}
	r.add("syscall", "perf_event_open %s", verdict(err))
	// unshare -U, then a mount inside: a child in a new user and mount
	// namespace (clone, as unshare(2) refuses a multithreaded caller).
	r.add("syscall", "%s", nested(self))
}

// sessionKeyring describes the session keyring with ID id: its owner,
// permissions and name, the name without what follows its first dot
// (an engine names a container's keyring after the container).
func sessionKeyring(id int, err error) string {
	if err != nil {
		if verdict(err) == "allowed" {
			return ", session keyring " + errnoName(err)
		}
		return ""
	}
	desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		return ", session keyring " + errnoName(err)
	}
	// type;uid;gid;perm;description
	f := strings.SplitN(desc, ";", 5)
	if len(f) < 5 {
		return ", session keyring " + desc
	}
	name, _, _ := strings.Cut(f[4], ".")
	return fmt.Sprintf(", session keyring %s uid=%s gid=%s perm=%s", name, f[1], f[2], f[3])
}

// nested starts the probe again in a new user and mount namespace, where
// it tries to mount a tmpfs (NestedMount): the way out of a container
// that seccomp's clone filter exists to close.
func nested(self string) string {
	attr := &syscall.ProcAttr{
		Files: []uintptr{0, 1, 2},
		// Root in the new namespace is the probe's own user, the one
		// mapping an unprivileged process may write: without it the
		// exec would drop every capability the namespace gives.
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		},
	}
	pid, err := syscall.ForkExec(self, []string{self, NestedArg}, attr)
	if err != nil {
		return "unshare-user " + verdict(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return "unshare-user allowed, wait: " + err.Error()
	}
	if ws.ExitStatus() == 0 {
		return "unshare-user allowed, nested-mount allowed"
	}
	return "unshare-user allowed, nested-mount " + verdict(syscall.Errno(ws.ExitStatus()))
}

// NestedMount runs in the child that nested started: it mounts a tmpfs
// on /dev in its own mount namespace (the container's stays as it was)
// and returns the errno as the exit status the parent reads.
func NestedMount() int {
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", 0, ""); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return int(errno)
		}
		return 255
	}
	return 0
}

// device is a host device that a container should not reach, or should.
type device struct {
	name         string
	mode         uint32 // unix.S_IFCHR or S_IFBLK
	major, minor uint32
	write        bool // harmless to write to
}

// probedDevices: the default allowlist's, the ones the issue found open
// under berth, and two disks.
var probedDevices = []device{
	{"null", unix.S_IFCHR, 1, 3, true},
	{"zero", unix.S_IFCHR, 1, 5, true},
	{"full", unix.S_IFCHR, 1, 7, true},
	{"urandom", unix.S_IFCHR, 1, 9, false},
	{"tun", unix.S_IFCHR, 10, 200, false},
	{"mem", unix.S_IFCHR, 1, 1, false},
	{"kmsg", unix.S_IFCHR, 1, 11, false},
	{"tty0", unix.S_IFCHR, 4, 0, false},
	{"vcs", unix.S_IFCHR, 7, 0, false},
	{"hwrng", unix.S_IFCHR, 10, 183, false},
	{"kvm", unix.S_IFCHR, 10, 232, false},
	{"loop-control", unix.S_IFCHR, 10, 237, false},
	{"cpu_dma_latency", unix.S_IFCHR, 10, 259, false},
	{"vsock", unix.S_IFCHR, 10, 258, false},
	{"loop0", unix.S_IFBLK, 7, 0, false},
	{"vda", unix.S_IFBLK, 254, 0, false},
}

// devices makes a node for each probed device in a directory of /dev
// (the one filesystem of the container that allows device nodes) and
// opens it: mknod tells what the capabilities allow, open what the
// device cgroup allows.
func (r *report) devices() {
	dir := fmt.Sprintf("/dev/.berth-probe-%d", os.Getpid())
	if err := os.Mkdir(dir, 0o700); err != nil {
		r.add("device", "mkdir /dev: %v", verdict(err))
		return
	}
	defer os.RemoveAll(dir)
	for _, d := range probedDevices {
		path := filepath.Join(dir, d.name)
		err := unix.Mknod(path, d.mode|0o600, int(unix.Mkdev(d.major, d.minor)))
		if err != nil {
			r.add("device", "%s mknod=%s", d.name, errnoName(err))
			continue
		}
		r.add("device", "%s mknod=ok %s", d.name, openNode(path, d.mode == unix.S_IFBLK, d.write))
	}
}

// openNode opens a device node, for writing unless it is a disk: the
// device cgroup checks the access at open. O_NONBLOCK and O_NOCTTY keep
// a terminal from blocking or becoming ours.
func openNode(path string, block, write bool) string {
	flags := unix.O_WRONLY
	if block {
		flags = unix.O_RDONLY
	}
	fd, err := unix.Open(path, flags|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "open=" + errnoName(err)
	}
	defer unix.Close(fd)
	if !write {
		return "open=ok"
	}
	_, err = unix.Write(fd, []byte("x"))
	return "open=ok write=" + errnoName(err)
}

// errnoName is "ok" for nil, the errno's name (EPERM) for an errno, the
// error's text otherwise.
func errnoName(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
	}
	return err.Error()
}

// devDir lists /dev and /dev/pts: each entry's type, mode, owner and
// device numbers or link target.
func (r *report) devDir() {
	for _, dir := range []string{"/dev", "/dev/pts"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			r.add("dev", "%s: %v", dir, err)
			continue
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			var st unix.Stat_t
			if err := unix.Lstat(path, &st); err != nil {
				r.add("dev", "%s: %v", path, err)
				continue
			}
			desc := fmt.Sprintf("%s %c%04o %d:%d", path, typeChar(st.Mode), st.Mode&0o7777, st.Uid, st.Gid)
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFCHR, unix.S_IFBLK:
				desc += fmt.Sprintf(" %d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
			case unix.S_IFLNK:
				target, _ := os.Readlink(path)
				desc += " -> " + target
			}
			r.add("dev", "%s", desc)
		}
	}
}

func typeChar(mode uint32) byte {
	switch mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return 'c'
	case unix.S_IFBLK:
		return 'b'
	case unix.S_IFDIR:
		return 'd'
	case unix.S_IFLNK:
		return 'l'
	case unix.S_IFIFO:
		return 'p'
	case unix.S_IFSOCK:
		return 's'
	}
	return '-'
}

// mounts prints each mount but the root and the probe's own, with its
// filesystem type and options. The root's options name host paths
// (overlay's lowerdir), so only its type and flags are printed. The
// lines are sorted: the order two engines mount things in does not
// matter, what is mounted does.
func (r *report) mounts() {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		r.add("mount", "unreadable: %v", err)
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 6 || len(tail) < 3 {
			continue
		}
		point, opts := fields[4], fields[5]
		fstype, super := tail[0], tail[2]
		switch {
		case point == "/probe" || strings.HasPrefix(point, "/probe/"):
			continue
		case point == "/":
			super = ""
		case fstype != "tmpfs" && fstype != "devpts" && fstype != "mqueue" && fstype != "proc" && fstype != "sysfs" && !strings.HasPrefix(fstype, "cgroup"):
			super = "" // a bind of a host file: its super options are the host's
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %s", point, fstype, opts, dropInodes(super)))
	}
	if err := sc.Err(); err != nil {
		r.add("mount", "unreadable: %v", err)
		return
	}
	slices.Sort(lines)
	for _, l := range lines {
		r.add("mount", "%s", strings.TrimSpace(l))
	}
}

// dropInodes removes tmpfs's inode64, which depends on how the kernel
// was built, not on the engine.
func dropInodes(super string) string {
	opts := strings.Split(super, ",")
	opts = slices.DeleteFunc(opts, func(o string) bool { return o == "inode64" })
	return strings.Join(opts, ",")
}

// maskedPaths and readonlyPaths are Docker's lists (the union of 20.10's
// and later ones): a path that a container should see empty, and one it
// should not write to.
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/sys",
		"/proc/sys/net",
	}
)

// paths tells, for each masked path, what the container sees there, and
// for each read-only path whether it is mounted read-only.
func (r *report) paths() {
	for _, p := range maskedPaths {
		r.add("path", "%s %s", p, masked(p))
	}
	for _, p := range readonlyPaths {
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err != nil {
			r.add("path", "%s %s", p, errnoName(err))
			continue
		}
		state := "rw"
		if st.Flags&unix.ST_RDONLY != 0 {
			state = "ro"
		}
		r.add("path", "%s %s", p, state)
	}
}

// masked describes what is at p: absent, /dev/null over a file, an empty
// read-only directory, or something readable.
func masked(p string) string {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return errnoName(err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 3 {
		return "masked (/dev/null)"
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		entries, err := os.ReadDir(p)
		if err != nil {
			return "directory, " + errnoName(err)
		}
		if len(entries) == 0 {
			var fs unix.Statfs_t
			if unix.Statfs(p, &fs) == nil && fs.Flags&unix.ST_RDONLY != 0 {
				return "masked (empty, read-only)"
			}
			return "empty directory"
		}
		return "visible directory"
	}
	f, err := os.Open(p)
	if err != nil {
		return "file, " + errnoName(err)
	}
	defer f.Close()
	n, _ := f.Read(make([]byte, 1))
	if n == 0 {
		return "file, empty"
	}
	return "visible file"
}

// sysctlKeys are namespaced kernel parameters whose values an engine
// sets (Docker sets the first two for a container with its own network)
// or --sysctl may change.
var sysctlKeys = []string{
	"net/ipv4/ip_unprivileged_port_start", "net/ipv4/ping_group_range",
	"net/ipv4/ip_forward", "net/core/somaxconn",
	"kernel/shmmax", "kernel/msgmax", "kernel/sem", "fs/mqueue/msg_max",
}

func (r *report) sysctls() {
	for _, k := range sysctlKeys {
		v, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			r.add("sysctl", "%s: %s", k, errnoName(err))
			continue
		}
		r.add("sysctl", "%s=%s", strings.ReplaceAll(k, "/", "."), strings.Join(strings.Fields(string(v)), " "))
	}
}

// cgroups prints, for each hierarchy of /proc/self/cgroup, whether the
// container sees its cgroup as the root ("/", a private cgroup
// namespace) or as a path below it (the host's cgroup namespace), but
// not the path, which names the container; then what /sys/fs/cgroup
// holds.
func (r *report) cgroups() {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		r.add("cgroupns", "unreadable: %v", err)
	} else {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			// 4:memory:/docker/ID: hierarchy ID, controllers, path.
			i := strings.LastIndexByte(line, ':')
			where := "nested"
			if line[i+1:] == "/" {
				where = "root"
			}
			r.add("cgroupns", "%s %s", line[:i], where)
		}
	}
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		r.add("cgroup", "/sys/fs/cgroup: %s", errnoName(err))
		return
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	r.add("cgroup", "/sys/fs/cgroup: %s", strings.Join(names, " "))
	// The limits, as the container reads them from its own cgroups: on
	// v1 in each controller's hierarchy, on v2 in the one directory.
	for _, l := range []struct{ name, v1, v2 string }{
		{"memory", "memory/memory.limit_in_bytes", "memory.max"},
		{"memory+swap", "memory/memory.memsw.limit_in_bytes", "memory.swap.max"},
		{"cpu quota", "cpu/cpu.cfs_quota_us", "cpu.max"},
		{"cpu period", "cpu/cpu.cfs_period_us", ""},
		{"pids", "pids/pids.max", "pids.max"},
	} {
		for _, f := range []string{l.v1, l.v2} {
			if f == "" {
				continue
			}
			if v, err := os.ReadFile("/sys/fs/cgroup/" + f); err == nil {
				r.add("cgroup", "%s limit %s", l.name, strings.TrimSpace(string(v)))
			}
		}
	}
}
