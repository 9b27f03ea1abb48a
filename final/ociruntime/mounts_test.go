package ociruntime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   specs.Mount
		want Mount
	}{
		{
			name: "proc",
			in:   specs.Mount{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			want: Mount{Destination: "/proc", Type: "proc", Source: "proc", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV},
		},
		{
			name: "dev tmpfs: flags and data",
			in:   specs.Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			want: Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
		},
		{
			name: "devpts: unknown options are data, in order",
			in:   specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			want: Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		},
		{
			name: "rbind ro with propagation, relative source",
			in:   specs.Mount{Destination: "/data", Type: "bind", Source: "data", Options: []string{"rbind", "ro", "rprivate"}},
			want: Mount{Destination: "/data", Source: "/bundle/data", Bind: true, Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY,
				Propagation: []uint64{unix.MS_PRIVATE | unix.MS_REC}},
		},
		{
			name: "bind option with type none",
			in:   specs.Mount{Destination: "/etc/hosts", Type: "none", Source: "/tmp/hosts", Options: []string{"bind"}},
			want: Mount{Destination: "/etc/hosts", Source: "/tmp/hosts", Bind: true, Flags: unix.MS_BIND},
		},
		{
			name: "type bind without option is a plain bind",
			in:   specs.Mount{Destination: "/x", Type: "bind", Source: "/y"},
			want: Mount{Destination: "/x", Source: "/y", Bind: true, Flags: unix.MS_BIND},
		},
		{
			name: "a later option undoes an earlier one",
			in:   specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"ro", "rw", "nosuid", "suid", "noexec", "exec", "nodev", "dev", "noatime", "atime", "sync", "async"}},
			want: Mount{Destination: "/x", Type: "tmpfs", Cleared: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_NOATIME | unix.MS_SYNCHRONOUS},
		},
		{
			name: "the rest of mount(8)'s flags",
			in: specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"dirsync", "remount", "mand", "nodiratime", "relatime",
				"strictatime", "nostrictatime", "norelatime", "diratime", "nomand", "defaults", "sync"}},
			want: Mount{Destination: "/x", Type: "tmpfs", Flags: unix.MS_DIRSYNC | unix.MS_REMOUNT | unix.MS_SYNCHRONOUS,
				Cleared: unix.MS_STRICTATIME | unix.MS_RELATIME | unix.MS_NODIRATIME | unix.MS_MANDLOCK},
		},
		{
			name: "every propagation, in order",
			in:   specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"shared", "rshared", "slave", "rslave", "private", "unbindable", "runbindable"}},
			want: Mount{Destination: "/x", Type: "tmpfs", Propagation: []uint64{unix.MS_SHARED, unix.MS_SHARED | unix.MS_REC,
				unix.MS_SLAVE, unix.MS_SLAVE | unix.MS_REC, unix.MS_PRIVATE, unix.MS_UNBINDABLE, unix.MS_UNBINDABLE | unix.MS_REC}},
		},
		{
			name: "recursive options",
			in:   specs.Mount{Destination: "/x", Source: "/y", Options: []string{"rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime"}},
			want: Mount{Destination: "/x", Source: "/y", Bind: true, Flags: unix.MS_BIND | unix.MS_REC,
				AttrSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NOATIME,
				AttrClr: unix.MOUNT_ATTR__ATIME},
		},
		{
			name: "ratime after rnoatime: back to relatime",
			in:   specs.Mount{Destination: "/x", Source: "/y", Options: []string{"rbind", "rnoatime", "ratime", "rnosymfollow", "nosymfollow", "acl"}},
			want: Mount{Destination: "/x", Source: "/y", Bind: true, Flags: unix.MS_BIND | unix.MS_REC | unix.MS_NOSYMFOLLOW | unix.MS_POSIXACL,
				AttrSet: unix.MOUNT_ATTR_NOSYMFOLLOW, AttrClr: unix.MOUNT_ATTR__ATIME},
		},
		{
			name: "rrw after rro",
			in:   specs.Mount{Destination: "/x", Source: "/y", Options: []string{"rbind", "rro", "rrw"}},
			want: Mount{Destination: "/x", Source: "/y", Bind: true, Flags: unix.MS_BIND | unix.MS_REC, AttrClr: unix.MOUNT_ATTR_RDONLY},
		},
		{
			name: "tmpcopyup",
			in:   specs.Mount{Destination: "/etc", Type: "tmpfs", Options: []string{"tmpcopyup", "mode=755"}},
			want: Mount{Destination: "/etc", Type: "tmpfs", CopyUp: true, Data: "mode=755"},
		},
		{
			name: "relative destination is from /",
			in:   specs.Mount{Destination: "run/x/../y", Type: "tmpfs"},
			want: Mount{Destination: "/run/y", Type: "tmpfs"},
		},
		{
			name: "cgroup",
			in:   specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
			want: Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RELATIME | unix.MS_RDONLY},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMount(0, tc.in, "/bundle")
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMountOptionsAreTheSpecs(t *testing.T) {
	// runtime-spec 1.2's features.md list, which runc reports: berth
	// applies every one.
	spec := []string{"acl", "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion",
		"lazytime", "loud", "mand", "noacl", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime",
		"nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev",
		"rdiratime", "relatime", "remount", "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime",
		"rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave",
		"rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
		"symfollow", "sync", "tmpcopyup", "unbindable"}
	assert.Equal(t, spec, MountOptions())
}

func TestParseMountRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   specs.Mount
		want string
	}{
		{"no destination", specs.Mount{Type: "tmpfs"}, "mounts[0].destination: missing"},
		{"over the root", specs.Mount{Destination: "/", Type: "tmpfs"}, "mounts[0] (/).destination"},
		{"uid mappings", specs.Mount{Destination: "/x", Type: "bind", Source: "/y", UIDMappings: []specs.LinuxIDMapping{{Size: 1}}}, "mounts[0] (/x).uidMappings: idmapped mounts are not supported"},
		{"gid mappings", specs.Mount{Destination: "/x", Type: "bind", Source: "/y", GIDMappings: []specs.LinuxIDMapping{{Size: 1}}}, "mounts[0] (/x).gidMappings"},
		{"idmap", specs.Mount{Destination: "/x", Type: "bind", Source: "/y", Options: []string{"rbind", "idmap"}}, `mounts[0] (/x).options: "idmap"`},
		{"ridmap", specs.Mount{Destination: "/x", Type: "bind", Source: "/y", Options: []string{"ridmap"}}, `"ridmap"`},
		{"bind with a filesystem type", specs.Mount{Destination: "/x", Type: "ext4", Source: "/y", Options: []string{"bind"}}, `type "ext4" with a bind option`},
		{"bind without source", specs.Mount{Destination: "/x", Type: "bind"}, "mounts[0] (/x).source: a bind mount needs one"},
		{"no type", specs.Mount{Destination: "/x", Source: "/y"}, "mounts[0] (/x).type: missing"},
		{"tmpcopyup on proc", specs.Mount{Destination: "/proc", Type: "proc", Options: []string{"tmpcopyup"}}, `"tmpcopyup" applies to a tmpfs only`},
		{"cgroup data", specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Options: []string{"memory"}}, `"memory": berth mounts the machine's cgroup hierarchies`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseMount(0, tc.in, "/bundle")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Filesystem options on a bind mount, which the kernel does not apply
// to one: runc passes them on, configs carry them (runtime-tools puts
// mode=755,size=1k on binds), so they are dropped with a warning rather
// than refused.
func TestBindDataDroppedWithAWarning(t *testing.T) {
	var warned []string
	was := Warn
	Warn = func(err error) { warned = append(warned, err.Error()) }
	t.Cleanup(func() { Warn = was })
	m, err := parseMount(0, specs.Mount{Destination: "/x", Type: "bind", Source: "/y", Options: []string{"rbind", "mode=755", "size=1k", "ro"}}, "/bundle")
	require.NoError(t, err)
	assert.Empty(t, m.Data)
	assert.True(t, m.Bind)
	require.Len(t, warned, 1)
	assert.Contains(t, warned[0], "mounts[0] (/x).options: mode=755,size=1k: filesystem options of a bind mount")
}

// bundle makes a bundle directory with an empty rootfs/ in it.
func bundle(t *testing.T) string {
	t.Helper()
	b := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(b, "rootfs"), 0o755))
	return b
}

func TestNewRootfs(t *testing.T) {
	b := bundle(t)
	mode := os.FileMode(0o620)
	uid, gid := uint32(7), uint32(8)
	spec := &specs.Spec{
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{Terminal: true},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
		},
		Linux: &specs.Linux{
			RootfsPropagation: "rslave",
			MaskedPaths:       []string{"/proc/kcore", "/proc/../proc/keys"},
			ReadonlyPaths:     []string{"/proc/sys"},
			Namespaces:        []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}},
			Devices: []specs.LinuxDevice{
				{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid},
				{Path: "/dev/fuse", Type: "u", Major: 10, Minor: 229},
				{Path: "/dev/pipe", Type: "p"},
			},
		},
	}
	// The root through a symlink: resolved on the host.
	require.NoError(t, os.Symlink("rootfs", filepath.Join(b, "link")))
	spec.Root.Path = "link"
	r, err := NewRootfs(spec, b, true)
	require.NoError(t, err)
	real, err := filepath.EvalSymlinks(filepath.Join(b, "rootfs"))
	require.NoError(t, err)
	assert.Equal(t, real, r.Root)
	assert.True(t, r.Readonly)
	assert.True(t, r.NoPivot)
	assert.True(t, r.Console)
	assert.True(t, r.CgroupNS)
	assert.True(t, r.DevLinks)
	assert.Equal(t, uint64(unix.MS_SLAVE|unix.MS_REC), r.Propagation)
	assert.Equal(t, []string{"/proc/kcore", "/proc/keys"}, r.MaskedPaths)
	assert.Equal(t, []string{"/proc/sys"}, r.ReadonlyPaths)
	require.Len(t, r.Mounts, 2)
	// The defaults, less the /dev/null that linux.devices replaces,
	// then linux.devices in order.
	var paths []string
	for _, d := range r.Devices {
		paths = append(paths, d.Path)
	}
	assert.Equal(t, []string{"/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/null", "/dev/fuse", "/dev/pipe"}, paths)
	assert.Equal(t, Device{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, Mode: 0o620, UID: 7, GID: 8}, r.Devices[5])
	assert.Equal(t, Device{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, Mode: 0o666}, r.Devices[6])
	assert.Equal(t, Device{Path: "/dev/pipe", Type: "p", Mode: 0o666}, r.Devices[7])
	assert.Equal(t, Device{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0, Mode: 0o666}, r.Devices[4])
}

func TestRootfsTravelsAsJSON(t *testing.T) {
	b := bundle(t)
	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/data", Type: "bind", Source: "/y", Options: []string{"rbind", "rro", "nosuid", "rw", "rslave"}},
			{Destination: "/tmp", Type: "tmpfs", Options: []string{"tmpcopyup", "size=1m"}},
		},
		Linux: &specs.Linux{RootfsPropagation: "private", MaskedPaths: []string{"/a"}, ReadonlyPaths: []string{"/b"},
			Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}},
			Devices:    []specs.LinuxDevice{{Path: "/dev/p", Type: "p"}}},
	}
	r, err := NewRootfs(spec, b, true)
	require.NoError(t, err)
	data, err := json.Marshal(r)
	require.NoError(t, err)
	var back Rootfs
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, *r, back)
}

func TestNewRootfsDevicesAndMounts(t *testing.T) {
	b := bundle(t)
	spec := &specs.Spec{
		Root:   &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{{Destination: "/dev/null", Type: "bind", Source: "/dev/null", Options: []string{"bind"}}},
	}
	r, err := NewRootfs(spec, b, false)
	require.NoError(t, err)
	for _, d := range r.Devices {
		assert.NotEqual(t, "/dev/null", d.Path, "a mount covers it: no node to make there")
	}
	assert.Len(t, r.Devices, 5)
	spec.Linux = &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}}}
	_, err = NewRootfs(spec, b, false)
	require.ErrorContains(t, err, "linux.devices[0] (/dev/null): a mount of config.json lands there too")
}

func TestNewRootfsDevBound(t *testing.T) {
	b := bundle(t)
	spec := &specs.Spec{
		Root:   &specs.Root{Path: filepath.Join(b, "rootfs")},
		Mounts: []specs.Mount{{Destination: "/dev", Type: "bind", Source: "/dev", Options: []string{"rbind"}}},
	}
	r, err := NewRootfs(spec, "/elsewhere", false)
	require.NoError(t, err)
	assert.Empty(t, r.Devices, "runc makes no nodes in a bound /dev: they would be the host's")
	assert.False(t, r.DevLinks)

	spec.Linux = &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}}
	_, err = NewRootfs(spec, b, false)
	require.ErrorContains(t, err, "linux.devices: cannot be made in a /dev that mounts[0] brings from the host (bind /dev)")

	spec.Mounts = []specs.Mount{{Destination: "/dev", Type: "devtmpfs", Source: "devtmpfs"}}
	_, err = NewRootfs(spec, b, false)
	require.ErrorContains(t, err, "mounts[0] brings from the host (devtmpfs devtmpfs)")
	spec.Linux = nil
	r, err = NewRootfs(spec, b, false)
	require.NoError(t, err)
	assert.Empty(t, r.Devices, "the host's devtmpfs: no node made in it")
}

func TestNewRootfsRefusals(t *testing.T) {
	b := bundle(t)
	require.NoError(t, os.WriteFile(filepath.Join(b, "file"), nil, 0o644))
	for _, tc := range []struct {
		name string
		edit func(s *specs.Spec)
		want string
	}{
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path: missing"},
		{"root missing", func(s *specs.Spec) { s.Root.Path = "nothere" }, "root.path: lstat"},
		{"root a file", func(s *specs.Spec) { s.Root.Path = "file" }, "not a directory"},
		{"root /", func(s *specs.Spec) { s.Root.Path = "/" }, "root.path: the host's /"},
		{"mount label", func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" }, "linux.mountLabel: not supported"},
		{"propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, `linux.rootfsPropagation: "sideways"`},
		{"masked relative", func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"proc/kcore"} }, `linux.maskedPaths[0]: "proc/kcore" is not an absolute path`},
		{"readonly relative", func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"/a", "b"} }, `linux.readonlyPaths[1]`},
		{"mount", func(s *specs.Spec) { s.Mounts = []specs.Mount{{Destination: "/x"}} }, "mounts[0] (/x).type: missing"},
		{"device type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}}
		}, `linux.devices[0] (/dev/x).type: "q"`},
		{"device path", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/x", Type: "c"}}
		}, `linux.devices[0] (dev/x).path`},
		{"device twice", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c"}, {Path: "/dev//x", Type: "c"}}
		}, `linux.devices[1] (/dev//x).path: given twice`},
		{"device numbers", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "b", Major: -1}}
		}, `out of range`},
		{"device mode", func(s *specs.Spec) {
			m := os.ModeDir | 0o666
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c", FileMode: &m}}
		}, `fileMode`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &specs.Spec{Root: &specs.Root{Path: "rootfs"}, Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}}}}
			tc.edit(s)
			_, err := NewRootfs(s, b, false)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseMountinfo(t *testing.T) {
	text := "22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n" +
		"30 22 0:30 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw\n" +
		"40 1 8:1 /var/lib /with\\040space rw - ext4 /dev/sda1 rw\n"
	ms, err := parseMountinfo(text)
	require.NoError(t, err)
	assert.Equal(t, []mountinfoEntry{
		{ID: 22, Point: "/proc", Root: "/", FSType: "proc"},
		{ID: 30, Point: "/proc/sys/fs/binfmt_misc", Root: "/", FSType: "autofs"},
		{ID: 40, Point: "/with space", Root: "/var/lib", FSType: "ext4"},
	}, ms)
	all := append(ms, mountinfoEntry{Point: "/"})
	for p, want := range map[string]string{"/proc/1": "/proc", "/procfoo": "/", "/with space/x": "/with space", "/": "/"} {
		got, err := mountPointOf(all, p)
		require.NoError(t, err)
		assert.Equal(t, want, got, p)
	}
	_, err = parseMountinfo("garbage\n")
	require.Error(t, err)
}

func TestHostNode(t *testing.T) {
	if _, err := os.Stat("/sys/dev/char/1:7/uevent"); err != nil {
		t.Skip("no /sys/dev on this machine")
	}
	for _, tc := range []struct {
		d    Device
		want string
	}{
		{Device{Path: "/dev/full", Type: "c", Major: 1, Minor: 7}, "/dev/full"},
		{Device{Path: "/dev/berth-test-full", Type: "c", Major: 1, Minor: 7}, "/dev/full"},
		{Device{Path: "/dev/null", Type: "c", Major: 1, Minor: 7}, "/dev/full"}, // the path's node has other numbers
		{Device{Path: "/dev/berth-test-none", Type: "c", Major: 4095, Minor: 1048575}, "/dev/berth-test-none"},
	} {
		assert.Equal(t, tc.want, hostNode(tc.d), "%+v", tc.d)
	}
}
