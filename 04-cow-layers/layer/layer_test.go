package layer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// tree describes files to create: a path ending in "/" is a directory,
// "WHITEOUT" makes a whiteout, "OPAQUE/" an opaque directory, anything
// else is a file's content.
type tree map[string]string

const (
	whiteout = "WHITEOUT"
	opaque   = "OPAQUE/"
)

func makeTree(t *testing.T, root string, files tree) {
	t.Helper()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths) // parents first
	for _, p := range paths {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		switch content := files[p]; {
		case content == whiteout:
			require.NoError(t, MakeWhiteout(full))
		case content == opaque:
			require.NoError(t, os.MkdirAll(full, 0o755))
			require.NoError(t, MakeOpaque(full))
		case strings.HasSuffix(p, "/"):
			require.NoError(t, os.MkdirAll(full, 0o755))
		default:
			require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
		}
	}
}

func changeStrings(changes []Change) []string {
	s := make([]string, len(changes))
	for i, c := range changes {
		s[i] = c.String()
	}
	return s
}

// inMountNamespace runs f on an OS thread of its own, in a mount
// namespace of its own: whatever f mounts is invisible to the host and
// disappears with the thread, which exits afterwards (a goroutine that
// ends locked to its thread takes the thread with it). f must not start
// goroutines, which would run in the host's namespace.
func inMountNamespace(t *testing.T, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("private mounts: %w", err)
			return
		}
		errc <- f()
	}()
	require.NoError(t, <-errc)
}

func TestKindLetters(t *testing.T) {
	assert.Equal(t, "A /x", Change{Added, "/x"}.String())
	assert.Equal(t, "C /x", Change{Changed, "/x"}.String())
	assert.Equal(t, "D /x", Change{Deleted, "/x"}.String())
	assert.Equal(t, "Kind(7)", Kind(7).String())
}

func TestOptionsListTheTopLayerFirstAndEscape(t *testing.T) {
	m := MountSpec{Lower: []string{"/img/base", "/img/a:b", "/img/top,1"}, Upper: `/c/up\x`, Work: "/c/work"}
	assert.Equal(t,
		`lowerdir=/img/top\,1:/img/a\:b:/img/base,upperdir=/c/up\\x,workdir=/c/work,redirect_dir=nofollow,metacopy=off,index=off`,
		m.Options())
	m.UserXattr = true
	assert.True(t, strings.HasSuffix(m.Options(), ",userxattr"))
	m.Volatile = true
	assert.True(t, strings.HasSuffix(m.Options(), ",userxattr,volatile"))
}

// A volatile overlay leaves a marker that makes overlay refuse the next
// mount of the same upper directory; a Volatile MountSpec mounts again
// all the same (a `restart` of a `run --rm` container).
func TestAVolatileLayerMountsAgain(t *testing.T) {
	labtest.Privileged(t)
	dir := t.TempDir()
	lower := filepath.Join(dir, "image")
	makeTree(t, lower, tree{"f": "image"})
	l, err := Create(filepath.Join(dir, "state"), labtest.Unique("c"), []string{lower})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Remove() })
	spec := l.MountSpec()
	spec.Volatile = true
	for run := range 2 {
		inMountNamespace(t, func() error {
			if err := spec.Mount(l.Merged()); err != nil {
				return fmt.Errorf("mount %d: %w", run+1, err)
			}
			if err := os.WriteFile(filepath.Join(l.Merged(), "f"), []byte(fmt.Sprint(run)), 0o644); err != nil {
				return err
			}
			return Unmount(l.Merged())
		})
		assert.DirExists(t, spec.volatileMarker(), "overlay marks a layer mounted volatile")
	}
	b, err := os.ReadFile(filepath.Join(l.Upper(), "f"))
	require.NoError(t, err)
	assert.Equal(t, "1", string(b), "the second run found and changed the first one's layer")

	// Without Volatile, overlay itself refuses a marked layer: the
	// marker is what Mount removes.
	spec.Volatile = false
	inMountNamespace(t, func() error {
		err := spec.Mount(l.Merged())
		if err == nil {
			_ = Unmount(l.Merged())
			return errors.New("overlay mounted a layer marked volatile")
		}
		return nil
	})
}

func TestParseImage(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	dirs, err := ParseImage(a + ":" + b)
	require.NoError(t, err)
	assert.Equal(t, []string{a, b}, dirs, "bottom first, as given")

	t.Chdir(a)
	require.NoError(t, os.Mkdir("rel", 0o755))
	dirs, err = ParseImage("rel")
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(a, "rel")}, dirs, "made absolute")

	file := filepath.Join(a, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, bad := range []string{"", a + "::" + b, a + ":", filepath.Join(a, "missing"), file} {
		_, err := ParseImage(bad)
		assert.Error(t, err, "%q", bad)
	}

	var l ImageList
	require.NoError(t, l.Set(a))
	require.NoError(t, l.Set(b))
	assert.Equal(t, a+":"+b, l.String(), "a repeated --image stacks on top")
}

func TestMountSpecValidateNamesTheProblem(t *testing.T) {
	labtest.Privileged(t)
	dir := t.TempDir()
	lower, up, work := filepath.Join(dir, "l"), filepath.Join(dir, "u"), filepath.Join(dir, "w")
	for _, d := range []string{lower, up, work} {
		require.NoError(t, os.Mkdir(d, 0o755))
	}
	good := MountSpec{Lower: []string{lower}, Upper: up, Work: work}
	require.NoError(t, good.Validate())

	shm, err := os.MkdirTemp("/dev/shm", "berth-work-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(shm) })

	many := make([]string, MaxLayers+1)
	for i := range many {
		many[i] = lower
	}
	for _, tc := range []struct {
		spec MountSpec
		want string
	}{
		{MountSpec{Upper: up, Work: work}, "no image layers"},
		{MountSpec{Lower: many, Upper: up, Work: work}, "at most 500"},
		{MountSpec{Lower: []string{filepath.Join(dir, "nope")}, Upper: up, Work: work}, filepath.Join(dir, "nope")},
		{MountSpec{Lower: []string{"rel"}, Upper: up, Work: work}, "not an absolute path"},
		{MountSpec{Lower: []string{lower}, Upper: up, Work: shm}, "different filesystems"},
	} {
		err := tc.spec.Validate()
		if assert.Error(t, err) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
}

// TestChangesFollowOverlaysRules builds layers by hand (including the
// image's own whiteouts and opaque directories) to check every rule of
// Changes.
func TestChangesFollowOverlaysRules(t *testing.T) {
	labtest.Privileged(t) // whiteouts are device nodes; opaque needs trusted.*
	dir := t.TempDir()
	base, top, upper := filepath.Join(dir, "base"), filepath.Join(dir, "top"), filepath.Join(dir, "upper")
	makeTree(t, base, tree{
		"bin/sh":      "#!",
		"etc/passwd":  "root",
		"etc/group":   "root",
		"etc/motd":    "hi",
		"old/a":       "a",
		"old/b":       "b",
		"old/sub/c":   "c",
		"gone":        "x",
		"var/lib/db/": "",
		"replaced/x":  "x",
	})
	makeTree(t, top, tree{
		"etc/group":  whiteout, // the image itself deleted it
		"etc/hosts":  "127.0.0.1",
		"old/extra":  "e",
		"replaced/":  opaque, // the image replaced replaced/: x is gone
		"replaced/y": "y",
	})
	makeTree(t, upper, tree{
		"etc/":         "",
		"etc/passwd":   "root\nme",  // written to: C
		"etc/group":    "new",       // the image had deleted it: A
		"etc/hosts":    whiteout,    // deleted: D
		"etc/nothing":  whiteout,    // deletes nothing the image has
		"gone":         whiteout,    // D
		"new/":         "",          // A, and A below
		"new/file":     "n",         //
		"old/":         opaque,      // rm -rf old; mkdir old
		"old/b":        "b again",   // C: the image had one
		"old/fresh":    "f",         // A
		"replaced/x":   "x is back", // A: the image's x was already gone
		"var/lib/db/d": "",          // two parent directories: C C
	})

	changes, err := Changes([]string{base, top}, upper)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"C /etc",
		"A /etc/group",
		"D /etc/hosts",
		"C /etc/passwd",
		"D /gone",
		"A /new",
		"A /new/file",
		"C /old",
		"D /old/a",
		"C /old/b",
		"D /old/extra",
		"A /old/fresh",
		"D /old/sub",
		"C /replaced",
		"A /replaced/x",
		"C /var",
		"C /var/lib",
		"C /var/lib/db",
		"A /var/lib/db/d",
	}, changeStrings(changes))

	// Nothing changed, nothing listed.
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	changes, err = Changes([]string{base, top}, empty)
	require.NoError(t, err)
	assert.Empty(t, changes)

	_, err = Changes([]string{base}, filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestS14_KernelWritesLandInUpper does through a real overlay what a
// container does, and checks what the kernel left in each directory.
func TestS14_KernelWritesLandInUpper(t *testing.T) {
	labtest.Privileged(t)
	dir := t.TempDir()
	lower := filepath.Join(dir, "image")
	makeTree(t, lower, tree{
		"etc/passwd": "root",
		"etc/motd":   "welcome",
		"data/a":     "a",
		"data/b":     "b",
		"keep":       "keep",
	})
	before := labtest.Tree(t, lower)
	l, err := Create(filepath.Join(dir, "state"), "c1", []string{lower})
	require.NoError(t, err)

	inMountNamespace(t, func() error {
		if err := l.MountSpec().Mount(l.Merged()); err != nil {
			return err
		}
		m := l.Merged()
		steps := []error{
			os.WriteFile(filepath.Join(m, "new.txt"), []byte("new"), 0o644),
			appendTo(filepath.Join(m, "etc/passwd"), "\nme"),
			os.Remove(filepath.Join(m, "etc/motd")),
			os.RemoveAll(filepath.Join(m, "data")),
			os.Mkdir(filepath.Join(m, "data"), 0o755),
			os.WriteFile(filepath.Join(m, "data/c"), []byte("c"), 0o644),
		}
		if err := errors.Join(steps...); err != nil {
			return err
		}
		// The container sees its own version...
		got, err := os.ReadFile(filepath.Join(m, "etc/passwd"))
		if err != nil || string(got) != "root\nme" {
			return fmt.Errorf("merged etc/passwd: %q, %v", got, err)
		}
		if names, _ := readNames(filepath.Join(m, "data")); !assert.ObjectsAreEqual([]string{"c"}, names) {
			return fmt.Errorf("merged data/: %v, want only c", names)
		}
		return Unmount(m)
	})

	assert.Equal(t, before, labtest.Tree(t, lower), "the image layer must not change")

	up := l.Upper()
	content, err := os.ReadFile(filepath.Join(up, "new.txt"))
	require.NoError(t, err)
	assert.Equal(t, "new", string(content))
	content, err = os.ReadFile(filepath.Join(up, "etc/passwd"))
	require.NoError(t, err)
	assert.Equal(t, "root\nme", string(content), "copied up, then written")

	fi, err := os.Lstat(filepath.Join(up, "etc/motd"))
	require.NoError(t, err)
	assert.True(t, IsWhiteout(fi), "a deleted file is a 0/0 character device in upper: %v", fi.Mode())
	isOpaque, err := IsOpaque(filepath.Join(up, "data"))
	require.NoError(t, err)
	assert.True(t, isOpaque, "a directory deleted and made again is opaque")
	isOpaque, err = IsOpaque(filepath.Join(up, "etc"))
	require.NoError(t, err)
	assert.False(t, isOpaque, "etc/ is merged with the image's")
	_, err = os.Lstat(filepath.Join(up, "keep"))
	assert.ErrorIs(t, err, os.ErrNotExist, "an untouched file is not copied")

	changes, err := l.Changes()
	require.NoError(t, err)
	assert.Equal(t, []string{
		"C /data",
		"D /data/a",
		"D /data/b",
		"A /data/c",
		"C /etc",
		"D /etc/motd",
		"C /etc/passwd",
		"A /new.txt",
	}, changeStrings(changes))
}

func appendTo(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	return errors.Join(err, f.Close())
}

// TestMountTakesAnyNumberOfLayers stacks more layers, with longer paths,
// than fit in the one page of options that mount(2) accepts.
func TestMountTakesAnyNumberOfLayers(t *testing.T) {
	labtest.Privileged(t)
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("x", 100))
	var lower []string
	for i := 0; i < 60; i++ {
		layerDir := fmt.Sprintf("%s/layer-%02d", long, i)
		// Each layer adds its own file and overrides "which".
		makeTree(t, layerDir, tree{fmt.Sprintf("f%02d", i): "", "which": fmt.Sprint(i)})
		lower = append(lower, layerDir)
	}
	// Names that overlay's option syntax gives a meaning to.
	odd := filepath.Join(dir, "odd:name,with\\specials")
	makeTree(t, odd, tree{"odd": "yes"})
	lower = append(lower, odd)

	for _, tc := range []struct {
		name  string
		lower []string
		big   bool
		which string
	}{
		{"few layers, mount(2)", []string{lower[0], lower[1], odd}, false, "1"},
		{"many layers, fsconfig", lower, true, "59"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Create(filepath.Join(dir, "state"), labtest.Unique("c"), tc.lower)
			require.NoError(t, err)
			spec := l.MountSpec()
			assert.Equal(t, tc.big, len(spec.Options()) >= os.Getpagesize())
			var names []string
			var which string
			inMountNamespace(t, func() error {
				if err := spec.Mount(l.Merged()); err != nil {
					return err
				}
				names, err = readNames(l.Merged())
				if err != nil {
					return err
				}
				b, err := os.ReadFile(filepath.Join(l.Merged(), "which"))
				which = string(b)
				return errors.Join(err, Unmount(l.Merged()))
			})
			assert.Len(t, names, len(tc.lower)+1, "one file from each layer, and which")
			assert.Contains(t, names, "f00", "the bottom layer shows")
			assert.Contains(t, names, "odd", "the top layer shows")
			assert.Equal(t, tc.which, which, "the highest layer that has a file wins")
			require.NoError(t, l.Remove())
		})
	}
}

func TestCreateOpenFindRemove(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	image := t.TempDir()
	ids := []string{"aaa111", "aaa222", "bbb333"}
	for _, id := range ids {
		l, err := Create(root, id, []string{image})
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(root, "containers", id), l.Dir)
		for _, d := range []string{l.Upper(), l.Work(), l.Merged()} {
			assert.DirExists(t, d)
		}
		assert.Equal(t, MountSpec{Lower: []string{image}, Upper: l.Upper(), Work: l.Work()}, l.MountSpec())
	}
	_, err := Create(root, "aaa111", []string{image})
	assert.ErrorIs(t, err, os.ErrExist, "an ID is used once")
	for _, bad := range []string{"", "..", "a/b"} {
		_, err := Create(root, bad, []string{image})
		assert.Error(t, err, "%q", bad)
	}
	_, err = Create(root, "x", nil)
	assert.Error(t, err, "no image")

	got, err := List(root)
	require.NoError(t, err)
	assert.Equal(t, ids, got)

	l, err := Find(root, "bbb")
	require.NoError(t, err)
	assert.Equal(t, "bbb333", l.ID)
	assert.Equal(t, []string{image}, l.Lower, "read back from layer.json")
	_, err = Find(root, "aaa")
	assert.ErrorIs(t, err, ErrAmbiguous)
	assert.Contains(t, err.Error(), "aaa111, aaa222")
	_, err = Find(root, "ccc")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = Find(root, "")
	assert.ErrorIs(t, err, ErrNotFound)
	l, err = Find(root, "aaa111")
	require.NoError(t, err, "a full ID that is also a prefix of nothing else")

	// A held layer (a running container) cannot be removed, not even
	// through another handle.
	require.NoError(t, l.Hold())
	other, err := Open(root, "aaa111")
	require.NoError(t, err)
	assert.ErrorIs(t, other.Remove(), ErrInUse)
	require.NoError(t, l.Release())
	require.NoError(t, other.Remove())
	assert.NoDirExists(t, l.Dir)
	_, err = Open(root, "aaa111")
	assert.ErrorIs(t, err, ErrNotFound)

	empty, err := List(filepath.Join(root, "nothing-here"))
	require.NoError(t, err)
	assert.Empty(t, empty)

	// A relative state directory ends up absolute in the mount options.
	t.Chdir(root)
	l, err = Create("rel", "c", []string{image})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "rel", "containers", "c"), l.Dir)
	l, err = Find("rel", "c")
	require.NoError(t, err)
	assert.True(t, filepath.IsAbs(l.MountSpec().Upper))
}

// RemoveLater makes the container disappear at once and leaves the
// deletion of its files for later; what a crash left set aside is swept.
func TestRemoveLaterSetsTheDirectoryAside(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	image := t.TempDir()
	for _, id := range []string{"keep", "gone", "crashed"} {
		l, err := Create(root, id, []string{image})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(l.Upper(), "f"), []byte("x"), 0o644))
	}
	gone, err := Open(root, "gone")
	require.NoError(t, err)
	finish, err := gone.RemoveLater()
	require.NoError(t, err)
	assert.NoDirExists(t, gone.Dir, "gone at once")
	_, err = Open(root, "gone")
	assert.ErrorIs(t, err, ErrNotFound)
	crashed, err := Open(root, "crashed")
	require.NoError(t, err)
	_, err = crashed.RemoveLater() // and never finished
	require.NoError(t, err)
	ids, err := List(root)
	require.NoError(t, err)
	assert.Equal(t, []string{"keep"}, ids, "what is set aside is not listed")

	require.NoError(t, finish())
	entries, err := os.ReadDir(ContainersDir(root))
	require.NoError(t, err)
	assert.Len(t, entries, 2, "keep, and what the crash left")
	require.NoError(t, SweepRemoved(root))
	entries, err = os.ReadDir(ContainersDir(root))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "keep", entries[0].Name())
}

func TestRemoveRefusesAMountedLayer(t *testing.T) {
	labtest.Privileged(t)
	image := t.TempDir()
	makeTree(t, image, tree{"file": "precious"})
	l, err := Create(t.TempDir(), "c", []string{image})
	require.NoError(t, err)
	var removeErr error
	inMountNamespace(t, func() error {
		if err := l.MountSpec().Mount(l.Merged()); err != nil {
			return err
		}
		removeErr = l.Remove()
		return Unmount(l.Merged())
	})
	if assert.Error(t, removeErr) {
		assert.Contains(t, removeErr.Error(), "still mounted")
	}
	assert.FileExists(t, filepath.Join(image, "file"))
	require.NoError(t, l.Remove())
}

func TestStateDirectoryOnOverlayIsRefused(t *testing.T) {
	labtest.Privileged(t)
	image := t.TempDir()
	outer, err := Create(t.TempDir(), "outer", []string{image})
	require.NoError(t, err)
	var createErr error
	inMountNamespace(t, func() error {
		if err := outer.MountSpec().Mount(outer.Merged()); err != nil {
			return err
		}
		_, createErr = Create(filepath.Join(outer.Merged(), "state"), "inner", []string{image})
		return Unmount(outer.Merged())
	})
	if assert.Error(t, createErr) {
		assert.Contains(t, createErr.Error(), "overlay filesystem")
	}
}

func TestDiskUsageCountsBlocksOnce(t *testing.T) {
	dir := t.TempDir()
	empty, err := DiskUsage(dir)
	require.NoError(t, err)

	data := make([]byte, 1<<20)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), data, 0o644))
	require.NoError(t, os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "b")))
	// A sparse file of 1 GiB takes no blocks.
	f, err := os.Create(filepath.Join(dir, "sparse"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1<<30))
	require.NoError(t, f.Close())

	used, err := DiskUsage(dir)
	require.NoError(t, err)
	assert.InDelta(t, 1<<20, used-empty, 64<<10, "the hard-linked MiB counts once, the sparse GiB not at all")
}
