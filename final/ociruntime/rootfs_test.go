package ociruntime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
)

// The privileged tests run Prepare and Pivot in a child: this test
// binary again, started in new mount, PID, cgroup, IPC and UTS
// namespaces (and a user namespace for the device test), which finds
// probeEnv set and acts as a container's init would, up to the command.
// It prints what it then sees (probeReport) and exits: its mount
// namespace goes with it. A package init() rather than TestMain, so that
// this file does not compete with the package's other tests for it.
const probeEnv = "BERTH_OCIRUNTIME_ROOTFS_PROBE"

func init() {
	if os.Getenv(probeEnv) == "1" {
		os.Exit(probeChild())
	}
}

// probeRequest is what the child is asked: a Rootfs to set up, then
// files to look at.
type probeRequest struct {
	Rootfs *Rootfs `json:"rootfs"`
	Stat   []string
	Read   []string
	Write  []string // files to create (or open for writing)
}

// fileInfo is one lstat.
type fileInfo struct {
	Mode         uint32 // S_IFMT and permission bits
	Major, Minor uint32
	UID, GID     uint32
	Link         string // a symlink's target
	Err          string
}

// probeReport is what the child saw inside the finished root.
type probeReport struct {
	Mountinfo string
	Stat      map[string]fileInfo
	Read      map[string]string
	Write     map[string]string // "" when the write worked, else the error
	Root      []string          // the names in /
	// How long Prepare and Pivot took: logged, for the record.
	Prepare, Pivot time.Duration
}

// probeChild is the child's side.
func probeChild() int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "probe: %v\n", err)
		return 1
	}
	var req probeRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return fail(err)
	}
	// What chapter 01's Setup does first.
	if err := namespace.MakeMountsPrivate(); err != nil {
		return fail(err)
	}
	start := time.Now()
	if err := req.Rootfs.Prepare(); err != nil {
		return fail(fmt.Errorf("prepare: %w", err))
	}
	prepared := time.Now()
	if err := req.Rootfs.Pivot(); err != nil {
		return fail(fmt.Errorf("pivot: %w", err))
	}
	rep := probeReport{Stat: map[string]fileInfo{}, Read: map[string]string{}, Write: map[string]string{},
		Prepare: prepared.Sub(start), Pivot: time.Since(prepared)}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fail(err)
	}
	rep.Mountinfo = string(mi)
	for _, p := range req.Stat {
		var st unix.Stat_t
		fi := fileInfo{}
		if err := unix.Lstat(p, &st); err != nil {
			fi.Err = err.Error()
		} else {
			fi = fileInfo{Mode: st.Mode, Major: unix.Major(st.Rdev), Minor: unix.Minor(st.Rdev), UID: st.Uid, GID: st.Gid}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK {
				fi.Link, _ = os.Readlink(p)
			}
		}
		rep.Stat[p] = fi
	}
	for _, p := range req.Read {
		b, err := os.ReadFile(p)
		if err != nil {
			rep.Read[p] = "error: " + err.Error()
		} else {
			rep.Read[p] = string(b)
		}
	}
	for _, p := range req.Write {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
		if err == nil {
			err = f.Close()
		}
		rep.Write[p] = ""
		if err != nil {
			rep.Write[p] = err.Error()
		}
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return fail(err)
	}
	for _, e := range entries {
		rep.Root = append(rep.Root, e.Name())
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return fail(err)
	}
	return 0
}

// childFlags are the namespaces of a probe child: those of a container
// (no network namespace, which sysfs does not need outside a user
// namespace, and which costs time).
const childFlags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWCGROUP | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

// probe runs req in a child and returns what it saw. attr adds to the
// child's SysProcAttr (a user namespace).
func probe(t *testing.T, req probeRequest, attr *syscall.SysProcAttr) probeReport {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	in, err := json.Marshal(req)
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), probeEnv+"=1")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Cloneflags |= childFlags
	attr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr = attr
	err = cmd.Run()
	require.NoError(t, err, "probe child: stderr:\n%s", stderr.String())
	var rep probeReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), "probe output %q", stdout.String())
	return rep
}

// runcSpec is config.json as `runc spec` writes it (the mounts, masked
// and read-only paths, namespaces), for the root root.
func runcSpec(root string) *specs.Spec {
	return &specs.Spec{
		Root:    &specs.Root{Path: root},
		Process: &specs.Process{Args: []string{"sh"}},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
				"/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// mountEntry is one line of mountinfo, as the tests read it.
type mountEntry struct {
	Point, Options, Optional, FSType, Source, Super string
}

// mountTable maps each mount point to its last (topmost) mount.
func mountTable(t *testing.T, text string) map[string]mountEntry {
	t.Helper()
	out := map[string]mountEntry{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := slices.Index(f, "-")
		require.True(t, sep >= 6 && len(f) >= sep+4, "mountinfo line %q", sc.Text())
		out[f[4]] = mountEntry{Point: f[4], Options: f[5], Optional: strings.Join(f[6:sep], " "),
			FSType: f[sep+1], Source: f[sep+2], Super: f[sep+3]}
	}
	return out
}

// hasOpt reports whether the comma-separated list has o.
func hasOpt(list, o string) bool { return slices.Contains(strings.Split(list, ","), o) }

// hostMounts is the host's mount table as far as these tests could leak
// into it: the system trees and dir. Other packages' tests, running in
// parallel, mount elsewhere.
func hostMounts(t *testing.T, dir string) []string {
	t.Helper()
	var mine []string
	for _, m := range labtest.Mounts(t) {
		if m == "/" || under(m, "/proc") || under(m, "/sys") || under(m, "/dev") || under(m, dir) {
			mine = append(mine, m)
		}
	}
	return mine
}

// fixture is a bundle holding a copy of the busybox rootfs, with a few
// files of the test's own in the image and on the "host".
type fixture struct {
	bundle, root string
	hostDir      string // a host directory to bind
	hostFile     string // a host file to bind
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	labtest.Privileged(t)
	f := fixture{bundle: t.TempDir()}
	f.root = filepath.Join(f.bundle, "rootfs")
	src := labtest.BusyboxRootfs(t)
	out, err := exec.Command("cp", "-a", src, f.root).CombinedOutput()
	require.NoError(t, err, "%s", out)
	write := func(p, s string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
	}
	write(filepath.Join(f.root, "etc/secret"), "the image's secret\n")
	write(filepath.Join(f.root, "secretdir/inside"), "hidden\n")
	write(filepath.Join(f.root, "rodir/file"), "read me\n")
	write(filepath.Join(f.root, "opt/app/conf"), "copied up\n")
	require.NoError(t, os.Symlink("conf", filepath.Join(f.root, "opt/app/link")))
	require.NoError(t, os.Chmod(filepath.Join(f.root, "opt/app"), 0o751))
	// Masked and read-only paths that are symlinks: to a directory, to
	// a file, to nothing.
	require.NoError(t, os.Symlink("secretdir", filepath.Join(f.root, "maskdirlink")))
	require.NoError(t, os.Symlink("/rodir/file", filepath.Join(f.root, "rofilelink")))
	require.NoError(t, os.Symlink("/nothing", filepath.Join(f.root, "dangling")))
	// A symlink in the image that leads out of the root, were it
	// followed on the host: mounts through it must land inside.
	require.NoError(t, os.Symlink("/../../../../../tmp", filepath.Join(f.root, "escape")))
	f.hostDir = filepath.Join(f.bundle, "hostdir")
	write(filepath.Join(f.hostDir, "data"), "host data\n")
	f.hostFile = filepath.Join(f.bundle, "hostfile")
	write(f.hostFile, "host file\n")
	return f
}

func TestPrepareAndPivot(t *testing.T) {
	f := newFixture(t)
	before := hostMounts(t, f.bundle)

	spec := runcSpec("rootfs")
	spec.Root.Readonly = true
	spec.Process.Terminal = true
	spec.Linux.RootfsPropagation = "shared"
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/data", Type: "bind", Source: "hostdir", Options: []string{"rbind", "ro", "nosuid", "rprivate"}},
		specs.Mount{Destination: "/rwdata", Type: "none", Source: f.hostDir, Options: []string{"bind", "nodev", "noexec", "unbindable"}},
		specs.Mount{Destination: "/etc/hostfile", Type: "bind", Source: f.hostFile, Options: []string{"rbind", "rro"}},
		specs.Mount{Destination: "/opt/app", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "nosuid", "size=1m"}},
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777", "rshared"}},
		specs.Mount{Destination: "/ro-tmpfs/sub", Type: "tmpfs", Options: []string{"ro", "noatime"}},
		specs.Mount{Destination: "/escape/inside", Type: "tmpfs", Options: []string{"size=1k"}},
	)
	fileMode := os.FileMode(0o620)
	uid, gid := uint32(7), uint32(8)
	spec.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/myfull", Type: "c", Major: 1, Minor: 7, FileMode: &fileMode, UID: &uid, GID: &gid},
		{Path: "/dev/sub/mypipe", Type: "p"},
	}
	spec.Linux.MaskedPaths = append(spec.Linux.MaskedPaths, "/etc/secret", "/maskdirlink", "/not/there", "/dangling")
	spec.Linux.ReadonlyPaths = append(spec.Linux.ReadonlyPaths, "/rofilelink", "/rodir", "/not/there/either", "/dangling")

	r, err := NewRootfs(spec, f.bundle, false)
	require.NoError(t, err)
	rep := probe(t, probeRequest{
		Rootfs: r,
		Stat: []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/myfull",
			"/dev/sub/mypipe", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/ptmx", "/dev/console",
			"/etc/secret", "/opt/app", "/opt/app/link", "/tmp", "/dev/shm"},
		Read: []string{"/data/data", "/etc/hostfile", "/opt/app/conf", "/etc/secret", "/rodir/file", "/proc/self/cgroup"},
		Write: []string{"/data/new", "/rwdata/new", "/etc/hostfile", "/opt/app/new", "/tmp/new", "/newfile", "/rodir/new",
			"/proc/sys/kernel/hostname", "/sys/kernel/uevent_helper", "/dev/shm/new", "/dev/new", "/ro-tmpfs/sub/new", "/secretdir/new"},
	}, nil)
	mounts := mountTable(t, rep.Mountinfo)
	t.Logf("Prepare %v, Pivot %v (%d mounts, %d devices)", rep.Prepare, rep.Pivot, len(r.Mounts), len(r.Devices))

	// The root: the image, read-only, shared as rootfsPropagation says.
	assert.Contains(t, rep.Root, "secretdir")
	assert.Contains(t, rep.Root, "bin")
	require.Contains(t, mounts, "/")
	assert.True(t, hasOpt(mounts["/"].Options, "ro"), "root %+v", mounts["/"])
	assert.Contains(t, mounts["/"].Optional, "shared:", "root %+v", mounts["/"])
	assert.Contains(t, rep.Write["/newfile"], "read-only file system")

	// config.json's mounts, with their types and flags.
	for point, want := range map[string]struct{ fstype, opts, super string }{
		"/proc":         {"proc", "rw", ""},
		"/dev":          {"tmpfs", "rw,nosuid", "mode=755"},
		"/dev/pts":      {"devpts", "rw,nosuid,noexec", "gid=5,mode=620,ptmxmode=666"},
		"/dev/shm":      {"tmpfs", "rw,nosuid,nodev,noexec", "size=65536k"},
		"/dev/mqueue":   {"mqueue", "rw,nosuid,nodev,noexec", ""},
		"/sys":          {"sysfs", "ro,nosuid,nodev,noexec", ""},
		"/data":         {"", "ro,nosuid", ""},
		"/rwdata":       {"", "rw,nodev,noexec", ""},
		"/etc/hostfile": {"", "ro", ""},
		"/opt/app":      {"tmpfs", "rw,nosuid", "size=1024k"},
		"/tmp":          {"tmpfs", "rw,nosuid,nodev", ""},
		"/ro-tmpfs/sub": {"tmpfs", "ro,noatime", ""},
		"/tmp/inside":   {"tmpfs", "rw", "size=4k"},
	} {
		m, ok := mounts[point]
		if !assert.True(t, ok, "no mount on %s in\n%s", point, rep.Mountinfo) {
			continue
		}
		if want.fstype != "" {
			assert.Equal(t, want.fstype, m.FSType, point)
		}
		for _, o := range strings.Split(want.opts, ",") {
			assert.True(t, hasOpt(m.Options, o), "%s: %q lacks %s", point, m.Options, o)
		}
		for _, o := range strings.Split(want.super, ",") {
			if o != "" {
				assert.True(t, hasOpt(m.Super, o), "%s: %q lacks %s", point, m.Super, o)
			}
		}
	}
	assert.True(t, hasOpt(mounts["/dev"].Options, "nosuid") && !hasOpt(mounts["/dev"].Options, "noexec"))
	// strictatime shows as the absence of relatime and noatime.
	assert.False(t, hasOpt(mounts["/dev"].Options, "relatime") || hasOpt(mounts["/dev"].Options, "noatime"), "/dev %q", mounts["/dev"].Options)
	assert.True(t, hasOpt(mounts["/proc"].Options, "rw"))
	// The cgroups: this machine's, read-only (on a v1 host the tmpfs
	// that holds them is writable, as runc's), in the container's own
	// cgroup namespace (its cgroup is "/").
	var cgroupMounts int
	for p, m := range mounts {
		if under(p, "/sys/fs/cgroup") && (m.FSType == "cgroup" || m.FSType == "cgroup2") {
			cgroupMounts++
			assert.True(t, hasOpt(m.Options, "ro"), "%s %q", p, m.Options)
		}
	}
	assert.NotZero(t, cgroupMounts, "no cgroup mount under /sys/fs/cgroup:\n%s", rep.Mountinfo)
	for _, line := range strings.Split(strings.TrimSpace(rep.Read["/proc/self/cgroup"]), "\n") {
		assert.True(t, strings.HasSuffix(line, ":/"), "cgroup line %q: not the namespace's root", line)
	}
	// Propagation options.
	assert.Contains(t, mounts["/tmp"].Optional, "shared:")
	assert.Contains(t, mounts["/rwdata"].Optional, "unbindable")
	assert.NotContains(t, mounts["/data"].Optional, "shared:")
	// The symlink "escape" -> /../../../../../tmp was resolved inside
	// the root: the tmpfs is on the container's /tmp (the tmpfs mounted
	// there before), not on the host's /tmp.
	assert.NotContains(t, mounts, "/escape/inside")
	assert.Contains(t, mounts["/tmp/inside"].Optional, "shared:", "under the rshared /tmp")
	assert.NotEqual(t, mounts["/tmp"].Optional, mounts["/tmp/inside"].Optional, "a peer group of its own")

	// Binds: contents, writability.
	assert.Equal(t, "host data\n", rep.Read["/data/data"])
	assert.Equal(t, "host file\n", rep.Read["/etc/hostfile"])
	assert.Contains(t, rep.Write["/data/new"], "read-only file system")
	assert.Contains(t, rep.Write["/etc/hostfile"], "read-only file system")
	assert.Empty(t, rep.Write["/rwdata/new"])
	assert.FileExists(t, filepath.Join(f.hostDir, "new"), "the writable bind writes to the host's directory")
	// tmpcopyup: the image's files, in a writable tmpfs, with the
	// covered directory's mode.
	assert.Equal(t, "copied up\n", rep.Read["/opt/app/conf"])
	assert.Equal(t, "conf", rep.Stat["/opt/app/link"].Link)
	assert.Equal(t, uint32(unix.S_IFDIR|0o751), rep.Stat["/opt/app"].Mode)
	assert.Empty(t, rep.Write["/opt/app/new"])
	assert.NoFileExists(t, filepath.Join(f.root, "opt/app/new"), "the copy-up is in the tmpfs, not the image")
	assert.Equal(t, uint32(unix.S_IFDIR|0o1777), rep.Stat["/tmp"].Mode)
	assert.Equal(t, uint32(unix.S_IFDIR|0o1777), rep.Stat["/dev/shm"].Mode)
	assert.Empty(t, rep.Write["/tmp/new"])
	assert.Empty(t, rep.Write["/dev/shm/new"])
	assert.Empty(t, rep.Write["/dev/new"])
	assert.Contains(t, rep.Write["/ro-tmpfs/sub/new"], "read-only file system")

	// Devices: the defaults, linux.devices with their modes and owners.
	for p, want := range map[string][2]uint32{"/dev/null": {1, 3}, "/dev/zero": {1, 5}, "/dev/full": {1, 7},
		"/dev/random": {1, 8}, "/dev/urandom": {1, 9}, "/dev/tty": {5, 0}} {
		st := rep.Stat[p]
		assert.Equal(t, uint32(unix.S_IFCHR|0o666), st.Mode, "%s %+v", p, st)
		assert.Equal(t, want, [2]uint32{st.Major, st.Minor}, p)
	}
	assert.Equal(t, fileInfo{Mode: unix.S_IFCHR | 0o620, Major: 1, Minor: 7, UID: 7, GID: 8}, rep.Stat["/dev/myfull"])
	assert.Equal(t, uint32(unix.S_IFIFO|0o666), rep.Stat["/dev/sub/mypipe"].Mode)
	for p, target := range map[string]string{"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2", "/dev/ptmx": "pts/ptmx"} {
		assert.Equal(t, target, rep.Stat[p].Link, p)
	}
	// process.terminal: an empty /dev/console for init to bind onto.
	assert.Equal(t, uint32(unix.S_IFREG), rep.Stat["/dev/console"].Mode&unix.S_IFMT)

	// Masked and read-only paths.
	st := rep.Stat["/etc/secret"]
	assert.Equal(t, [3]uint32{unix.S_IFCHR, 1, 3}, [3]uint32{st.Mode & unix.S_IFMT, st.Major, st.Minor}, "a masked file is /dev/null")
	assert.Equal(t, "", rep.Read["/etc/secret"])
	assert.Equal(t, "tmpfs", mounts["/secretdir"].FSType)
	assert.True(t, hasOpt(mounts["/secretdir"].Options, "ro"))
	assert.Contains(t, rep.Write["/secretdir/new"], "read-only file system")
	if _, err := os.Stat("/proc/kcore"); err == nil {
		assert.Contains(t, mounts, "/proc/kcore")
	}
	assert.True(t, hasOpt(mounts["/proc/sys"].Options, "ro"), "/proc/sys %+v", mounts["/proc/sys"])
	assert.Contains(t, rep.Write["/proc/sys/kernel/hostname"], "read-only file system")
	assert.True(t, hasOpt(mounts["/rodir"].Options, "ro"))
	assert.Equal(t, "read me\n", rep.Read["/rodir/file"])
	assert.Contains(t, rep.Write["/rodir/new"], "read-only file system")
	assert.Contains(t, rep.Write["/sys/kernel/uevent_helper"], "read-only file system")

	// The host saw none of it.
	assert.Equal(t, before, hostMounts(t, f.bundle))
	assert.NoFileExists(t, "/tmp/inside")
}

func TestNoPivot(t *testing.T) {
	f := newFixture(t)
	before := hostMounts(t, f.bundle)
	spec := runcSpec(f.root)
	spec.Root.Readonly = true
	spec.Linux.MaskedPaths = append(spec.Linux.MaskedPaths, "/etc/secret")
	r, err := NewRootfs(spec, "/", true)
	require.NoError(t, err)
	rep := probe(t, probeRequest{Rootfs: r, Stat: []string{"/dev/null"}, Read: []string{"/etc/secret", "/etc/passwd"},
		Write: []string{"/newfile", "/dev/shm/new"}}, nil)
	mounts := mountTable(t, rep.Mountinfo)
	assert.Contains(t, rep.Write["/newfile"], "read-only file system")
	assert.Empty(t, rep.Write["/dev/shm/new"])
	assert.True(t, hasOpt(mounts["/"].Options, "ro"), "%+v", mounts["/"])

	assert.Contains(t, rep.Root, "secretdir")
	assert.Contains(t, rep.Read["/etc/passwd"], "root:x:0:0")
	assert.Equal(t, "", rep.Read["/etc/secret"])
	assert.Equal(t, uint32(unix.S_IFCHR|0o666), rep.Stat["/dev/null"].Mode)
	assert.Equal(t, "proc", mounts["/proc"].FSType)
	assert.True(t, hasOpt(mounts["/proc/sys"].Options, "ro"))
	// The root is the image's bind, moved: the old root is not visible.
	assert.Contains(t, mounts, "/")
	for p, m := range mounts {
		if m.FSType == "proc" || m.FSType == "sysfs" {
			assert.True(t, p == "/proc" || p == "/sys" || strings.HasPrefix(p, "/proc/"), "a proc or sysfs outside the container: %s", p)
		}
	}
	assert.Equal(t, before, hostMounts(t, f.bundle))
}

func TestDevicesInUserNamespace(t *testing.T) {
	f := newFixture(t)
	before := hostMounts(t, f.bundle)
	spec := runcSpec(f.root)
	// kmsg, and the host's /dev/full under another name: found by its
	// numbers.
	spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11},
		{Path: "/dev/other-full", Type: "c", Major: 1, Minor: 7}}
	r, err := NewRootfs(spec, f.bundle, false)
	require.NoError(t, err)
	// Root in a user namespace of its own: the host's IDs, but
	// capabilities only over the namespace's objects. mknod of a device
	// needs CAP_MKNOD over the host's, so each node becomes a bind of the
	// host's own. sysfs needs a network namespace of its own there.
	ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	attr := &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNET, UidMappings: ids, GidMappings: ids}
	rep := probe(t, probeRequest{Rootfs: r, Stat: []string{"/dev/null", "/dev/tty", "/dev/kmsg", "/dev/other-full"}, Write: []string{"/dev/null"}}, attr)
	mounts := mountTable(t, rep.Mountinfo)
	for p, want := range map[string][2]uint32{"/dev/null": {1, 3}, "/dev/tty": {5, 0}, "/dev/kmsg": {1, 11}, "/dev/other-full": {1, 7}} {
		st := rep.Stat[p]
		assert.Equal(t, uint32(unix.S_IFCHR), st.Mode&unix.S_IFMT, "%s %+v", p, st)
		assert.Equal(t, want, [2]uint32{st.Major, st.Minor}, p)
		assert.Contains(t, mounts, p, "%s is a bind of the host's node", p)
	}
	assert.Empty(t, rep.Write["/dev/null"])
	assert.Equal(t, before, hostMounts(t, f.bundle))
}

func TestPrepareRefusesWhatTheImageHasInTheWay(t *testing.T) {
	f := newFixture(t)
	spec := runcSpec(f.root)
	// /etc/passwd is a file in the image: a directory bind cannot go there.
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/etc/passwd", Type: "bind", Source: f.hostDir, Options: []string{"rbind"}})
	r, err := NewRootfs(spec, f.bundle, false)
	require.NoError(t, err)
	out, err := probeFails(t, probeRequest{Rootfs: r}, nil)
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v: %s", err, out)
	assert.Contains(t, out, "mount /etc/passwd (bind): opening /etc/passwd in "+f.root+": not a directory")

	// An image whose /proc is a symlink (into itself, here).
	require.NoError(t, os.Remove(filepath.Join(f.root, "proc")))
	require.NoError(t, os.Symlink("tmp", filepath.Join(f.root, "proc")))
	r, err = NewRootfs(runcSpec(f.root), f.bundle, false)
	require.NoError(t, err)
	out, err = probeFails(t, probeRequest{Rootfs: r}, nil)
	require.True(t, errors.As(err, &exit), "%v: %s", err, out)
	assert.Contains(t, out, "mount /proc (proc): /proc in the image is not an ordinary directory (mode 0120000)")
}

// hostTmpfs mounts a tmpfs with flags on a new directory under dir, on
// the host, for a bind's source; the test unmounts it at the end.
func hostTmpfs(t *testing.T, dir string, flags uintptr) string {
	t.Helper()
	p := filepath.Join(dir, labtest.Unique("src"))
	require.NoError(t, os.Mkdir(p, 0o755))
	require.NoError(t, unix.Mount("tmpfs", p, "tmpfs", flags, "size=64k"))
	t.Cleanup(func() { assert.NoError(t, unix.Unmount(p, unix.MNT_DETACH)) })
	require.NoError(t, os.WriteFile(filepath.Join(p, "f"), []byte("x"), 0o644))
	return p
}

func TestBindKeepsItsSourceFlags(t *testing.T) {
	f := newFixture(t)
	src := hostTmpfs(t, f.bundle, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
	before := hostMounts(t, f.bundle)
	spec := runcSpec(f.root)
	spec.Mounts = append(spec.Mounts,
		// ro alone: the bind stays nosuid, nodev, noexec.
		specs.Mount{Destination: "/ro", Type: "bind", Source: src, Options: []string{"rbind", "ro"}},
		// An option that clears a flag by name clears it.
		specs.Mount{Destination: "/exec", Type: "bind", Source: src, Options: []string{"rbind", "exec", "suid"}},
		// A bare bind is the source as it is.
		specs.Mount{Destination: "/plain", Type: "bind", Source: src, Options: []string{"rbind"}},
	)
	r, err := NewRootfs(spec, f.bundle, false)
	require.NoError(t, err)
	mounts := mountTable(t, probe(t, probeRequest{Rootfs: r}, nil).Mountinfo)
	assert.Equal(t, "ro,nosuid,nodev,noexec,relatime", mounts["/ro"].Options)
	assert.Equal(t, "rw,nodev,relatime", mounts["/exec"].Options)
	assert.Equal(t, "rw,nosuid,nodev,noexec,relatime", mounts["/plain"].Options)
	assert.Equal(t, before, hostMounts(t, f.bundle))
}

func TestBindInUserNamespace(t *testing.T) {
	f := newFixture(t)
	src := hostTmpfs(t, f.bundle, unix.MS_NOSUID|unix.MS_NODEV)
	ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	userns := func() *syscall.SysProcAttr {
		return &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNET, UidMappings: ids, GidMappings: ids}
	}
	// The host's nosuid and nodev are locked in a user namespace: a
	// read-only bind keeps them, and works.
	spec := runcSpec(f.root)
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/ro", Type: "bind", Source: src, Options: []string{"rbind", "ro", "noexec"}})
	r, err := NewRootfs(spec, f.bundle, false)
	require.NoError(t, err)
	mounts := mountTable(t, probe(t, probeRequest{Rootfs: r}, userns()).Mountinfo)
	assert.Equal(t, "ro,nosuid,nodev,noexec,relatime", mounts["/ro"].Options)

	// Clearing one is refused, by name.
	spec.Mounts[len(spec.Mounts)-1].Options = []string{"rbind", "ro", "suid"}
	r, err = NewRootfs(spec, f.bundle, false)
	require.NoError(t, err)
	out, err := probeFails(t, probeRequest{Rootfs: r}, userns())
	require.Error(t, err)
	assert.Contains(t, out, "mount /ro (bind): remount with its flags: the mount it binds has nosuid, which a user namespace may not clear")
}

// probeFails runs req in a child that is expected to fail, and returns
// its output.
func probeFails(t *testing.T, req probeRequest, attr *syscall.SysProcAttr) (string, error) {
	t.Helper()
	in, err := json.Marshal(req)
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), probeEnv+"=1")
	cmd.Stdin = bytes.NewReader(in)
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Cloneflags |= childFlags
	attr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestReadonlyDevAndBoundDev(t *testing.T) {
	f := newFixture(t)
	before := hostMounts(t, f.bundle)

	// A read-only tmpfs on /dev: the nodes and links are made while it
	// is writable, and it is read-only once the container runs.
	spec := runcSpec(f.root)
	spec.Mounts[1].Options = append(spec.Mounts[1].Options, "ro")
	r, err := NewRootfs(spec, f.bundle, false)
	require.NoError(t, err)
	rep := probe(t, probeRequest{Rootfs: r, Stat: []string{"/dev/null", "/dev/ptmx"}, Write: []string{"/dev/new", "/dev/shm/new", "/dev/null"}}, nil)
	mounts := mountTable(t, rep.Mountinfo)
	assert.True(t, hasOpt(mounts["/dev"].Options, "ro"), "%+v", mounts["/dev"])
	assert.True(t, hasOpt(mounts["/dev"].Options, "nosuid"), "%+v", mounts["/dev"])
	assert.Equal(t, uint32(unix.S_IFCHR|0o666), rep.Stat["/dev/null"].Mode)
	assert.Equal(t, "pts/ptmx", rep.Stat["/dev/ptmx"].Link)
	assert.Contains(t, rep.Write["/dev/new"], "read-only file system")
	assert.Empty(t, rep.Write["/dev/shm/new"])
	assert.Empty(t, rep.Write["/dev/null"])

	// /dev bound from a host directory: nothing is made in it (it would
	// be made on the host), as with runc.
	hostDev := filepath.Join(f.bundle, "hostdev")
	require.NoError(t, os.Mkdir(hostDev, 0o755))
	spec = runcSpec(f.root)
	spec.Mounts[1] = specs.Mount{Destination: "/dev", Type: "bind", Source: hostDev, Options: []string{"rbind"}}
	spec.Mounts = slices.Delete(spec.Mounts, 2, 5) // pts, shm, mqueue: not in a bound /dev
	// Files are masked with the container's /dev/null, which this /dev
	// lacks: that is an error (runc skips the mask), so none here.
	spec.Linux.MaskedPaths = []string{"/sys/firmware"}
	r, err = NewRootfs(spec, f.bundle, false)
	require.NoError(t, err)
	rep = probe(t, probeRequest{Rootfs: r, Stat: []string{"/dev/null"}}, nil)
	assert.NotEmpty(t, rep.Stat["/dev/null"].Err)
	entries, err := os.ReadDir(hostDev)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing made in the host's directory")

	assert.Equal(t, before, hostMounts(t, f.bundle))
}

// mountinfoUnder is the host's mount table, whole lines (IDs, options,
// propagation), restricted to the mounts at or under dir: the rest of
// the table is other tests' and other programs' to change meanwhile.
func mountinfoUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && under(f[4], dir) {
			out = append(out, line)
		}
	}
	return out
}

// noMountNamespace is baseSpec without "mount" in linux.namespaces, nor
// any other (runtime-tools' linux_ns_itype), and without what needs a
// mount table of the container's own.
func noMountNamespace(t *testing.T, args ...string) *specs.Spec {
	s := baseSpec(labtest.BusyboxRootfs(t), args...)
	s.Linux.Namespaces = nil
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	s.Hostname = ""
	return s
}

// TestNoMountNamespace: a container in the runtime's mount namespace
// gets config.json's mounts in the host's table, under its root, and a
// chroot into it; create writes them down, and delete (of a created, a
// stopped or, forced, a running container) and a failed create unmount
// them: the host's mount table is the same after as before, line for
// line.
func TestNoMountNamespace(t *testing.T) {
	e := newEnv(t)
	hostNS := map[string]string{}
	for _, ns := range []string{"mnt", "pid", "net", "ipc", "uts", "cgroup", "user"} {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		require.NoError(t, err)
		hostNS[ns] = l
	}
	// What the process prints: its namespaces, then its root's busybox.
	const report = "for n in mnt pid net ipc uts cgroup user; do echo $n $(readlink /proc/self/ns/$n); done; test -x /bin/busybox && echo rooted; "
	for _, tc := range []struct {
		name string
		args []string
		// then: what happens after create; out is the process's
		// stdout, which it ends with "rooted" when args is report's;
		// it returns what it read of out.
		then func(t *testing.T, id string, c *Container, out *bufio.Reader) string
	}{
		{"run to the end, then delete", []string{"sh", "-c", report}, func(t *testing.T, id string, c *Container, _ *bufio.Reader) string {
			require.NoError(t, Start(e.root, id))
			status, err := c.Init.Wait()
			require.NoError(t, err)
			require.Equal(t, 0, status)
			require.NoError(t, Delete(e.root, id, false))
			return ""
		}},
		{"delete a created one", []string{"true"}, func(t *testing.T, id string, c *Container, _ *bufio.Reader) string {
			require.NoError(t, Delete(e.root, id, false))
			return ""
		}},
		{"delete --force a running one", []string{"sh", "-c", report + "exec sleep 1000"}, func(t *testing.T, id string, c *Container, out *bufio.Reader) string {
			require.NoError(t, Start(e.root, id))
			// Running for sure, and past its report: until its last
			// line, which stays in out for the checks.
			var seen strings.Builder
			for !strings.HasSuffix(seen.String(), "rooted\n") {
				line, err := out.ReadString('\n')
				require.NoError(t, err, seen.String())
				seen.WriteString(line)
			}
			require.Equal(t, Running, e.status(id))
			require.NoError(t, Delete(e.root, id, true))
			return seen.String()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := labtest.Unique("nomnt")
			spec := noMountNamespace(t, tc.args...)
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			defer pr.Close()
			o := CreateOptions{ID: id, Bundle: e.bundle(spec, id), Stdio: &namespace.Stdio{Out: pw, Err: pw}}
			root := spec.Root.Path // the test's own overlay (e.bundle)
			before := mountinfoUnder(t, root)
			c, err := Create(e.root, o)
			pw.Close() // init has its copy: EOF once the process is gone
			require.NoError(t, err)
			t.Cleanup(func() { _ = Delete(e.root, id, true); _, _ = c.Init.Wait() })

			// The mounts are the host's: in this process's table,
			// under the root, and written down for delete.
			during := mountinfoUnder(t, root)
			require.Greater(t, len(during), len(before), "no mount of the container in the host's table")
			for _, dest := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"} {
				assert.True(t, slices.ContainsFunc(during, func(l string) bool { return strings.Fields(l)[4] == root+dest }), "%s not mounted on the host", dest)
			}
			b, err := os.ReadFile(filepath.Join(Dir(e.root, id), hostMountsFile))
			require.NoError(t, err)
			var recorded []hostMount
			require.NoError(t, json.Unmarshal(b, &recorded))
			assert.Len(t, recorded, len(during)-len(before))

			out := bufio.NewReader(pr)
			seen := tc.then(t, id, c, out)
			_, _ = c.Init.Wait()
			assert.Equal(t, before, mountinfoUnder(t, root), "mounts left on the host")
			assert.NoDirExists(t, Dir(e.root, id))
			rest, err := io.ReadAll(out)
			require.NoError(t, err)
			text := seen + string(rest)
			if strings.Contains(tc.args[len(tc.args)-1], "readlink") {
				for ns, link := range hostNS {
					assert.Contains(t, text, ns+" "+link+"\n", "the %s namespace is not the runtime's", ns)
				}
				assert.Contains(t, text, "rooted\n")
			}
		})
	}

	t.Run("failed create", func(t *testing.T) {
		// Init fails after its mounts, when it looks the command up.
		spec := noMountNamespace(t, "no-such-command")
		id := labtest.Unique("nomnt")
		bundle := e.bundle(spec, id)
		before := mountinfoUnder(t, spec.Root.Path)
		_, err := Create(e.root, CreateOptions{ID: id, Bundle: bundle})
		require.ErrorContains(t, err, "process.args[0]: no-such-command")
		assert.Equal(t, before, mountinfoUnder(t, spec.Root.Path), "mounts left on the host")
		assert.NoDirExists(t, Dir(e.root, id))
	})
}

// What needs a mount table of the container's own is refused, by
// field, without one.
func TestNoMountNamespaceRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(s *specs.Spec)
		want   string
	}{
		{"maskedPaths", func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/proc/kcore"} }, "linux.maskedPaths: needs a mount namespace"},
		{"readonlyPaths", func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"/proc/sys"} }, "linux.readonlyPaths: needs a mount namespace"},
		{"rootfsPropagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rslave" }, `linux.rootfsPropagation "rslave": needs a mount namespace`},
		{"root.readonly", func(s *specs.Spec) { s.Root.Readonly = true }, "root.readonly: needs a mount namespace"},
		{"none of them", func(s *specs.Spec) {}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseSpec(t.TempDir(), "true")
			s.Linux.Namespaces = without(s, specs.MountNamespace)
			s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
			tc.change(s)
			r, err := NewRootfs(s, "/", false)
			if tc.want == "" {
				require.NoError(t, err)
				assert.True(t, r.HostMountNS)
				return
			}
			require.ErrorContains(t, err, tc.want)
			// With a mount namespace, the same config is fine.
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.MountNamespace})
			r, err = NewRootfs(s, "/", false)
			require.NoError(t, err)
			assert.False(t, r.HostMountNS)
		})
	}
}
