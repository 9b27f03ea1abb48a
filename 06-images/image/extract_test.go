package image

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/06-images/hostile"
)

// hostileCase is a tar that tries to write outside the directory it is
// extracted into. base is the directory that holds both the target and
// "outside", a sibling with one file, "secret", that must stay as it is.
type hostileCase struct {
	name    string
	entries func(base string) []entry
	// refused: the extraction must fail (with ErrUnsafePath, when
	// unsafe is set too). Otherwise it may succeed, harmlessly.
	refused, unsafe bool
	// inside, when set, is a file that must exist in the target after a
	// successful extraction.
	inside string
}

var hostileCases = []hostileCase{
	{name: "dotdot", refused: true, unsafe: true, entries: func(string) []entry {
		return []entry{{Name: "../outside/evil", Body: "x"}}
	}},
	{name: "dotdot-in-the-middle", refused: true, unsafe: true, entries: func(string) []entry {
		return []entry{{Name: "a/b/../../../outside/evil", Body: "x"}}
	}},
	{name: "absolute-path", inside: "OUTSIDE/evil", entries: func(base string) []entry {
		// Absolute names are made relative, as GNU tar and Docker do:
		// this lands inside the target, under the same path.
		return []entry{{Name: filepath.Join(base, "outside", "evil"), Body: "x"}}
	}},
	{name: "absolute-overwrite", inside: "OUTSIDE/secret", entries: func(base string) []entry {
		return []entry{{Name: filepath.Join(base, "outside", "secret"), Body: "overwritten"}}
	}},
	{name: "relative-symlink-out-then-file", refused: true, unsafe: true, entries: func(string) []entry {
		return []entry{{Name: "escape", Link: "../outside"}, {Name: "escape/evil", Body: "x"}}
	}},
	{name: "absolute-symlink-out-then-file", refused: true, unsafe: true, entries: func(base string) []entry {
		return []entry{{Name: "escape", Link: filepath.Join(base, "outside")}, {Name: "escape/evil", Body: "x"}}
	}},
	{name: "symlink-to-outside-file-then-overwrite", inside: "s", entries: func(base string) []entry {
		// The second entry replaces the symlink, never writes through it.
		return []entry{{Name: "s", Link: filepath.Join(base, "outside", "secret")}, {Name: "s", Body: "overwritten"}}
	}},
	{name: "hardlink-dotdot", refused: true, unsafe: true, entries: func(string) []entry {
		return []entry{{Name: "h", Link: "../outside/secret", Hard: true}}
	}},
	{name: "hardlink-absolute", refused: true, entries: func(base string) []entry {
		// Made relative: the target has no such file.
		return []entry{{Name: "h", Link: filepath.Join(base, "outside", "secret"), Hard: true}}
	}},
	{name: "hardlink-through-symlink", refused: true, unsafe: true, entries: func(string) []entry {
		return []entry{{Name: "s", Link: "../outside"}, {Name: "h", Link: "s/secret", Hard: true}}
	}},
	{name: "symlink-chain", refused: true, unsafe: true, entries: func(string) []entry {
		return []entry{{Name: "a", Link: "b"}, {Name: "b", Link: "c/d"}, {Name: "c/", Mode: 0o755}, {Name: "c/d", Link: "../../outside"}, {Name: "a/evil", Body: "x"}}
	}},
	{name: "dir-replaced-by-symlink", refused: true, unsafe: true, entries: func(string) []entry {
		return []entry{{Name: "d/"}, {Name: "d/f", Body: "in"}, {Name: "d", Link: "../outside"}, {Name: "d/evil", Body: "x"}}
	}},
	{name: "file-replaces-dir", inside: "d", entries: func(string) []entry {
		return []entry{{Name: "d/"}, {Name: "d/f", Body: "in"}, {Name: "d", Body: "now a file"}}
	}},
	{name: "whiteout-through-symlink", refused: true, unsafe: true, entries: func(string) []entry {
		return []entry{{Name: "s", Link: "../outside"}, {Name: "s/.wh.secret", Body: ""}}
	}},
	{name: "opaque-through-symlink", refused: true, unsafe: true, entries: func(string) []entry {
		return []entry{{Name: "s", Link: "../outside"}, {Name: "s/.wh..wh..opq", Body: ""}}
	}},
	{name: "whiteout-dotdot", refused: true, unsafe: true, entries: func(string) []entry {
		return []entry{{Name: "../outside/.wh.secret", Body: ""}}
	}},
	{name: "device-node-stays-inside", inside: "dev/null2", entries: func(string) []entry {
		return []entry{{Name: "dev/null2", Type: tar.TypeChar, Mode: 0o666, Devices: [2]int64{1, 3}}}
	}},
}

// hostileSetup makes base/{target,outside/secret}.
func hostileSetup(t testing.TB) (base, target string) {
	t.Helper()
	base = t.TempDir()
	target = filepath.Join(base, "target")
	require.NoError(t, os.Mkdir(target, 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(base, "outside"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(base, "outside", "secret"), []byte("original"), 0o644))
	return base, target
}

// assertNothingOutside checks that base still holds only the target and
// outside/secret, unchanged: no file, link or xattr appeared.
func assertNothingOutside(t testing.TB, base string) {
	t.Helper()
	names, err := readDirNames(base)
	require.NoError(t, err)
	assert.Equal(t, []string{"outside", "target"}, names, "nothing new beside the target")
	names, err = readDirNames(filepath.Join(base, "outside"))
	require.NoError(t, err)
	assert.Equal(t, []string{"secret"}, names, "nothing new in outside/")
	data, err := os.ReadFile(filepath.Join(base, "outside", "secret"))
	require.NoError(t, err)
	assert.Equal(t, "original", string(data), "outside/secret unchanged")
	var st syscall.Stat_t
	require.NoError(t, syscall.Lstat(filepath.Join(base, "outside", "secret"), &st))
	assert.EqualValues(t, 1, st.Nlink, "no hard link to outside/secret")
	attrs, err := readXattrsAll(filepath.Join(base, "outside"))
	require.NoError(t, err)
	assert.Empty(t, attrs, "no xattr set on outside/")
}

func TestExtractWritesNothingOutsideTheTarget(t *testing.T) {
	labtest.Privileged(t) // whiteouts are device nodes; owners are set
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			base, target := hostileSetup(t)
			data := makeTar(t, tc.entries(base)...)
			err := ExtractLayer(bytes.NewReader(data), target)
			assertNothingOutside(t, base)
			if tc.refused {
				require.Error(t, err)
				if tc.unsafe {
					assert.ErrorIs(t, err, ErrUnsafePath)
				}
				t.Logf("refused: %v", err)
				return
			}
			require.NoError(t, err)
			if tc.inside != "" {
				rel := tc.inside
				if len(rel) > 7 && rel[:7] == "OUTSIDE" {
					rel = filepath.Join(base[1:], "outside", rel[8:])
				}
				_, err := os.Lstat(filepath.Join(target, rel))
				assert.NoError(t, err, "written inside the target instead")
			}
		})
	}
}

// FuzzExtract feeds random tars to ExtractLayer: whatever it does with
// them, it must not panic and must not write outside the target. The seed
// corpus (the hostile tars above, and a normal layer) runs with every
// `go test`; `go test -fuzz FuzzExtract ./06-images/image` explores more.
func FuzzExtract(f *testing.F) {
	seedBase := "/tmp/berth-fuzz-seed"
	for _, tc := range hostileCases {
		f.Add(makeTar(f, tc.entries(seedBase)...))
	}
	f.Add(makeTar(f,
		entry{Name: "bin/"}, entry{Name: "bin/sh", Body: "#!", Mode: 0o755},
		entry{Name: "bin/.wh.vi"}, entry{Name: "etc/.wh..wh..opq"}, entry{Name: "etc/passwd", Body: "root"},
		entry{Name: "etc/link", Link: "passwd"}, entry{Name: "etc/hard", Link: "etc/passwd", Hard: true},
		entry{Name: "x", Body: "1", PAX: map[string]string{"SCHILY.xattr.user.k": "v"}},
	))
	f.Add(makeTar(f, entry{Name: "d/"}, entry{Name: "d/e/"}, entry{Name: "d", Type: tar.TypeFifo}))
	f.Add([]byte{})
	// The hostile corpus (06-images/hostile) too, but its sparse files:
	// each run of them reads 64 MiB of holes, which makes the fuzzer
	// crawl when it minimizes an input made from them.
	for _, c := range hostile.Of(hostile.Layer) {
		if !strings.HasPrefix(c.Name, "sparse") {
			f.Add(c.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if os.Geteuid() != 0 {
			t.Skip("needs root")
		}
		base, target := hostileSetup(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = ExtractLayer(bytes.NewReader(data), target)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("ExtractLayer still running after 10 s on a %d-byte tar", len(data))
		}
		assertNothingOutside(t, base)
	})
}

// upperFixture builds, by hand, a container's upper directory as
// overlay leaves it, with one of everything a layer can hold.
func upperFixture(t *testing.T) string {
	t.Helper()
	up := t.TempDir()
	p := func(name string) string { return filepath.Join(up, name) }
	for _, d := range []string{"bin", "etc", "data", "tmp", "run", "dev"} {
		require.NoError(t, os.Mkdir(p(d), 0o755))
	}
	require.NoError(t, os.WriteFile(p("etc/conf"), []byte("conf"), 0o600))
	require.NoError(t, os.Chmod(p("etc/conf"), 0o640))
	require.NoError(t, os.Chown(p("etc/conf"), 1000, 1001))
	require.NoError(t, unix.Lsetxattr(p("etc/conf"), "user.berth", []byte("kept"), 0))
	require.NoError(t, os.Link(p("etc/conf"), p("etc/conf-link")))
	require.NoError(t, os.Symlink("conf", p("etc/link")))
	require.NoError(t, os.Symlink("/etc/passwd", p("abs")))
	require.NoError(t, os.WriteFile(p("bin/tool"), []byte("tool"), 0o755))
	require.NoError(t, unix.Chmod(p("bin/tool"), 0o4755))
	require.NoError(t, unix.Chmod(p("tmp"), 0o1777))
	require.NoError(t, unix.Mknod(p("bin/gone"), unix.S_IFCHR, 0)) // whiteout
	require.NoError(t, unix.Lsetxattr(p("data"), "trusted.overlay.opaque", []byte("y"), 0))
	require.NoError(t, os.WriteFile(p("data/new"), []byte("new"), 0o644))
	require.NoError(t, unix.Mkfifo(p("run/fifo"), 0o600))
	require.NoError(t, unix.Mknod(p("dev/null2"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	return up
}

func TestS19_WhiteoutsLinksModesOwnersAndXattrsRoundTrip(t *testing.T) {
	labtest.Privileged(t)
	up := upperFixture(t)

	var layer1 bytes.Buffer
	require.NoError(t, WriteDiff(&layer1, up))
	names := tarNames(t, layer1.Bytes())
	assert.Equal(t, []string{
		"l abs -> /etc/passwd",
		"d bin/",
		"f bin/.wh.gone", // the whiteout, in the archive's form
		"f bin/tool",
		"d data/",
		"f data/.wh..wh..opq", // the opaque marker, right after its directory
		"f data/new",
		"d dev/",
		"3 dev/null2",
		"d etc/",
		"f etc/conf",
		"h etc/conf-link => etc/conf",
		"l etc/link -> conf",
		"d run/",
		"6 run/fifo",
		"d tmp/",
	}, names)
	tr := tar.NewReader(bytes.NewReader(layer1.Bytes()))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		for k := range hdr.PAXRecords {
			assert.NotContains(t, k, "overlay", "overlay's own xattrs stay out of the archive")
		}
		if hdr.Name == "etc/conf" {
			assert.Equal(t, "kept", hdr.PAXRecords["SCHILY.xattr.user.berth"])
			assert.Equal(t, 1000, hdr.Uid)
			assert.EqualValues(t, 0o640, hdr.Mode)
		}
		if hdr.Name == "bin/tool" {
			assert.EqualValues(t, 0o4755, hdr.Mode, "setuid kept")
		}
	}

	// Unpacked again, the layer is the same tree: whiteout and opaque
	// marker back in overlay's form, hard link, modes, owners, xattrs.
	out := t.TempDir()
	require.NoError(t, ExtractLayer(bytes.NewReader(layer1.Bytes()), out))
	assert.Equal(t, tree(t, up), tree(t, out))
	assert.Contains(t, tree(t, out), "bin/gone Dc--------- 0:0 dev 0/0")
	assert.Contains(t, tree(t, out), "data drwxr-xr-x 0:0 xattrs trusted.overlay.opaque=y")

	// And written out again, the same bytes: the diffID is stable.
	var layer2 bytes.Buffer
	require.NoError(t, WriteDiff(&layer2, out))
	assert.Equal(t, FromBytes(layer1.Bytes()), FromBytes(layer2.Bytes()))
}

func TestFlattenMergesLayersByOverlaysRules(t *testing.T) {
	labtest.Privileged(t)
	lower := t.TempDir()
	require.NoError(t, ExtractLayer(bytes.NewReader(makeTar(t,
		entry{Name: "bin/"}, entry{Name: "bin/sh", Body: "sh"}, entry{Name: "bin/vi", Body: "vi"},
		entry{Name: "data/"}, entry{Name: "data/old", Body: "old"}, entry{Name: "data/keep/"}, entry{Name: "data/keep/k", Body: "k"},
		entry{Name: "etc/"}, entry{Name: "etc/motd", Body: "hi"},
	)), lower))
	upper := t.TempDir()
	require.NoError(t, ExtractLayer(bytes.NewReader(makeTar(t,
		entry{Name: "bin/"}, entry{Name: "bin/.wh.vi"},
		entry{Name: "data/"}, entry{Name: "data/.wh..wh..opq"}, entry{Name: "data/new", Body: "new"},
		entry{Name: "etc"}, // a file now, hiding the directory below
	)), upper))

	var buf bytes.Buffer
	require.NoError(t, Flatten(&buf, []string{lower, upper}))
	names := tarNames(t, buf.Bytes())
	assert.Equal(t, []string{"d bin/", "f bin/sh", "d data/", "f data/new", "f etc"}, names)
	for _, n := range names {
		assert.NotContains(t, n, ".wh.", "a flattened tar has no whiteouts")
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"./bin/sh": "bin/sh", "/etc/passwd": "etc/passwd", "a/./b/": "a/b", "./": ".", "//x": "x", "a/../b": "b",
	} {
		got, err := cleanName(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"..", "../x", "a/../../x", "/../../x/../.."} {
		_, err := cleanName(bad)
		if bad == "/../../x/../.." {
			// A leading "/" is dropped first: "../../x/../.." climbs out.
			require.Error(t, err)
			continue
		}
		assert.ErrorIs(t, err, ErrUnsafePath, bad)
	}
}

// A directory replaced by a FIFO must not make the extraction wait for a
// writer that never comes (found by FuzzExtract): directories are opened
// with O_DIRECTORY.
func TestExtractDoesNotBlockOnAFIFOThatReplacedADirectory(t *testing.T) {
	labtest.Privileged(t)
	data := makeTar(t, entry{Name: "d/"}, entry{Name: "d/e/"}, entry{Name: "d", Type: tar.TypeFifo}, entry{Name: "d/f", Body: "x"})
	done := make(chan error, 1)
	go func() { done <- ExtractLayer(bytes.NewReader(data), t.TempDir()) }()
	select {
	case err := <-done:
		require.Error(t, err, "d/f cannot be created under a FIFO")
	case <-time.After(5 * time.Second):
		t.Fatal("ExtractLayer blocked")
	}
}
