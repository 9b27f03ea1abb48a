package volume_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/04-cow-layers/volume"
)

func TestStoreCreateGetListRemove(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s, err := volume.Open(root)
	require.NoError(t, err)

	v, created, err := s.Create("data", map[string]string{"a": "1"}, nil)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, "data", v.Name)
	assert.Equal(t, filepath.Join(root, "volumes", "data", "_data"), v.Mountpoint)
	assert.DirExists(t, v.Mountpoint)
	assert.False(t, v.Anonymous())
	assert.WithinDuration(t, time.Now(), v.CreatedAt, time.Minute)

	// A second create returns the volume as it is.
	again, created, err := s.Create("data", map[string]string{"b": "2"}, nil)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, map[string]string{"a": "1"}, again.Labels)
	_, _, err = s.Create("data", nil, map[string]string{"type": "tmpfs"})
	require.ErrorIs(t, err, volume.ErrConflict, "other options: not the volume asked for")

	anon, created, err := s.Create("", nil, nil)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Regexp(t, `^[0-9a-f]{64}$`, anon.Name)
	assert.True(t, anon.Anonymous())
	assert.Equal(t, map[string]string{volume.AnonymousLabel: ""}, anon.Labels)

	// Another store on the same root sees the same volumes (a restarted
	// daemon, or chapter 04's program next to berthd).
	s2, err := volume.Open(root)
	require.NoError(t, err)
	list, err := s2.List()
	require.NoError(t, err)
	require.Len(t, list, 2)
	names := []string{list[0].Name, list[1].Name}
	assert.Contains(t, names, "data")
	assert.Contains(t, names, anon.Name)
	got, err := s2.Get("data")
	require.NoError(t, err)
	assert.Equal(t, v.CreatedAt.UnixNano(), got.CreatedAt.UnixNano())

	require.NoError(t, os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("x"), 0o644))
	require.NoError(t, s.Remove("data"))
	_, err = s.Get("data")
	require.ErrorIs(t, err, volume.ErrNotFound)
	require.ErrorIs(t, s.Remove("data"), volume.ErrNotFound)
	assert.NoDirExists(t, filepath.Join(root, "volumes", "data"))
	entries, err := os.ReadDir(filepath.Join(root, "volumes"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "nothing left but the anonymous volume")
}

func TestStoreRefusesBadNamesAndOptions(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s, err := volume.Open(root)
	require.NoError(t, err)
	bindDir := t.TempDir()
	tests := []struct {
		name        string
		opts        map[string]string
		errContains string
	}{
		{name: "../escape", errContains: "invalid characters"},
		{name: "a/b", errContains: "invalid characters"},
		{name: ".hidden", errContains: "invalid characters"},
		{name: "x", errContains: "invalid characters"},
		{name: "ok1", opts: map[string]string{"size": "1g"}, errContains: `option "size" is not supported`},
		{name: "ok2", opts: map[string]string{"type": "nfs", "device": ":/export"}, errContains: "type=nfs is not supported"},
		{name: "ok3", opts: map[string]string{"device": "/dev/sda1"}, errContains: "mounts no devices"},
		{name: "ok4", opts: map[string]string{"type": "tmpfs", "o": "size=1m,huge=always"}, errContains: `"huge=always" is not supported`},
		{name: "ok5", opts: map[string]string{"o": "bind", "device": "relative"}, errContains: "absolute"},
		{name: "ok6", opts: map[string]string{"o": "bind,ro", "device": bindDir}, errContains: `option "ro" is not supported`},
		{name: "ok7", opts: map[string]string{"type": "tmpfs", "device": "/dev/sda"}, errContains: "a tmpfs has no device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Create(tt.name, nil, tt.opts)
			require.ErrorIs(t, err, volume.ErrInvalid)
			assert.Contains(t, err.Error(), tt.errContains)
		})
	}
	list, err := s.List()
	require.NoError(t, err)
	assert.Empty(t, list, "a refused volume leaves nothing")

	for _, opts := range []map[string]string{
		{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=1777"},
		{"type": "none", "o": "bind", "device": bindDir},
	} {
		require.NoError(t, volume.CheckOptions(opts), "%v", opts)
	}
}

func TestVolumeMount(t *testing.T) {
	t.Parallel()
	v := volume.Volume{Name: "v", Mountpoint: "/r/volumes/v/_data"}
	assert.Equal(t, rootfs.Volume{Type: rootfs.TypeVolume, Name: "v", Source: "/r/volumes/v/_data", Target: "/data", ReadOnly: true},
		v.Mount("/data", true, false))
	v.Options = map[string]string{"type": "tmpfs", "o": "size=1m"}
	assert.Equal(t, rootfs.Volume{Type: rootfs.TypeTmpfs, Target: "/data", Tmpfs: []string{"size=1m"}}, v.Mount("/data", false, false))
	v.Options = map[string]string{"o": "bind", "device": "/srv"}
	assert.Equal(t, rootfs.Volume{Type: rootfs.TypeVolume, Name: "v", Source: "/srv", Target: "/data", NoCopy: true}, v.Mount("/data", false, true))
}

func TestResolve(t *testing.T) {
	t.Parallel()
	s, err := volume.Open(t.TempDir())
	require.NoError(t, err)
	_, _, err = s.Create("old", nil, nil)
	require.NoError(t, err)
	in := []rootfs.Volume{
		{Type: rootfs.TypeBind, Source: "/srv", Target: "/srv"},
		{Type: rootfs.TypeVolume, Name: "old", Target: "/a"},
		{Type: rootfs.TypeVolume, Name: "new", Target: "/b", ReadOnly: true},
		{Type: rootfs.TypeVolume, Target: "/c", NoCopy: true},
	}
	out, created, err := s.Resolve(in)
	require.NoError(t, err)
	require.Len(t, created, 2, "new and the anonymous one")
	assert.Equal(t, in[0], out[0])
	for _, v := range out[1:] {
		assert.Equal(t, rootfs.TypeVolume, v.Type)
		assert.DirExists(t, v.Source)
	}
	assert.True(t, out[2].ReadOnly)
	assert.True(t, out[3].NoCopy)
	assert.True(t, created[1].Anonymous())
}

// TestOpenSweepsWhatADeadProcessLeft: a create or remove cut short by a
// kill -9 leaves a .tmp- or .rm- directory, which the next Open deletes.
func TestOpenSweepsWhatADeadProcessLeft(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "volumes")
	// A pid that is not running: the largest possible one is not.
	dead := filepath.Join(dir, ".tmp-4194304-0123456789abcdef")
	require.NoError(t, os.MkdirAll(filepath.Join(dead, "_data"), 0o755))
	mine := filepath.Join(dir, ".rm-"+strconv.Itoa(os.Getpid())+"-0123456789abcdef")
	require.NoError(t, os.MkdirAll(mine, 0o755))
	_, err := volume.Open(root)
	require.NoError(t, err)
	assert.NoDirExists(t, dead)
	assert.DirExists(t, mine, "a live process's work in progress stays")
}

// TestCopyUp: an empty volume gets the image's files at the target with
// their modes, owners, times and symlinks, and nothing is followed out.
func TestCopyUp(t *testing.T) {
	labtest.Privileged(t) // chown to other users, mknod
	t.Parallel()
	root := t.TempDir()
	data := filepath.Join(root, "data")
	require.NoError(t, os.MkdirAll(filepath.Join(data, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(data, "sub", "a.txt"), []byte("hello\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(data, "suid"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.Symlink("/etc", filepath.Join(data, "etc")))
	require.NoError(t, os.Symlink("../../../../../..", filepath.Join(data, "up")))
	require.NoError(t, unix.Mkfifo(filepath.Join(data, "fifo"), 0o600))
	require.NoError(t, os.Chown(filepath.Join(data, "sub", "a.txt"), 1234, 5678))
	require.NoError(t, os.Chown(filepath.Join(data, "suid"), 0, 0))
	require.NoError(t, unix.Chmod(filepath.Join(data, "suid"), 0o4755))
	require.NoError(t, os.Chmod(filepath.Join(data, "sub"), 0o750))
	require.NoError(t, os.Lchown(filepath.Join(data, "etc"), 7, 8))
	require.NoError(t, os.Chown(data, 1000, 1001))
	require.NoError(t, unix.Chmod(data, 0o1777))
	old := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	require.NoError(t, os.Chtimes(filepath.Join(data, "sub", "a.txt"), old, old))
	require.NoError(t, os.Chtimes(filepath.Join(data, "sub"), old, old))

	dst := filepath.Join(t.TempDir(), "_data")
	require.NoError(t, os.Mkdir(dst, 0o755))
	require.NoError(t, volume.CopyUp(root, "/data", dst))

	st := stat(t, dst)
	assert.Equal(t, uint32(0o1777), st.Mode&0o7777, "the volume's root takes the directory's mode")
	assert.Equal(t, [2]uint32{1000, 1001}, [2]uint32{st.Uid, st.Gid})
	content, err := os.ReadFile(filepath.Join(dst, "sub", "a.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(content))
	st = stat(t, filepath.Join(dst, "sub", "a.txt"))
	assert.Equal(t, [2]uint32{1234, 5678}, [2]uint32{st.Uid, st.Gid})
	assert.Equal(t, uint32(0o644), st.Mode&0o7777)
	assert.Equal(t, old.UnixNano(), st.Mtim.Nano())
	st = stat(t, filepath.Join(dst, "sub"))
	assert.Equal(t, uint32(0o750), st.Mode&0o7777)
	assert.Equal(t, old.UnixNano(), st.Mtim.Nano(), "a directory keeps its time after its entries are copied")
	assert.Equal(t, uint32(0o4755), stat(t, filepath.Join(dst, "suid")).Mode&0o7777, "setuid survives the chown")
	assert.Equal(t, uint32(unix.S_IFIFO), stat(t, filepath.Join(dst, "fifo")).Mode&unix.S_IFMT)
	for link, target := range map[string]string{"etc": "/etc", "up": "../../../../../.."} {
		got, err := os.Readlink(filepath.Join(dst, link))
		require.NoError(t, err, "%s is copied as a symlink", link)
		assert.Equal(t, target, got)
	}
	st = stat(t, filepath.Join(dst, "etc"))
	assert.Equal(t, [2]uint32{7, 8}, [2]uint32{st.Uid, st.Gid}, "the link's own owner")

	// Once the volume holds anything, it is not filled again.
	require.NoError(t, os.WriteFile(filepath.Join(data, "late"), nil, 0o644))
	require.NoError(t, volume.CopyUp(root, "/data", dst))
	assert.NoFileExists(t, filepath.Join(dst, "late"))
}

// TestCopyUpResolvesTheTargetInTheRoot: a target that is a symlink out of
// the root (to /etc, or ../..) leads to the root's own /etc; a missing
// target copies nothing.
func TestCopyUpResolvesTheTargetInTheRoot(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "image-only"), nil, 0o644))
	require.NoError(t, os.Symlink("/etc", filepath.Join(root, "abs")))
	require.NoError(t, os.Symlink("../../../../../../../etc", filepath.Join(root, "rel")))
	for _, target := range []string{"/abs", "/rel", "/missing"} {
		t.Run(target, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "_data")
			require.NoError(t, os.Mkdir(dst, 0o755))
			require.NoError(t, volume.CopyUp(root, target, dst))
			entries, err := os.ReadDir(dst)
			require.NoError(t, err)
			if target == "/missing" {
				assert.Empty(t, entries)
				return
			}
			require.Len(t, entries, 1, "the root's /etc, not the host's")
			assert.Equal(t, "image-only", entries[0].Name())
		})
	}
}

func stat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(p, &st))
	return st
}

// BenchmarkCreateAndResolve is the store's part of `run -v NAME:/path`
// for a new volume: its creation, and its resolution to what chapter 03
// mounts. (The bind mount itself is chapter 03's, one mount(2).)
func BenchmarkCreateAndResolve(b *testing.B) {
	s, err := volume.Open(b.TempDir())
	require.NoError(b, err)
	for i := 0; b.Loop(); i++ {
		name := "v" + strconv.Itoa(i)
		vols, _, err := s.Resolve([]rootfs.Volume{{Type: rootfs.TypeVolume, Name: name, Target: "/data"}})
		if err != nil || vols[0].Source == "" {
			b.Fatal(err)
		}
	}
}

// TestCopyUpThatFailsLeavesTheVolumeEmpty: a copy cut short (here by a
// full filesystem) is removed, so the next start copies again rather
// than take half a copy for a filled volume.
func TestCopyUpThatFailsLeavesTheVolumeEmpty(t *testing.T) {
	labtest.Privileged(t)
	t.Parallel()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "data", "a"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "data", "a", "small"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "data", "big"), make([]byte, 1<<20), 0o644))
	dst := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", dst, "tmpfs", 0, "size=256k"))
	t.Cleanup(func() { _ = unix.Unmount(dst, unix.MNT_DETACH) })

	err := volume.CopyUp(root, "/data", dst)
	require.ErrorIs(t, err, unix.ENOSPC)
	entries, err := os.ReadDir(dst)
	require.NoError(t, err)
	assert.Empty(t, entries)
}
