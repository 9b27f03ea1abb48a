package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/06-images/image"
)

// chownedLab is remapLab with the fallback forced: this machine's data
// root can idmap, and the test cannot find one that cannot at will.
func chownedLab(t *testing.T, user string) *lab {
	l := prepareLab(t)
	require.NoError(t, os.Chmod(filepath.Dir(l.opts.DataRoot), 0o711))
	l.opts.UsernsRemap, l.opts.NoIdmap = user, true
	l.start()
	return l
}

// tarOwners lists "name uid:gid" for each entry of a tar.
func tarOwners(t *testing.T, archive string) []string {
	t.Helper()
	var out []string
	for _, e := range labtest.ReadTar(t, strings.NewReader(archive)) {
		out = append(out, fmt.Sprintf("%s %d:%d", strings.TrimSuffix(e.Name, "/"), e.Uid, e.Gid))
	}
	return out
}

// busyboxLayers are the layer directories of the lab's busybox.
func busyboxLayers(t testing.TB, l *lab) []string {
	t.Helper()
	store, err := image.Open(image.StoreDir(l.opts.DataRoot))
	require.NoError(t, err)
	img, err := store.Get("busybox")
	require.NoError(t, err)
	dirs, err := store.LayerDirs(img.ID)
	require.NoError(t, err)
	return dirs
}

// copies lists the chowned copies of the lab's mapping.
func copies(t *testing.T, l *lab) []string {
	t.Helper()
	entries, err := os.ReadDir(l.d.remapDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestUsernsRemapChowned runs berthd --userns-remap on chowned copies of
// the layers (the fallback where the data root cannot idmap), through
// the docker CLI: root inside, the image's files root's inside, one copy
// per layer shared by the containers, and commit, export, cp and build
// giving the image's own ids back; rmi removes the copies.
func TestUsernsRemapChowned(t *testing.T) {
	name, uids, gids := remapUser(t)
	l := chownedLab(t, name)
	bind := hostDir(t)
	mapped := fmt.Sprintf("%d:%d", uids.Base, gids.Base)

	assert.Contains(t, l.ok("info", "--format", "{{json .DriverStatus}}"), `"chowned copies in `+l.d.remapDir()+`"`)
	assert.Empty(t, copies(t, l), "no copy before a container needs one")

	out := l.ok("run", "--rm", "-v", bind+":/host", "busybox", "sh", "-c",
		"id -u; cat /proc/self/uid_map; stat -c %u:%g /bin/busybox /etc /; touch /host/made-inside")
	assert.Equal(t, "0\n"+mapLine(uids)+"0:0\n0:0\n0:0\n", out, "root, and the image's files root's inside")
	assert.Equal(t, mapped, owner(t, filepath.Join(bind, "made-inside")), "the mapped root's on the host")

	// One copy per layer (and one of the mount point layer), owned by
	// the mapped root, shared by every container of the mapping.
	dirs := busyboxLayers(t, l)
	made := copies(t, l)
	require.Len(t, made, len(dirs)+1)
	top, err := l.d.chownedCopyOf(dirs[len(dirs)-1])
	require.NoError(t, err)
	assert.Equal(t, mapped, owner(t, filepath.Join(top, "bin", "busybox")))
	assert.Equal(t, "0:0", owner(t, filepath.Join(dirs[len(dirs)-1], "bin", "busybox")), "the image's own layer is untouched")
	fi, err := os.Stat(filepath.Join(top, "bin", "busybox"))
	require.NoError(t, err)
	ino := strconv.FormatUint(fi.Sys().(*syscall.Stat_t).Ino, 10) + "\n"
	a := strings.TrimSpace(l.ok("run", "-d", "busybox", "sleep", "1000"))
	b := strings.TrimSpace(l.ok("run", "-d", "busybox", "sleep", "1000"))
	assert.Equal(t, ino, l.ok("exec", a, "stat", "-c", "%i", "/bin/busybox"))
	assert.Equal(t, ino, l.ok("exec", b, "stat", "-c", "%i", "/bin/busybox"))
	assert.Equal(t, made, copies(t, l), "no new copy for more containers")
	l.ok("rm", "-f", a, b)

	// --userns host: the image's own layers, no copy.
	assert.Equal(t, mapLine(namespace.IDRange{Base: 0, Size: 4294967295})+"0:0\n",
		l.ok("run", "--rm", "--userns", "host", "busybox", "sh", "-c", "cat /proc/self/uid_map; stat -c %u:%g /bin/busybox"))

	// A volume the remapped root writes to; on the disk its files are
	// the mapped root's, as with dockerd.
	out = l.ok("run", "--rm", "-v", "chowned-vol:/data", "busybox", "sh", "-c", "echo hi > /data/f && stat -c %u:%g /data /data/f")
	assert.Equal(t, "0:0\n0:0\n", out)
	v, err := l.d.volumes.Get("chowned-vol")
	require.NoError(t, err)
	assert.Equal(t, mapped, owner(t, v.Mountpoint))
	assert.Equal(t, mapped, owner(t, filepath.Join(v.Mountpoint, "f")))
	l.ok("volume", "rm", "chowned-vol")
	l.ok("volume", "create", "chowned-vol2")
	assert.Equal(t, "0:0\n", l.ok("run", "--rm", "-v", "chowned-vol2:/data", "busybox", "sh", "-c", "touch /data/g && stat -c %u:%g /data/g"))
	l.ok("volume", "rm", "chowned-vol2")

	// The writable layer has host ids on the disk; commit, export and
	// cp give the container's.
	l.ok("run", "--name", "chowned-commit", "busybox", "sh", "-c", "echo x > /etc/made && chown 33:33 /etc/made")
	rw, err := l.d.findRWLayer("chowned-commit")
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%d:%d", uids.Base+33, gids.Base+33), owner(t, filepath.Join(rw.Upper(), "etc", "made")))
	assert.Contains(t, l.ok("diff", "chowned-commit"), "A /etc/made")
	l.ok("commit", "chowned-commit", "chowned-img")
	assert.Equal(t, "33:33\n0:0\n0:0\n", l.ok("run", "--rm", "--userns", "host", "chowned-img", "stat", "-c", "%u:%g", "/etc/made", "/etc", "/bin/busybox"))
	assert.Equal(t, "33:33\n0:0\n", l.ok("run", "--rm", "chowned-img", "stat", "-c", "%u:%g", "/etc/made", "/bin/busybox"), "remapped again")
	owners := tarOwners(t, l.ok("cp", "chowned-commit:/etc", "-"))
	assert.Contains(t, owners, "etc/made 33:33")
	assert.Contains(t, owners, "etc 0:0")
	assert.Contains(t, owners, "etc/passwd 0:0")
	exported := tarOwners(t, l.ok("export", "chowned-commit"))
	assert.Contains(t, exported, "etc/made 33:33")
	assert.Contains(t, exported, "bin/busybox 0:0")
	// cp into the stopped container: the archive's owner inside.
	src := filepath.Join(hostDir(t), "f")
	require.NoError(t, os.WriteFile(src, []byte("hi\n"), 0o644))
	require.NoError(t, os.Chown(src, 44, 44))
	l.ok("cp", src, "chowned-commit:/root/f")
	assert.Equal(t, fmt.Sprintf("%d:%d", uids.Base+44, gids.Base+44), owner(t, filepath.Join(rw.Upper(), "root", "f")))
	l.ok("rm", "chowned-commit")

	// A build's RUN too.
	_, errOut, code := l.docker("FROM busybox\nRUN id -u > /who && touch /f && chown 33:33 /f\n", "build", "-q", "-t", "chowned-built", "-")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "0\n33:33\n0:0\n", l.ok("run", "--rm", "--userns", "host", "chowned-built", "sh", "-c", "cat /who; stat -c %u:%g /f /who"))

	// rmi removes the copies of the layers that go with the image.
	l.ok("rmi", "chowned-img", "chowned-built")
	before := len(copies(t, l))
	l.ok("rmi", "busybox")
	assert.Len(t, copies(t, l), before-len(dirs), "only the mount point layer's copy is left")
}

// TestUsernsRemapChownedSameAsDockerd: dockerd --userns-remap always
// runs on chowned copies; berthd's fallback shows the same inside.
func TestUsernsRemapChownedSameAsDockerd(t *testing.T) {
	name, uids, gids := remapUser(t)
	l := chownedLab(t, name)
	engines := sideBySide(t, l, labtest.StartDockerd(t, "--userns-remap", name))
	results, cp := map[string][]string{}, map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		bind := hostDir(t)
		var got []string
		got = append(got, must("run", "--rm", "-v", bind+":/host", "busybox", "sh", "-c",
			"id; stat -c %u:%g /bin/busybox /etc /; touch /host/f; echo x > /etc/x && stat -c %u:%g /etc/x"))
		got = append(got, owner(t, filepath.Join(bind, "f")))
		must("volume", "create", "cmp-chowned")
		got = append(got, must("run", "--rm", "-v", "cmp-chowned:/data", "busybox", "sh", "-c", "echo hi > /data/f; stat -c %u:%g /data /data/f"))
		must("volume", "rm", "cmp-chowned")
		must("run", "--name", "cmp-chowned-c", "busybox", "sh", "-c", "echo x > /etc/made && chown 33:33 /etc/made")
		for _, o := range tarOwners(t, must("export", "cmp-chowned-c")) {
			if o == "etc/made 33:33" || strings.HasPrefix(o, "bin/busybox ") {
				got = append(got, o)
			}
		}
		must("commit", "cmp-chowned-c", "cmp-chowned-img")
		// Remapped: dockerd's --userns host sees its remapped store's
		// host ids, berth's the image's own.
		got = append(got, must("run", "--rm", "cmp-chowned-img", "stat", "-c", "%u:%g", "/etc/made"))
		must("rmi", "cmp-chowned-img")
		cp[e.name] = tarOwners(t, must("cp", "cmp-chowned-c:/etc/made", "-"))
		must("rm", "cmp-chowned-c")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
	// One difference: dockerd's cp out of a remapped container writes
	// the host's ids, berth's the container's, as commit and export do.
	assert.Equal(t, []string{fmt.Sprintf("made %d:%d", uids.Base+33, gids.Base+33)}, cp["dockerd"])
	assert.Equal(t, []string{"made 33:33"}, cp["berthd"])
}

// TestCopyShifted copies a fake layer with what layers hold, and checks
// that everything but the owners is as it was.
func TestCopyShifted(t *testing.T) {
	labtest.Privileged(t)
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	uids, gids := namespace.IDRange{Base: 165536, Size: 65536}, namespace.IDRange{Base: 300000, Size: 65536}
	must := func(err error) { t.Helper(); require.NoError(t, err) }
	must(os.MkdirAll(filepath.Join(src, "usr", "bin"), 0o755))
	must(os.WriteFile(filepath.Join(src, "usr", "bin", "su"), []byte("su"), 0o644))
	must(os.Chown(filepath.Join(src, "usr", "bin", "su"), 33, 34))
	must(os.Chmod(filepath.Join(src, "usr", "bin", "su"), 0o4755|os.ModeSetuid))
	must(os.Link(filepath.Join(src, "usr", "bin", "su"), filepath.Join(src, "usr", "bin", "su2")))
	must(os.Symlink("bin/su", filepath.Join(src, "usr", "link")))
	must(os.Lchown(filepath.Join(src, "usr", "link"), 5, 5))
	must(unix.Mknod(filepath.Join(src, "gone"), unix.S_IFCHR, 0)) // a whiteout
	must(os.Mkdir(filepath.Join(src, "opaque"), 0o700))
	must(unix.Lsetxattr(filepath.Join(src, "opaque"), "trusted.overlay.opaque", []byte("y"), 0))
	must(os.WriteFile(filepath.Join(src, "far"), nil, 0o600))
	must(os.Chown(filepath.Join(src, "far"), 70000, 70000))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(os.Chtimes(filepath.Join(src, "usr"), old, old))

	must(copyShifted(src, dst, uids, gids))

	tests := []struct {
		path, owner string
		mode        os.FileMode
	}{
		{".", "165536:300000", os.ModeDir | 0o755},
		{"usr", "165536:300000", os.ModeDir | 0o755},
		{"usr/bin/su", "165569:300034", os.ModeSetuid | 0o755},
		{"usr/link", "165541:300005", os.ModeSymlink | 0o777},
		{"gone", "165536:300000", os.ModeDevice | os.ModeCharDevice},
		{"opaque", "165536:300000", os.ModeDir | 0o700},
		{"far", "70000:70000", 0o600}, // not in the ranges: nobody inside
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			fi, err := os.Lstat(filepath.Join(dst, tt.path))
			require.NoError(t, err)
			st := fi.Sys().(*syscall.Stat_t)
			assert.Equal(t, tt.owner, fmt.Sprintf("%d:%d", st.Uid, st.Gid))
			assert.Equal(t, tt.mode, fi.Mode()&^os.ModeTemporary)
		})
	}
	a, err := os.Stat(filepath.Join(dst, "usr", "bin", "su"))
	require.NoError(t, err)
	b, err := os.Stat(filepath.Join(dst, "usr", "bin", "su2"))
	require.NoError(t, err)
	assert.True(t, os.SameFile(a, b), "a hard link stays one")
	target, err := os.Readlink(filepath.Join(dst, "usr", "link"))
	require.NoError(t, err)
	assert.Equal(t, "bin/su", target)
	val := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(dst, "opaque"), "trusted.overlay.opaque", val)
	require.NoError(t, err)
	assert.Equal(t, "y", string(val[:n]))
	fi, err := os.Stat(filepath.Join(dst, "usr"))
	require.NoError(t, err)
	assert.True(t, fi.ModTime().Equal(old), "a directory's time survives its entries' copies")
}

// TestChownedCopies: a copy is made once, complete or absent, and goes
// when its layer goes (sweepCopies), as do the leftovers of one
// interrupted.
func TestChownedCopies(t *testing.T) {
	labtest.Privileged(t)
	d := &Daemon{opts: Options{DataRoot: t.TempDir()}, chowned: true,
		remap: &remap{UIDs: namespace.IDRange{Base: 165536, Size: 65536}, GIDs: namespace.IDRange{Base: 165536, Size: 65536}}}
	src := filepath.Join(t.TempDir(), "diff")
	require.NoError(t, os.MkdirAll(filepath.Join(src, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))

	cp, err := d.chownedCopyOf(src)
	require.NoError(t, err)
	assert.Equal(t, "165536:165536", owner(t, filepath.Join(cp, "etc", "passwd")))
	first, err := os.Stat(filepath.Join(cp, "etc", "passwd"))
	require.NoError(t, err)
	again, err := d.chownedCopyOf(src)
	require.NoError(t, err)
	assert.Equal(t, cp, again)
	second, err := os.Stat(filepath.Join(again, "etc", "passwd"))
	require.NoError(t, err)
	assert.True(t, os.SameFile(first, second), "made once")

	// A copy interrupted by a crash, and one whose layer went.
	require.NoError(t, os.Mkdir(filepath.Join(d.remapDir(), "tmp-123"), 0o700))
	require.NoError(t, d.sweepCopies())
	assert.Len(t, copies(t, &lab{d: d}), 1, "the interrupted copy is gone, the used one stays")
	require.NoError(t, os.RemoveAll(src))
	require.NoError(t, d.sweepCopies())
	assert.Empty(t, copies(t, &lab{d: d}))
}

// BenchmarkChownedCopy measures the first use of busybox by a remapped
// container without idmapped mounts: the chowned copy of its layers,
// synced to the disk. Each round is another mapping, which has no copy.
func BenchmarkChownedCopy(b *testing.B) {
	dirs := busyboxLayers(b, prepareLab(b))
	d := &Daemon{opts: Options{DataRoot: b.TempDir()}, chowned: true}
	for i := 0; b.Loop(); i++ {
		r := namespace.IDRange{Base: 100000 + i*65536, Size: 65536}
		d.remap = &remap{UIDs: r, GIDs: r}
		_, err := d.chownedLayers(dirs)
		require.NoError(b, err)
	}
}
