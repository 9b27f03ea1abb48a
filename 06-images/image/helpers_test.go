package image

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// entry is one tar entry for makeTar. A name ending in "/" is a
// directory; Link is a symlink target, or a hard link's with Hard.
type entry struct {
	Name    string
	Body    string
	Link    string
	Hard    bool
	Mode    int64
	Uid     int
	Type    byte
	PAX     map[string]string
	Devices [2]int64
}

// makeTar builds a tar in memory.
func makeTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Mode: e.Mode, Uid: e.Uid, Gid: e.Uid, ModTime: time.Unix(1700000000, 0), PAXRecords: e.PAX}
		switch {
		case e.Type != 0:
			hdr.Typeflag = e.Type
			hdr.Devmajor, hdr.Devminor = e.Devices[0], e.Devices[1]
		case strings.HasSuffix(e.Name, "/"):
			hdr.Typeflag = tar.TypeDir
		case e.Link != "" && e.Hard:
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, e.Link
		case e.Link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.Link
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.Body))
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if hdr.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(e.Body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// tarNames lists the entries of a tar, with a type letter: "d bin/",
// "f bin/.wh.vi", "l a -> b", "h x => y", "c dev/null 1/3".
func tarNames(t testing.TB, data []byte) []string {
	t.Helper()
	var names []string
	for _, e := range labtest.ReadTar(t, bytes.NewReader(data)) {
		switch e.Typeflag {
		case tar.TypeDir:
			names = append(names, "d "+e.Name)
		case tar.TypeSymlink:
			names = append(names, "l "+e.Name+" -> "+e.Linkname)
		case tar.TypeLink:
			names = append(names, "h "+e.Name+" => "+e.Linkname)
		case tar.TypeReg:
			names = append(names, "f "+e.Name)
		default:
			names = append(names, string(e.Typeflag)+" "+e.Name)
		}
	}
	return names
}

// tree describes every file under dir, one line each, with what a layer
// must keep: type, mode, owner, size or target, xattrs. Hard links show
// as the same "inode #N" (numbered in walk order).
func tree(t testing.TB, dir string) []string {
	t.Helper()
	var lines []string
	inodes := map[uint64]int{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		line := rel + " " + fi.Mode().String() + " " + itoa(int(st.Uid)) + ":" + itoa(int(st.Gid))
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			line += " " + strings.TrimSpace(string(b))
			if st.Nlink > 1 {
				if _, ok := inodes[st.Ino]; !ok {
					inodes[st.Ino] = len(inodes) + 1
				}
				line += " inode#" + itoa(inodes[st.Ino])
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			require.NoError(t, err)
			line += " -> " + target
		case fi.Mode()&fs.ModeDevice != 0:
			line += " dev " + itoa(int(unix.Major(st.Rdev))) + "/" + itoa(int(unix.Minor(st.Rdev)))
		}
		attrs, err := readXattrsAll(p)
		require.NoError(t, err)
		if len(attrs) > 0 {
			line += " xattrs " + strings.Join(attrs, ",")
		}
		lines = append(lines, line)
		return nil
	})
	require.NoError(t, err)
	return lines
}

// readXattrsAll lists name=value of every xattr, overlay's included.
func readXattrsAll(p string) ([]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil || size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range strings.Split(string(buf[:size]), "\x00") {
		if name == "" {
			continue
		}
		val := make([]byte, 256)
		n, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			return nil, err
		}
		out = append(out, name+"="+string(val[:n]))
	}
	sort.Strings(out)
	return out, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// newStore opens a store in a fresh temporary directory.
func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "images"))
	require.NoError(t, err)
	return s
}

// importBusybox imports the course's busybox rootfs tarball as an image.
func importBusybox(t testing.TB, s *Store, ref string) Image {
	t.Helper()
	rootfs := labtest.BusyboxRootfs(t)
	f, err := os.Open(rootfs + ".tar")
	require.NoError(t, err)
	defer f.Close()
	img, err := s.Import(f, ImportOptions{Ref: ref, Config: &ContainerConfig{Cmd: []string{"/bin/sh"}}, Comment: "busybox base"})
	require.NoError(t, err)
	return img
}

// flat returns the files that an image's stacked layers show, by content.
func flat(t testing.TB, s *Store, id Digest, upper ...string) map[string]string {
	t.Helper()
	dirs, err := s.LayerDirs(id)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, Flatten(&buf, append(dirs, upper...)))
	return labtest.TarFiles(t, &buf)
}

// countEntries counts the entries of a store subdirectory.
func countEntries(t testing.TB, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	return len(entries)
}
