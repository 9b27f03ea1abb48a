package rootfs_test

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// TestRootIsTheImage: `ls /` lists the image, not the host.
func TestRootIsTheImage(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	bb := labtest.BusyboxRootfs(t)
	entries, err := os.ReadDir(bb)
	require.NoError(t, err)
	var want []string
	for _, e := range entries {
		want = append(want, e.Name())
	}

	res := sh(t, namespace.Config{}, rootfs.Spec{Root: bb}, "ls -A /; echo ---; cat /etc/hostname 2>&1; ls /usr/bin/bash 2>&1; true")
	got, rest, _ := strings.Cut(res.Stdout, "---\n")
	assert.Equal(t, want, lines(got))
	// The host's files are gone, not just hidden from ls.
	assert.Contains(t, rest, "can't open '/etc/hostname': No such file or directory")
	assert.Contains(t, rest, "/usr/bin/bash: No such file or directory")
}

// expectedMounts is the container's mount table: the system mounts and,
// for the masked and read-only paths this kernel has, one mount each.
func expectedMounts(t *testing.T) []string {
	t.Helper()
	want := []string{"/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"}
	mounts, err := cgroup.NSMounts()
	require.NoError(t, err)
	for _, m := range mounts {
		want = append(want, path.Join("/sys/fs/cgroup", m.Name))
	}
	if len(mounts) > 0 && mounts[0].Type == "cgroup" {
		want = append(want, "/sys/fs/cgroup") // the tmpfs under them
	}
	throttle, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle")
	for _, p := range append(append(append([]string{}, rootfs.DefaultMaskedPaths...), rootfs.DefaultReadonlyPaths...), throttle...) {
		if _, err := os.Lstat(p); err == nil {
			want = append(want, p)
		}
	}
	sort.Strings(want)
	return want
}

// TestMountTable: the container's mount table holds exactly its own
// mounts, none of the host's, each with the intended flags.
func TestMountTable(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	res := sh(t, namespace.Config{}, rootfs.Spec{Root: labtest.BusyboxRootfs(t)}, "cat /proc/self/mountinfo")
	mounts := parseMountinfo(t, res.Stdout)
	var points []string
	for p := range mounts {
		points = append(points, p)
	}
	sort.Strings(points)
	assert.Equal(t, expectedMounts(t), points)

	check := func(point, fstype string, opts ...string) {
		t.Helper()
		m, ok := mounts[point]
		if !assert.True(t, ok, "%s is not mounted", point) {
			return
		}
		assert.Equal(t, fstype, m.FSType, point)
		all := strings.Split(m.Options+","+m.SuperOptions, ",")
		for _, o := range opts {
			assert.Contains(t, all, o, "%s: %s %s", point, m.Options, m.SuperOptions)
		}
	}
	check("/proc", "proc", "rw", "nosuid", "nodev", "noexec")
	check("/sys", "sysfs", "ro", "nosuid", "nodev", "noexec")
	check("/dev", "tmpfs", "rw", "nosuid", "mode=755", "size=65536k")
	check("/dev/pts", "devpts", "nosuid", "noexec", "gid=5", "mode=620", "ptmxmode=666")
	// (tmpfs does not show mode=1777, its default; checkDev stats it.)
	check("/dev/shm", "tmpfs", "nosuid", "nodev", "noexec", "size=65536k")
	check("/dev/mqueue", "mqueue", "nosuid", "nodev", "noexec")
	check("/proc/sys", "proc", "ro", "nosuid", "nodev", "noexec")
	if _, err := os.Stat("/sys/firmware"); err == nil {
		check("/sys/firmware", "tmpfs", "ro")
	}
	assert.False(t, strings.Contains(mounts["/dev"].Options, "nodev"), "/dev must allow device nodes")
	cgs, err := cgroup.NSMounts()
	require.NoError(t, err)
	for _, m := range cgs {
		if m.Type == "cgroup2" {
			check("/sys/fs/cgroup", "cgroup2", "ro", "nosuid", "nodev", "noexec", "relatime")
			continue
		}
		check("/sys/fs/cgroup", "tmpfs", "rw", "nosuid", "nodev", "noexec", "relatime", "mode=755")
		check("/sys/fs/cgroup/"+m.Name, "cgroup", append([]string{"ro", "nosuid", "nodev", "noexec", "relatime"}, strings.Split(m.Options, ",")...)...)
		// The container's own cgroup is the mount's root: the cgroup
		// namespace shows it as "/".
		assert.Equal(t, "/", mounts["/sys/fs/cgroup/"+m.Name].Root, m.Name)
	}
}

// TestCgroupNamespace: init makes its cgroup namespace where it is, so
// that /proc/self/cgroup shows "/" in every hierarchy, and so does an
// exec'd process's... (here the command itself); the cgroup filesystems
// in /sys/fs/cgroup are read-only.
func TestCgroupNamespace(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	res := sh(t, namespace.Config{}, rootfs.Spec{Root: labtest.BusyboxRootfs(t)},
		"cat /proc/self/cgroup; mkdir /sys/fs/cgroup/pids/x 2>&1 || echo refused")
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	require.NotEmpty(t, lines)
	assert.Contains(t, lines[len(lines)-1], "refused")
	for _, line := range lines[:len(lines)-2] {
		assert.Regexp(t, `^\d+:[^:]*:/$`, line)
	}
}

// TestMaskedPaths: Docker's masked paths are empty in the container,
// whether the kernel has them as files or as directories.
func TestMaskedPaths(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	var script strings.Builder
	var want []string
	for _, p := range rootfs.DefaultMaskedPaths {
		script.WriteString(`p=` + p + `
if [ -d $p ]; then echo "$p dir $(ls -A $p | wc -l)"
elif [ -e $p ]; then echo "$p file $(cat $p | wc -c)"
else echo "$p none"; fi
`)
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			want = append(want, p+" none")
		case fi.IsDir():
			want = append(want, p+" dir 0")
		default:
			want = append(want, p+" file 0")
		}
	}
	// Nothing can be put into a masked directory either.
	script.WriteString("touch /sys/firmware/x 2>&1 || true\n")

	res := sh(t, namespace.Config{}, rootfs.Spec{Root: labtest.BusyboxRootfs(t)}, script.String())
	got := lines(res.Stdout)
	require.Len(t, got, len(want)+1, res.Stdout)
	assert.Equal(t, want, got[:len(want)])
	assert.Contains(t, got[len(want)], "Read-only file system")

	// On the host, the same files are not empty: the mask is what empties them.
	if data, err := os.ReadFile("/proc/timer_list"); err == nil {
		assert.NotEmpty(t, data)
	}
	if data, err := os.ReadFile("/proc/kcore"); err == nil {
		assert.NotEmpty(t, data)
	} else {
		t.Logf("this kernel has no /proc/kcore (%v): checked that it stays absent", err)
	}
}

// TestReadonlyPaths: /proc/sys is readable but writing a kernel parameter
// fails, even one that the container's own UTS namespace owns.
func TestReadonlyPaths(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	res := sh(t, namespace.Config{}, rootfs.Spec{Root: labtest.BusyboxRootfs(t)}, `
cat /proc/sys/kernel/hostname
echo other > /proc/sys/kernel/hostname 2>&1 || echo refused
hostname
[ ! -e /proc/sysrq-trigger ] || { echo b > /proc/sysrq-trigger 2>&1 || echo sysrq refused; }
`)
	out := res.Stdout + res.Stderr
	assert.Equal(t, "rootfs-test", lines(res.Stdout)[0])
	assert.Contains(t, out, "Read-only file system")
	assert.Contains(t, res.Stdout, "refused")
	assert.Contains(t, res.Stdout, "\nrootfs-test\n", "hostname unchanged")
}

// TestSysReadonly: /sys is the container's own sysfs (its network
// namespace has only lo) and cannot be written.
func TestSysReadonly(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	res := sh(t, namespace.Config{}, rootfs.Spec{Root: labtest.BusyboxRootfs(t)}, `
ls /sys/class/net
ls /sys/kernel >/dev/null && echo kernel-readable
mkdir /sys/kernel/x 2>&1 || true
echo 1 > /sys/kernel/uevent_helper 2>&1 || true
`)
	got := lines(res.Stdout)
	assert.Equal(t, "lo", got[0])
	assert.Contains(t, got, "kernel-readable")
	assert.Contains(t, res.Stdout, "Read-only file system")
	assert.NotContains(t, res.Stdout, "Permission denied", "refused by the mount, not by permissions")
}

// checkDev runs the /dev checks in a container with the namespaces cfg.
func checkDev(t *testing.T, cfg namespace.Config) {
	t.Helper()
	res := sh(t, cfg, rootfs.Spec{Root: labtest.BusyboxRootfs(t)}, `
ls -A /dev
echo ---
for d in null zero full random urandom tty; do stat -c '%n %F %a %t:%T' /dev/$d; done
for l in fd stdin stdout stderr core ptmx; do echo "/dev/$l -> $(readlink /dev/$l)"; done
stat -c '%n %a' /dev/pts/ptmx /dev/shm
echo ---
head -c 5 /dev/zero | wc -c
head -c 7 /dev/urandom | wc -c
echo gone > /dev/null && echo null-ok
{ echo x > /dev/full; } 2>&1 || true
echo hi > /dev/shm/f && cat /dev/shm/f
`)
	parts := strings.Split(res.Stdout, "---\n")
	require.Len(t, parts, 3, res.Stdout)
	// Docker (runc) links /dev/core only where the kernel has a
	// /proc/kcore.
	_, kcoreErr := os.Lstat("/proc/kcore")
	names := []string{"fd", "full", "mqueue", "null", "ptmx", "pts", "random",
		"shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}
	core := "/dev/core -> "
	if kcoreErr == nil {
		names = append([]string{"core"}, names...)
		core += "/proc/kcore"
	}
	assert.Equal(t, names, lines(parts[0]))
	assert.Equal(t, []string{
		"/dev/null character special file 666 1:3",
		"/dev/zero character special file 666 1:5",
		"/dev/full character special file 666 1:7",
		"/dev/random character special file 666 1:8",
		"/dev/urandom character special file 666 1:9",
		"/dev/tty character special file 666 5:0",
		"/dev/fd -> /proc/self/fd",
		"/dev/stdin -> /proc/self/fd/0",
		"/dev/stdout -> /proc/self/fd/1",
		"/dev/stderr -> /proc/self/fd/2",
		core,
		"/dev/ptmx -> pts/ptmx",
		"/dev/pts/ptmx 666",
		"/dev/shm 1777",
	}, lines(parts[1]))
	got := lines(parts[2])
	require.Len(t, got, 5, parts[2])
	assert.Equal(t, "5", strings.TrimSpace(got[0]))
	assert.Equal(t, "7", strings.TrimSpace(got[1]))
	assert.Equal(t, "null-ok", got[2])
	assert.Contains(t, got[3], "No space left on device")
	assert.Equal(t, "hi", got[4])

	// A pseudo-terminal from the container's own devpts.
	res = start(t, cfg, containerSpec{
		Spec:   namespace.Spec{Command: namespace.Command{Args: []string{"true"}}},
		Rootfs: rootfs.Spec{Root: labtest.BusyboxRootfs(t)},
		Probe:  "pty",
	})
	require.Equal(t, 0, res.Status, res.Stderr)
	assert.Equal(t, "pty /dev/pts/0 \"ping\\r\\n\"\n", res.Stdout)
}

func TestDev(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	checkDev(t, namespace.Config{})
}

// checkCaps checks the capability sets of the command.
func checkCaps(t *testing.T, cfg namespace.Config, init bool) {
	t.Helper()
	res := start(t, cfg, containerSpec{
		Spec: namespace.Spec{
			Command: namespace.Command{Args: []string{"grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"}},
			Init:    init,
		},
		Rootfs:     rootfs.Spec{Root: labtest.BusyboxRootfs(t)},
		NoNewPrivs: init, // once with, once without
	})
	require.Equal(t, 0, res.Status, res.Stderr)
	nnp := "0"
	if init {
		nnp = "1"
	}
	assert.Equal(t, []string{
		"CapInh:\t0000000000000000",
		"CapPrm:\t00000000a80425fb",
		"CapEff:\t00000000a80425fb",
		"CapBnd:\t00000000a80425fb",
		"CapAmb:\t0000000000000000",
		"NoNewPrivs:\t" + nnp,
	}, lines(res.Stdout))
}

// TestCapabilities: root in the container has Docker's default set, both
// when the command replaces init and when init supervises it (--init).
func TestCapabilities(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	t.Run("exec", func(t *testing.T) { t.Parallel(); checkCaps(t, namespace.Config{}, false) })
	t.Run("init", func(t *testing.T) { t.Parallel(); checkCaps(t, namespace.Config{}, true) })
}

// TestCapabilitiesEnforced: what the dropped capabilities forbid fails,
// what the kept ones allow works.
func TestCapabilitiesEnforced(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	res := sh(t, namespace.Config{}, rootfs.Spec{Root: labtest.BusyboxRootfs(t)}, `
mount -t tmpfs none /tmp 2>&1 || echo no-mount
hostname other 2>&1 || echo no-hostname
chown 65534 /dev/shm && echo chown-ok
`)
	assert.Contains(t, res.Stdout, "no-mount")    // CAP_SYS_ADMIN is gone
	assert.Contains(t, res.Stdout, "no-hostname") // so is changing the hostname
	assert.Contains(t, res.Stdout, "chown-ok")    // CAP_CHOWN is kept
}

// TestVolumes: read-write and read-only volumes of directories and files,
// with targets that the image lacks.
func TestVolumes(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	root := labtest.CopyRootfs(t)
	rwDir, roDir, files := t.TempDir(), t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(rwDir, "in.txt"), []byte("rw-in\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(roDir, "ro.txt"), []byte("ro-in\n"), 0o644))
	roFile, rwFile := filepath.Join(files, "ro.conf"), filepath.Join(files, "notes.txt")
	require.NoError(t, os.WriteFile(roFile, []byte("ro-file\n"), 0o644))
	require.NoError(t, os.WriteFile(rwFile, []byte("rw-file\n"), 0o644))
	before := hostMounts(t, root, rwDir, roDir, files)

	res := sh(t, namespace.Config{}, rootfs.Spec{Root: root, Volumes: []rootfs.Volume{
		{Source: rwDir, Target: "/data"},
		{Source: roDir, Target: "/srv/ro", ReadOnly: true},
		{Source: roFile, Target: "/etc/app/ro.conf", ReadOnly: true},
		{Source: rwFile, Target: "/root/notes.txt"},
	}}, `
cat /data/in.txt
echo from-container > /data/out.txt && echo rw-dir-ok
cat /srv/ro/ro.txt
echo x > /srv/ro/new.txt 2>&1 || echo ro-dir-refused
cat /etc/app/ro.conf
echo x >> /etc/app/ro.conf 2>&1 || echo ro-file-refused
echo appended >> /root/notes.txt && echo rw-file-ok
`)
	out := res.Stdout + res.Stderr
	for _, s := range []string{"rw-in", "rw-dir-ok", "ro-in", "ro-dir-refused", "ro-file", "ro-file-refused", "rw-file-ok"} {
		assert.Contains(t, res.Stdout, s)
	}
	assert.Contains(t, out, "Read-only file system")

	// The host sees what the container wrote, and only that.
	data, err := os.ReadFile(filepath.Join(rwDir, "out.txt"))
	require.NoError(t, err)
	assert.Equal(t, "from-container\n", string(data))
	assert.NoFileExists(t, filepath.Join(roDir, "new.txt"))
	data, err = os.ReadFile(roFile)
	require.NoError(t, err)
	assert.Equal(t, "ro-file\n", string(data))
	data, err = os.ReadFile(rwFile)
	require.NoError(t, err)
	assert.Equal(t, "rw-file\nappended\n", string(data))

	// The missing targets were created in the image, of the source's kind.
	assert.DirExists(t, filepath.Join(root, "data"))
	assert.DirExists(t, filepath.Join(root, "srv/ro"))
	fi, err := os.Stat(filepath.Join(root, "etc/app/ro.conf"))
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular())
	assert.Zero(t, fi.Size(), "the mount point, not the volume's content")

	assert.Equal(t, before, hostMounts(t, root, rwDir, roDir, files))
}

// TestVolumeTypeMismatch: a file cannot be mounted on a directory.
func TestVolumeTypeMismatch(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	res := start(t, namespace.Config{}, containerSpec{
		Spec: namespace.Spec{Command: namespace.Command{Args: []string{"true"}}},
		// /etc exists in the image, as a directory.
		Rootfs: rootfs.Spec{Root: labtest.BusyboxRootfs(t), Volumes: []rootfs.Volume{{Source: file, Target: "/etc"}}},
	})
	assert.Equal(t, 125, res.Status)
	assert.Contains(t, res.Stderr, "the source is a file but /etc in the image is not")
}

// TestVolumeSymlinkEscape: symlinks in the image cannot steer a volume out
// of the root: "/", "../../.." and dangling absolute links all resolve
// inside it, as they would for a process in the container.
func TestVolumeSymlinkEscape(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	root := labtest.CopyRootfs(t)
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "marker"), []byte("inside\n"), 0o644))
	// Names that must not appear on the host.
	a, b, c := labtest.Unique("berth-esc-a"), labtest.Unique("berth-esc-b"), labtest.Unique("berth-esc-c")
	for link, target := range map[string]string{
		"abs":    "/",
		"up":     "../../../../../../../../..",
		"dangle": "/" + c + "/made/here",
	} {
		require.NoError(t, os.Symlink(target, filepath.Join(root, link)))
	}
	before := labtest.Tree(t, labtest.BusyboxRootfs(t))

	res := sh(t, namespace.Config{}, rootfs.Spec{Root: root, Volumes: []rootfs.Volume{
		{Source: src, Target: "/abs/" + a},
		{Source: src, Target: "/up/" + b},
		{Source: src, Target: "/dangle/vol"},
	}}, "cat /"+a+"/marker /"+b+"/marker /"+c+"/made/here/vol/marker")
	assert.Equal(t, "inside\ninside\ninside\n", res.Stdout)
	// Naively followed, the links would have led to the host's root.
	for _, name := range []string{a, b, c} {
		assert.NoFileExists(t, "/"+name)
		assert.NoDirExists(t, "/"+name)
		assert.DirExists(t, filepath.Join(root, name))
	}
	assert.Equal(t, before, labtest.Tree(t, labtest.BusyboxRootfs(t)), "the shared image is untouched")

	// A target that resolves to the root itself is refused.
	for _, target := range []string{"/abs", "/up"} {
		res := start(t, namespace.Config{}, containerSpec{
			Spec:   namespace.Spec{Command: namespace.Command{Args: []string{"true"}}},
			Rootfs: rootfs.Spec{Root: root, Volumes: []rootfs.Volume{{Source: src, Target: target}}},
		})
		assert.Equal(t, 125, res.Status, target)
		assert.Contains(t, res.Stderr, "resolves to the container's root directory", target)
	}
}

// TestWorkdir: a missing working directory is created in the image.
func TestWorkdir(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	root := labtest.CopyRootfs(t)
	res := sh(t, namespace.Config{}, rootfs.Spec{Root: root, Workdir: "/srv/app/current"}, "pwd")
	assert.Equal(t, "/srv/app/current\n", res.Stdout)
	assert.DirExists(t, filepath.Join(root, "srv/app/current"))
}

// TestReadonlyRootfs: with --read-only the image cannot be written, but
// /dev/shm and volumes can.
func TestReadonlyRootfs(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	root := labtest.CopyRootfs(t)
	vol := t.TempDir()
	res := sh(t, namespace.Config{}, rootfs.Spec{Root: root, ReadonlyRootfs: true, Workdir: "/work",
		Volumes: []rootfs.Volume{{Source: vol, Target: "/data"}}}, `
touch /tmp/x 2>&1 || echo tmp-refused
touch /dev/shm/x && echo shm-ok
touch /data/x && echo volume-ok
pwd
`)
	assert.Equal(t, []string{"touch: /tmp/x: Read-only file system", "tmp-refused", "shm-ok", "volume-ok", "/work"},
		lines(res.Stdout))
	assert.NoFileExists(t, filepath.Join(root, "tmp/x"))
	assert.FileExists(t, filepath.Join(vol, "x"))
}

// TestUserNamespace: in a user namespace mknod is forbidden, so the
// device nodes are bind mounts of the host's; everything else holds.
func TestUserNamespace(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	cfg := namespace.Config{UserNS: true}
	t.Run("dev", func(t *testing.T) { t.Parallel(); checkDev(t, cfg) })
	t.Run("caps", func(t *testing.T) { t.Parallel(); checkCaps(t, cfg, false) })
	t.Run("mounts", func(t *testing.T) {
		t.Parallel()
		res := sh(t, cfg, rootfs.Spec{Root: labtest.BusyboxRootfs(t)}, `
cat /proc/self/uid_map
echo x > /proc/sys/kernel/hostname 2>&1 || true
mkdir /sys/kernel/x 2>&1 || true
readlink /proc/self/ns/net
ls /sys/class/net
echo ---
cat /proc/self/mountinfo
`)
		head, table, _ := strings.Cut(res.Stdout, "---\n")
		assert.Regexp(t, `^\s+0\s+100000\s+65536\n`, head)
		assert.Contains(t, head, "Read-only file system")
		assert.Contains(t, head, "\nlo\n")
		mounts := parseMountinfo(t, table)
		var points []string
		for p := range mounts {
			if !strings.HasPrefix(p, "/dev/") || p == "/dev/pts" || p == "/dev/shm" || p == "/dev/mqueue" {
				points = append(points, p)
			}
		}
		sort.Strings(points)
		assert.Equal(t, expectedMounts(t), points)
		assert.Equal(t, "devtmpfs", mounts["/dev/null"].FSType, "a bind of the host's node")
	})
}

// TestHostNetwork: sharing the host's network namespace, /sys is still
// read-only. In a user namespace sysfs cannot be mounted then, and the
// host's /sys is bound instead, read-only all the way down.
func TestHostNetwork(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	hostLinks := func() []string {
		entries, err := os.ReadDir("/sys/class/net")
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	before := hostLinks()
	hostNetns, err := os.Readlink("/proc/self/ns/net")
	require.NoError(t, err)
	for _, cfg := range []namespace.Config{{HostNetwork: true}, {HostNetwork: true, UserNS: true}} {
		name := "root"
		if cfg.UserNS {
			name = "userns"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := start(t, cfg, containerSpec{
				Spec: namespace.Spec{Command: namespace.Command{Args: []string{"/bin/sh", "-c", `
readlink /proc/self/ns/net
ls /sys/class/net
echo ---
mkdir /sys/kernel/x 2>&1 || true
awk '$5 ~ "^/sys" { print $5, $6 }' /proc/self/mountinfo
`}}},
				Rootfs: rootfs.Spec{Root: labtest.BusyboxRootfs(t)},
			})
			require.Equal(t, 0, res.Status, res.Stderr)
			nets, rest, _ := strings.Cut(res.Stdout, "---\n")
			links := lines(nets)
			assert.Equal(t, hostNetns, links[0], "the host's network namespace")
			// And the host's devices in /sys. Tests of other packages
			// add and remove links meanwhile: those that were there
			// before and after the run must be listed.
			after := hostLinks()
			for _, name := range before {
				if slices.Contains(after, name) {
					assert.Contains(t, links[1:], name)
				}
			}
			got := lines(rest)
			assert.Contains(t, got[0], "Read-only file system")
			// Every mount under /sys is read-only: with the host's /sys
			// bound in, that includes its cgroup mounts, covered by the
			// container's own. The one exception is Docker's too: the
			// tmpfs on /sys/fs/cgroup that holds the (read-only) cgroup
			// mounts.
			for _, m := range got[1:] {
				if m == "/sys/fs/cgroup rw,nosuid,nodev,noexec,relatime" {
					continue
				}
				assert.Regexp(t, `^/sys\S* ro,`, m)
			}
		})
	}
}

// TestDistributionRootfs: an ordinary dynamically linked userland (bash,
// ls, glibc) runs too, in an image that has no /proc, /sys or /dev
// directories and whose /var/run is an absolute symlink.
func TestDistributionRootfs(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	root := labtest.DistroRootfs(t)
	hostBash, err := exec.Command("bash", "-c", "echo $BASH_VERSION").Output()
	require.NoError(t, err)
	vol := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(vol, "marker"), []byte("vol\n"), 0o644))

	res := start(t, namespace.Config{}, containerSpec{
		Spec: namespace.Spec{Command: namespace.Command{
			Args: []string{"bash", "-c", "echo $BASH_VERSION; ls /; echo ---; read -r m < /run/app/marker; echo $m"},
		}},
		// os.Root would refuse this target: /var/run -> /run is absolute.
		Rootfs: rootfs.Spec{Root: root, Volumes: []rootfs.Volume{{Source: vol, Target: "/var/run/app", ReadOnly: true}}},
	})
	require.Equal(t, 0, res.Status, res.Stderr)
	got, rest, _ := strings.Cut(res.Stdout, "---\n")
	assert.Equal(t, []string{strings.TrimSpace(string(hostBash)),
		"bin", "dev", "etc", "lib", "lib64", "proc", "root", "run", "sys", "tmp", "usr", "var"}, lines(got))
	assert.Equal(t, "vol\n", rest)
	assert.DirExists(t, filepath.Join(root, "run/app"))
}

// TestHostUnchanged: a container with every feature leaves the host's
// mount table and the shared image exactly as they were.
func TestHostUnchanged(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	bb := labtest.BusyboxRootfs(t)
	vol := t.TempDir()
	// Root in the user namespace is an unprivileged host uid: let it in.
	require.NoError(t, os.Chmod(vol, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(vol), 0o755))
	mountsBefore := hostMounts(t, bb, vol)
	filesBefore := labtest.Tree(t, bb)

	for _, cfg := range []namespace.Config{{}, {UserNS: true}} {
		res := start(t, cfg, containerSpec{
			Spec: namespace.Spec{Command: namespace.Command{Args: []string{"ls", "/tmp", "/proc", "/dev"}, Dir: "/home"}, Init: true},
			Rootfs: rootfs.Spec{Root: bb, Workdir: "/home", ReadonlyRootfs: true,
				Volumes: []rootfs.Volume{{Source: vol, Target: "/tmp", ReadOnly: true}}},
		})
		require.Equal(t, 0, res.Status, res.Stderr)
	}

	assert.Equal(t, mountsBefore, hostMounts(t, bb, vol))
	assert.Equal(t, filesBefore, labtest.Tree(t, bb))
	entries, err := os.ReadDir(vol)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestEnterFails: a broken spec stops the container before the command,
// with berth's status 125 and a message naming the problem.
func TestEnterFails(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing")
	for name, fs := range map[string]rootfs.Spec{
		"missing root":   {Root: missing},
		"missing source": {Root: labtest.BusyboxRootfs(t), Volumes: []rootfs.Volume{{Source: missing, Target: "/data"}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := start(t, namespace.Config{}, containerSpec{
				Spec:   namespace.Spec{Command: namespace.Command{Args: []string{"true"}}},
				Rootfs: fs,
			})
			assert.Equal(t, 125, res.Status)
			assert.Contains(t, res.Stderr, missing)
		})
	}
}

// TestTmpfsAndShm: a --tmpfs with a size and mode, its default flags,
// a read-only one, a propagation on a bind, and the size of /dev/shm.
func TestTmpfsAndShm(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	root := labtest.CopyRootfs(t)
	src := t.TempDir()
	res := sh(t, namespace.Config{}, rootfs.Spec{Root: root, ShmSize: 8 << 20, Volumes: []rootfs.Volume{
		{Type: rootfs.TypeTmpfs, Target: "/scratch", Tmpfs: []string{"size=4m", "mode=1770"}},
		{Type: rootfs.TypeTmpfs, Target: "/frozen", ReadOnly: true},
		{Type: rootfs.TypeBind, Source: src, Target: "/shared", Propagation: "rshared"},
	}}, `
grep -E ' /(scratch|frozen|dev/shm) ' /proc/mounts
stat -c '%a' /scratch
df -k /scratch /dev/shm | tail -n 2
echo x > /frozen/f 2>&1 || echo frozen-refused
grep ' /shared ' /proc/self/mountinfo
`)
	require.Equal(t, 0, res.Status, res.Stderr)
	out := res.Stdout
	assert.Regexp(t, `tmpfs /scratch tmpfs rw,nosuid,nodev,noexec,\S*size=4096k,mode=1770`, out)
	assert.Regexp(t, `tmpfs /frozen tmpfs ro,nosuid,nodev,noexec`, out)
	assert.Regexp(t, `tmpfs /dev/shm tmpfs \S*size=8192k`, out)
	assert.Contains(t, out, "1770\n")
	assert.Regexp(t, `tmpfs\s+4096\s.*/scratch`, out)
	assert.Contains(t, out, "frozen-refused")
	assert.Regexp(t, `/shared .* shared:\d+`, out)
	assert.NoDirExists(t, filepath.Join(root, "scratch", "lost+found"))
}
