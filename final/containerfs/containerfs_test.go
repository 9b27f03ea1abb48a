package containerfs

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
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
)

// tree makes a container root in a temporary directory, beside a
// directory "outside" that nothing may touch. Names ending in "/" are
// directories, "name -> target" symlinks, others files holding their own
// name.
func tree(t *testing.T, entries ...string) (root, outside string) {
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	require.NoError(t, os.MkdirAll(root, 0o755))
	require.NoError(t, os.MkdirAll(outside, 0o755))
	for _, e := range entries {
		name, target, isLink := strings.Cut(e, " -> ")
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		switch {
		case isLink:
			require.NoError(t, os.Symlink(target, p))
		case strings.HasSuffix(e, "/"):
			require.NoError(t, os.MkdirAll(p, 0o755))
		default:
			require.NoError(t, os.WriteFile(p, []byte(name), 0o644))
		}
	}
	return root, outside
}

func openTree(t *testing.T, root string) *Root {
	r, err := OpenRoot(root, "the test's root")
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// The standard tree: /x is a link to /etc, /up climbs above the root,
// /abs points at the host path of "outside" (meaningless inside).
func standardTree(t *testing.T) (*Root, string, string) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	root, out := tree(t, "etc/passwd", "dir/sub/f", "f", "x -> /etc", "rel -> etc", "up -> ../../../../..",
		"loop -> loop", "dangling -> /nonexistent/deeper", "abs -> "+outside, "dir/back -> ../x")
	return openTree(t, root), root, out
}

func TestResolve(t *testing.T) {
	r, _, _ := standardTree(t)
	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"x", "/etc"},
		{"/x/passwd", "/etc/passwd"},
		{"/rel/passwd", "/etc/passwd"},
		{"/up/etc", "/etc"},
		{"/up/up/up/x", "/etc"},
		{"/../../x", "/etc"},
		{"/dir/back/passwd", "/etc/passwd"},
		{"/dangling", "/nonexistent/deeper"},
		{"/dangling/more", "/nonexistent/deeper/more"},
		{"/nope/a", "/nope/a"},
	} {
		got, err := r.Resolve(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	_, err := r.Resolve("/loop")
	assert.ErrorIs(t, err, unix.ELOOP)
}

func TestStat(t *testing.T) {
	r, _, _ := standardTree(t)
	for _, tc := range []struct {
		in, name, link string
		mode           fs.FileMode // type bits only
		err            error
	}{
		{in: "/", name: "/", mode: fs.ModeDir},
		{in: "/x", name: "x", mode: fs.ModeSymlink, link: "/etc"},
		{in: "/x/", name: "x", mode: fs.ModeDir},
		{in: "/x/.", name: ".", mode: fs.ModeDir},
		{in: "/up/x/passwd", name: "passwd"},
		{in: "/abs", name: "abs", mode: fs.ModeSymlink, link: "/"}, // a host path: in the root, where it does not exist
		{in: "/dir/sub/f", name: "f"},
		{in: "/f/", err: unix.ENOTDIR},
		{in: "/nope", err: unix.ENOENT},
		{in: "/dangling/", err: unix.ENOENT},
	} {
		st, err := r.Stat(tc.in)
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.name, st.Name, tc.in)
		assert.Equal(t, tc.mode, st.Mode.Type(), tc.in)
		if tc.link != "" {
			assert.True(t, strings.HasPrefix(st.LinkTarget, tc.link), "%s: %s", tc.in, st.LinkTarget)
		}
	}
	st, err := r.Stat("/x/passwd")
	require.NoError(t, err)
	assert.Equal(t, int64(len("etc/passwd")), st.Size, "the container's own /etc/passwd")
}

func TestFileMode(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want fs.FileMode
	}{
		{unix.S_IFREG | 0o644, 0o644},
		{unix.S_IFDIR | 0o755, fs.ModeDir | 0o755},
		{unix.S_IFLNK | 0o777, fs.ModeSymlink | 0o777},
		{unix.S_IFREG | unix.S_ISUID | 0o755, fs.ModeSetuid | 0o755},
		{unix.S_IFDIR | unix.S_ISVTX | 0o777, fs.ModeDir | fs.ModeSticky | 0o777},
		{unix.S_IFCHR | 0o666, fs.ModeDevice | fs.ModeCharDevice | 0o666},
		{unix.S_IFIFO | 0o600, fs.ModeNamedPipe | 0o600},
	} {
		assert.Equal(t, tc.want, fileMode(tc.in), "%o", tc.in)
	}
}

// entries lists a tar's entry names, and symlinks' and hard links'
// targets after "->" and "=>".
func entries(t *testing.T, data []byte) []string {
	var out []string
	for _, e := range labtest.ReadTar(t, bytes.NewReader(data)) {
		switch e.Typeflag {
		case tar.TypeSymlink:
			out = append(out, e.Name+" -> "+e.Linkname)
		case tar.TypeLink:
			out = append(out, e.Name+" => "+e.Linkname)
		default:
			out = append(out, e.Name)
		}
	}
	return out
}

func TestArchiveNames(t *testing.T) {
	r, root, _ := standardTree(t)
	require.NoError(t, os.Link(filepath.Join(root, "dir/sub/f"), filepath.Join(root, "dir/sub/g")))
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"/dir", []string{"dir/", "dir/back -> ../x", "dir/sub/", "dir/sub/f", "dir/sub/g => dir/sub/f"}},
		{"/dir/.", []string{"./", "./back -> ../x", "./sub/", "./sub/f", "./sub/g => ./sub/f"}},
		{"/dir/sub/f", []string{"f"}},
		{"/x", []string{"x -> /etc"}},
		{"/x/", []string{"x/", "x/passwd"}},
		{"/up/x/", []string{"x/", "x/passwd"}},
	} {
		var buf bytes.Buffer
		require.NoError(t, r.Archive(tc.in, &buf), tc.in)
		assert.Equal(t, tc.want, entries(t, buf.Bytes()), tc.in)
	}
	assert.ErrorIs(t, r.Archive("/nope", io.Discard), unix.ENOENT)
}

func TestEntryPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a", "a"}, {"./a/b/", "a/b"}, {"/abs/x", "abs/x"}, {".", ""}, {"/", ""},
		{"a/../b", "b"}, {"/../a", "a"},
	} {
		got, err := entryPath(tc.in, "/d")
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for _, in := range []string{"..", "../a", "a/../../b", "./../a"} {
		_, err := entryPath(in, "/d")
		assert.ErrorContains(t, err, "is outside of \"/d\"", in)
		assert.ErrorIs(t, err, ErrUnsafeEntry, in)
	}
}

// archive makes a tar: "name" a file holding content, "name/" a
// directory, "name -> target" a symlink, "name => target" a hard link,
// "name c" a character device.
func archive(t *testing.T, entries ...string) io.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e, Mode: 0o640, Uid: 1000, Gid: 2000, ModTime: time.Unix(1600000000, 0), Typeflag: tar.TypeReg}
		name, target, link := strings.Cut(e, " -> ")
		hname, htarget, hard := strings.Cut(e, " => ")
		switch {
		case link:
			hdr.Name, hdr.Linkname, hdr.Typeflag = name, target, tar.TypeSymlink
		case hard:
			hdr.Name, hdr.Linkname, hdr.Typeflag = hname, htarget, tar.TypeLink
		case strings.HasSuffix(e, " c"):
			hdr.Name, hdr.Typeflag, hdr.Devmajor, hdr.Devminor = strings.TrimSuffix(e, " c"), tar.TypeChar, 1, 1
		case strings.HasSuffix(e, "/"):
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o750
		default:
			hdr.Size = int64(len("content of " + e))
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if hdr.Typeflag == tar.TypeReg {
			_, err := io.WriteString(tw, "content of "+e)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return &buf
}

// The extraction, case by case: what ends up in the root (a file's
// content, "dir", or "-> target"), and that nothing reached outside.
func TestExtract(t *testing.T) {
	labtest.Privileged(t) // it sets owners
	for _, tc := range []struct {
		name        string
		existing    []string
		dest        string
		entries     []string
		noOverwrite bool
		want        map[string]string
		err         error
	}{
		{name: "files and directories", dest: "/d", entries: []string{"a/", "a/b", "c"},
			want: map[string]string{"d/a": "dir", "d/a/b": "content of a/b", "d/c": "content of c"}},
		{name: "missing parents are made", dest: "/d", entries: []string{"p/q/r"},
			want: map[string]string{"d/p/q/r": "content of p/q/r"}},
		{name: "a symlink to / in the archive leads to the root", dest: "/d", entries: []string{"a -> /", "a/etc/new"},
			want: map[string]string{"d/a": "-> /", "etc/new": "content of a/etc/new"}},
		{name: "a symlink climbing with .. stops at the root", dest: "/d", entries: []string{"u -> ../../../../..", "u/top"},
			want: map[string]string{"top": "content of u/top"}},
		{name: "a host path in a symlink is a path in the root", dest: "/d", entries: []string{"o -> OUTSIDE", "o/f"},
			want: map[string]string{"OUTSIDE/f": "content of o/f"}},
		{name: "the container's symlinks too", existing: []string{"d/x -> /etc"}, dest: "/d", entries: []string{"x/new"},
			want: map[string]string{"etc/new": "content of x/new"}},
		{name: "a symlinked destination", existing: []string{"x -> /etc"}, dest: "/x", entries: []string{"new"},
			want: map[string]string{"etc/new": "content of new", "x": "-> /etc"}},
		{name: "absolute names are below the destination", dest: "/d", entries: []string{"/abs"},
			want: map[string]string{"d/abs": "content of /abs"}},
		{name: "dot-dot entries are refused", dest: "/d", entries: []string{"../esc"}, err: ErrUnsafeEntry},
		{name: "dot-dot inside entries are refused", dest: "/d", entries: []string{"a/../../esc"}, err: ErrUnsafeEntry},
		{name: "hard links", dest: "/d", entries: []string{"f", "h => f"},
			want: map[string]string{"d/h": "content of f"}},
		{name: "hard links above the destination are refused", dest: "/d", entries: []string{"h => ../etc/passwd"}, err: ErrUnsafeEntry},
		{name: "device nodes are refused", dest: "/d", entries: []string{"mem c"}, err: ErrDeviceRefuse},
		{name: "an existing symlink is replaced, not followed", existing: []string{"d/l -> /etc/passwd"}, dest: "/d", entries: []string{"l"},
			want: map[string]string{"d/l": "content of l", "etc/passwd": "etc/passwd"}},
		{name: "a directory does not replace a file", existing: []string{"d/f"}, dest: "/d", entries: []string{"f/"}, noOverwrite: true, err: ErrOverwrite},
		{name: "a file does not replace a directory", existing: []string{"d/s/"}, dest: "/d", entries: []string{"s"}, noOverwrite: true, err: ErrOverwrite},
		{name: "unless allowed", existing: []string{"d/s/", "d/s/in"}, dest: "/d", entries: []string{"s"},
			want: map[string]string{"d/s": "content of s"}},
		{name: "directories merge", existing: []string{"d/s/", "d/s/old"}, dest: "/d", entries: []string{"s/", "s/new"}, noOverwrite: true,
			want: map[string]string{"d/s/old": "d/s/old", "d/s/new": "content of s/new"}},
		{name: "the destination must exist", dest: "/nope", entries: []string{"f"}, err: unix.ENOENT},
		{name: "the destination must be a directory", existing: []string{"file"}, dest: "/file", entries: []string{"f"}, err: ErrNotDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, outside := tree(t, append([]string{"etc/passwd", "d/"}, tc.existing...)...)
			entries := make([]string, len(tc.entries))
			for i, e := range tc.entries {
				entries[i] = strings.ReplaceAll(e, "OUTSIDE", outside)
			}
			r := openTree(t, root)
			err := r.Extract(tc.dest, archive(t, entries...), ExtractOptions{NoOverwriteDirNonDir: tc.noOverwrite})
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			for p, want := range tc.want {
				p = filepath.Join(root, strings.ReplaceAll(p, "OUTSIDE", outside))
				fi, err := os.Lstat(p)
				require.NoError(t, err, p)
				switch {
				case strings.HasPrefix(want, "-> "):
					target, err := os.Readlink(p)
					require.NoError(t, err)
					assert.Equal(t, want[3:], target, p)
				case want == "dir":
					assert.True(t, fi.IsDir(), p)
				default:
					data, err := os.ReadFile(p)
					require.NoError(t, err)
					assert.Equal(t, want, string(data), p)
				}
			}
			left, err := os.ReadDir(outside)
			require.NoError(t, err)
			assert.Empty(t, left, "nothing reached outside the root")
			_, err = os.Lstat(filepath.Join(filepath.Dir(root), "esc"))
			assert.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}

// Owners, modes and times come from the archive, or the owner from
// Owner (docker cp -a).
func TestExtractMetadata(t *testing.T) {
	labtest.Privileged(t)
	root, _ := tree(t, "d/")
	r := openTree(t, root)
	require.NoError(t, r.Extract("/d", archive(t, "a/", "a/f", "l -> a/f"), ExtractOptions{}))
	for _, tc := range []struct {
		p    string
		mode fs.FileMode
	}{{"d/a", fs.ModeDir | 0o750}, {"d/a/f", 0o640}} {
		fi, err := os.Lstat(filepath.Join(root, tc.p))
		require.NoError(t, err)
		assert.Equal(t, tc.mode, fi.Mode(), tc.p)
		assert.Equal(t, time.Unix(1600000000, 0), fi.ModTime(), "%s: the archive's time, set after the contents", tc.p)
		st := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, [2]uint32{1000, 2000}, [2]uint32{st.Uid, st.Gid}, tc.p)
	}
	require.NoError(t, r.Extract("/d", archive(t, "o"), ExtractOptions{Owner: &Owner{UID: 7, GID: 8}}))
	fi, err := os.Lstat(filepath.Join(root, "d/o"))
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	assert.Equal(t, [2]uint32{7, 8}, [2]uint32{st.Uid, st.Gid})
}

// A file's capabilities travel both ways, as in Docker's archives; an
// archive's other xattrs are applied, overlay's own are not.
func TestXattrs(t *testing.T) {
	labtest.Privileged(t)
	root, _ := tree(t, "ping", "d/")
	// cap_net_raw+ep, version 2 of vfs_cap_data
	caps := []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	require.NoError(t, unix.Setxattr(filepath.Join(root, "ping"), "security.capability", caps, 0))
	r := openTree(t, root)
	var buf bytes.Buffer
	require.NoError(t, r.Archive("/ping", &buf))
	hdr, err := tar.NewReader(bytes.NewReader(buf.Bytes())).Next()
	require.NoError(t, err)
	assert.Equal(t, string(caps), hdr.PAXRecords["SCHILY.xattr.security.capability"])

	hdr.Name = "d/ping"
	hdr.PAXRecords["SCHILY.xattr.user.note"] = "kept"
	hdr.PAXRecords["SCHILY.xattr.trusted.overlay.opaque"] = "y"
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	require.NoError(t, tw.WriteHeader(hdr))
	_, err = tw.Write(make([]byte, hdr.Size))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, r.Extract("/", &in, ExtractOptions{}))
	for attr, want := range map[string]string{"security.capability": string(caps), "user.note": "kept", "trusted.overlay.opaque": ""} {
		got := make([]byte, 64)
		n, err := unix.Getxattr(filepath.Join(root, "d", "ping"), attr, got)
		if want == "" {
			assert.ErrorIs(t, err, unix.ENODATA, attr)
			continue
		}
		require.NoError(t, err, attr)
		assert.Equal(t, want, string(got[:n]), attr)
	}
}
