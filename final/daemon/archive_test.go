package daemon

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/final/api/apitest"
	"github.com/berth-project/berth/final/cli"
)

// docker cp through the real docker CLI: both ways, files and
// directories, on a running container (its /proc/PID/root) and on a
// stopped one (its overlay, mounted for the copy).

// cpContainers makes two containers that have run setup (a shell
// script): one still running, one stopped. It returns their names.
func (l *lab) cpContainers(prefix, setup string, opts ...string) map[string]bool {
	l.t.Helper()
	running, stopped := prefix+"-running", prefix+"-stopped"
	l.ok(append(append([]string{"run", "-d", "--name", running}, opts...), "busybox", "sleep", "1000")...)
	if setup != "" {
		l.ok("exec", running, "sh", "-c", setup)
	}
	if setup == "" {
		setup = "true"
	}
	l.ok(append(append([]string{"run", "--name", stopped}, opts...), "busybox", "sh", "-c", setup)...)
	return map[string]bool{running: true, stopped: false}
}

// tarOf makes a tar of entries: a name ending in "/" is a directory,
// "name -> target" a symlink, "name => target" a hard link, anything
// else a file with the given content.
func tarOf(t *testing.T, entries ...[2]string) string {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e[0], Mode: 0o644, ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg, Size: int64(len(e[1]))}
		switch {
		case strings.Contains(e[0], " -> "):
			hdr.Name, hdr.Linkname, _ = strings.Cut(e[0], " -> ")
			hdr.Typeflag, hdr.Size = tar.TypeSymlink, 0
		case strings.Contains(e[0], " => "):
			hdr.Name, hdr.Linkname, _ = strings.Cut(e[0], " => ")
			hdr.Typeflag, hdr.Size = tar.TypeLink, 0
		case strings.HasSuffix(e[0], "/"):
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if hdr.Typeflag == tar.TypeReg {
			_, err := io.WriteString(tw, e[1])
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return buf.String()
}

// untar reads a tar into name -> header, and the files' contents.
func untar(t *testing.T, data string) (map[string]*tar.Header, map[string]string) {
	hdrs, files := map[string]*tar.Header{}, map[string]string{}
	for _, e := range labtest.ReadTar(t, strings.NewReader(data)) {
		hdrs[e.Name], files[e.Name] = e.Header, string(e.Data)
	}
	return hdrs, files
}

// cat reads a file of a container through docker cp CTR:PATH -.
func (l *lab) cat(ctr, p string) string {
	l.t.Helper()
	_, files := untar(l.t.(*testing.T), l.ok("cp", ctr+":"+p, "-"))
	return files[filepath.Base(p)]
}

func TestCp_BothWays(t *testing.T) {
	l := newLab(t)
	host := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(host, "file"), []byte("hello\n"), 0o640))
	require.NoError(t, os.MkdirAll(filepath.Join(host, "dir", "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(host, "dir", "sub", "b"), []byte("bee\n"), 0o600))
	for name := range l.cpContainers("cp", "") {
		l.ok("cp", filepath.Join(host, "dir"), name+":/")
		l.ok("cp", filepath.Join(host, "file"), name+":/tmp/copied")

		out := t.TempDir()
		l.ok("cp", name+":/tmp/copied", filepath.Join(out, "back"))
		data, err := os.ReadFile(filepath.Join(out, "back"))
		require.NoError(t, err, name)
		assert.Equal(t, "hello\n", string(data), name)
		fi, err := os.Stat(filepath.Join(out, "back"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "%s: the mode travels", name)

		l.ok("cp", name+":/dir", filepath.Join(out, "dir"))
		data, err = os.ReadFile(filepath.Join(out, "dir", "sub", "b"))
		require.NoError(t, err, name)
		assert.Equal(t, "bee\n", string(data), name)

		l.ok("cp", name+":/etc/passwd", out)
		_, err = os.Stat(filepath.Join(out, "passwd"))
		assert.NoError(t, err, "%s: the image's files", name)
	}
	assert.Contains(t, l.ok("diff", "cp-stopped"), "A /tmp/copied", "in the writable layer")

	// A container that never ran: what is copied in is there when it
	// starts.
	l.ok("create", "--name", "cp-created", "busybox", "cat", "/tmp/copied", "/dir/sub/b")
	l.ok("cp", filepath.Join(host, "file"), "cp-created:/tmp/copied")
	l.ok("cp", filepath.Join(host, "dir"), "cp-created:/")
	assert.Equal(t, "hello\nbee\n", l.ok("start", "-a", "cp-created"))
}

// docker cp CTR:PATH - writes Docker's tar, its entries named after the
// path's last element; docker cp - CTR:DIR extracts one.
func TestCp_TarOnStdinAndStdout(t *testing.T) {
	l := newLab(t)
	for name := range l.cpContainers("cptar", "mkdir -p /d/sub && echo a > /d/a && echo b > /d/sub/b && ln /d/a /d/hard") {
		hdrs, files := untar(t, l.ok("cp", name+":/d", "-"))
		assert.ElementsMatch(t, []string{"d/", "d/a", "d/hard", "d/sub/", "d/sub/b"}, keys(hdrs), name)
		assert.Equal(t, "b\n", files["d/sub/b"])
		assert.Equal(t, byte(tar.TypeLink), hdrs["d/hard"].Typeflag, "%s: a hard link stays one", name)
		assert.Equal(t, "d/a", hdrs["d/hard"].Linkname)

		hdrs, _ = untar(t, l.ok("cp", name+":/d/.", "-"))
		assert.ElementsMatch(t, []string{"./", "./a", "./hard", "./sub/", "./sub/b"}, keys(hdrs), "%s: the contents, as Docker names them", name)

		hdrs, _ = untar(t, l.ok("cp", name+":/d/sub/b", "-"))
		assert.Equal(t, []string{"b"}, keys(hdrs), name)

		// The whole root: the kernel's file systems of a running
		// container (/proc, /sys) are empty directories in it.
		hdrs, _ = untar(t, l.ok("cp", name+":/", "-"))
		assert.Contains(t, hdrs, "/etc/passwd", name)
		assert.Contains(t, hdrs, "/proc/", name)
		assert.NotContains(t, hdrs, "/proc/1/", name)
		assert.NotContains(t, hdrs, "/sys/kernel/", name)

		_, errOut, code := l.docker(tarOf(t, [2]string{"new/", ""}, [2]string{"new/f", "from stdin"}, [2]string{"g => new/f", ""}), "cp", "-", name+":/d")
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "from stdin", l.cat(name, "/d/new/f"), name)
		assert.Equal(t, "from stdin", l.cat(name, "/d/g"), "%s: the hard link", name)

		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, err := io.WriteString(zw, tarOf(t, [2]string{"zipped", "gzip"}))
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		_, errOut, code = l.docker(gz.String(), "cp", "-", name+":/d")
		require.Equal(t, 0, code, "%s: a gzipped tar: %s", name, errOut)
		assert.Equal(t, "gzip", l.cat(name, "/d/zipped"), name)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// -a (copyUIDGID): the files get the container's user; without it they
// keep the archive's owners.
func TestCp_ArchiveModeOwnership(t *testing.T) {
	l := newLab(t)
	f := filepath.Join(t.TempDir(), "owned")
	require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	require.NoError(t, os.Chown(f, 4321, 8765))
	for name := range l.cpContainers("cpown", "", "--user", "1234:5678") {
		l.ok("cp", f, name+":/tmp/plain")
		l.ok("cp", "-a", f, name+":/tmp/archived")
		hdrs, _ := untar(t, l.ok("cp", name+":/tmp/plain", "-"))
		assert.Equal(t, [2]int{4321, 8765}, [2]int{hdrs["plain"].Uid, hdrs["plain"].Gid}, name)
		hdrs, _ = untar(t, l.ok("cp", name+":/tmp/archived", "-"))
		assert.Equal(t, [2]int{1234, 5678}, [2]int{hdrs["archived"].Uid, hdrs["archived"].Gid}, name)
	}
}

// -L follows a symlink at the end of the source; without it the link is
// copied as a link.
func TestCp_FollowLink(t *testing.T) {
	l := newLab(t)
	for name := range l.cpContainers("cplink", "echo target > /etc/t && ln -s /etc/t /abs && ln -s t /etc/rel") {
		out := t.TempDir()
		l.ok("cp", name+":/abs", filepath.Join(out, "plain"))
		link, err := os.Readlink(filepath.Join(out, "plain"))
		require.NoError(t, err, "%s: without -L the link itself", name)
		assert.Equal(t, "/etc/t", link)
		for _, src := range []string{"/abs", "/etc/rel"} {
			dst := filepath.Join(out, "followed"+filepath.Base(src))
			l.ok("cp", "-L", name+":"+src, dst)
			data, err := os.ReadFile(dst)
			require.NoError(t, err, "%s %s", name, src)
			assert.Equal(t, "target\n", string(data), "%s %s", name, src)
			fi, err := os.Lstat(dst)
			require.NoError(t, err)
			assert.True(t, fi.Mode().IsRegular(), "%s %s", name, src)
		}
	}
}

// The errors as Docker words them.
func TestCp_Errors(t *testing.T) {
	l := newLab(t)
	host := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(host, "f"), []byte("x"), 0o644))
	for name := range l.cpContainers("cperr", "") {
		_, errOut, code := l.docker("", "cp", name+":/no/such", host)
		assert.NotEqual(t, 0, code)
		assert.Contains(t, errOut, "Could not find the file /no/such in container "+name)

		_, errOut, code = l.docker("", "cp", filepath.Join(host, "f"), name+":/no/such/f")
		assert.NotEqual(t, 0, code, name)
		assert.Contains(t, errOut, "Could not find the file /no/such in container "+name)

		_, errOut, code = l.docker("", "cp", name+":/etc/passwd/", host)
		assert.NotEqual(t, 0, code, "%s: a file with a trailing slash", name)
		assert.Contains(t, errOut, "not a directory")

		for _, tc := range []struct {
			dest, words string
			entries     [][2]string
		}{
			{"/etc", "cannot overwrite non-directory", [][2]string{{"passwd/", ""}}},
			{"/", "cannot overwrite directory", [][2]string{{"etc", "a file"}}},
			{"/etc/passwd", "must be a directory", [][2]string{{"f", "x"}}}, // the client's check
		} {
			_, errOut, code = l.docker(tarOf(t, tc.entries...), "cp", "-", name+":"+tc.dest)
			assert.NotEqual(t, 0, code, "%s %s", name, tc.dest)
			assert.Contains(t, errOut, tc.words, "%s %s", name, tc.dest)
		}
		assert.Contains(t, l.cat(name, "/etc/passwd"), "root:", "%s: nothing was overwritten", name)

		// What the client checks itself, the server checks too.
		ctx := labCtx(t)
		_, err := l.client.CopyToContainer(ctx, name, client.CopyToContainerOptions{DestinationPath: "/tmp", Content: strings.NewReader("\xfd7zXZ\x00 not really xz")})
		assert.True(t, errdefs.IsInvalidArgument(err), "%s: xz is refused: %v", name, err)
		_, err = l.client.CopyToContainer(ctx, name, client.CopyToContainerOptions{DestinationPath: "/etc/passwd", Content: strings.NewReader(tarOf(t))})
		assert.True(t, errdefs.IsInvalidArgument(err), "%s: %v", name, err)
		assert.ErrorContains(t, err, "extraction point is not a directory")
		_, err = l.client.ContainerStatPath(ctx, name, client.ContainerStatPathOptions{Path: "/no/such"})
		assert.True(t, errdefs.IsNotFound(err), "%s: %v", name, err)
		_, err = l.client.CopyToContainer(ctx, name, client.CopyToContainerOptions{DestinationPath: "/no/such", Content: strings.NewReader(tarOf(t))})
		assert.True(t, errdefs.IsNotFound(err), "%s: %v", name, err)

		var dev bytes.Buffer
		tw := tar.NewWriter(&dev)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "mem", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 1, Mode: 0o666}))
		require.NoError(t, tw.Close())
		_, errOut, code = l.docker(dev.String(), "cp", "-", name+":/tmp")
		assert.NotEqual(t, 0, code, name)
		assert.Contains(t, errOut, "device nodes are not extracted", name)
	}
}

// A read-only root file system takes no copy, except in its writable
// volumes; a read-only volume takes none either.
func TestCp_ReadOnly(t *testing.T) {
	l := newLab(t)
	rw, ro := t.TempDir(), t.TempDir()
	f := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	conf := filepath.Join(t.TempDir(), "app.conf")
	require.NoError(t, os.WriteFile(conf, []byte("a file mounted alone"), 0o644))
	for name := range l.cpContainers("cpro", "", "--read-only", "-v", rw+":/rw", "-v", ro+":/ro:ro", "-v", conf+":/etc/app.conf") {
		assert.Equal(t, "a file mounted alone", l.cat(name, "/etc/app.conf"), "%s: a bind-mounted file", name)

		_, errOut, code := l.docker("", "cp", f, name+":/tmp/")
		assert.NotEqual(t, 0, code, name)
		assert.Contains(t, errOut, "container rootfs is marked read-only", name)
		_, err := l.client.CopyToContainer(labCtx(t), name, client.CopyToContainerOptions{DestinationPath: "/tmp", Content: strings.NewReader(tarOf(t))})
		assert.True(t, errdefs.IsPermissionDenied(err), "%s: 403, as the API says: %v", name, err)

		_, errOut, code = l.docker("", "cp", f, name+":/ro/")
		assert.NotEqual(t, 0, code, name)
		assert.Contains(t, errOut, "mounted volume is marked read-only", name)

		l.ok("cp", f, name+":/rw/"+name)
		data, err := os.ReadFile(filepath.Join(rw, name))
		require.NoError(t, err, "%s: the volume is the host's directory", name)
		assert.Equal(t, "x", string(data))
		assert.Equal(t, "x", l.cat(name, "/rw/"+name), "%s: and is read back through the container", name)
	}
}

// Named and anonymous volumes are the container's too, running or not:
// a copy into a stopped container's volume lands in the volume, and
// other containers see it there; one into a read-only volume is refused.
func TestCp_Volumes(t *testing.T) {
	l := newLab(t)
	f := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(f, []byte("into the volume"), 0o644))
	for name := range l.cpContainers("cpvol", "", "-v", "cpvol-data:/data", "-v", "cpvol-ro:/ro:ro", "-v", "/anon") {
		l.ok("cp", f, name+":/data/"+name)
		out := l.ok("run", "--rm", "-v", "cpvol-data:/v", "busybox", "cat", "/v/"+name)
		assert.Equal(t, "into the volume", out, "%s: in the volume, not in the container's layer", name)
		_, errOut, code := l.docker("", "cp", f, name+":/ro/")
		assert.NotEqual(t, 0, code, name)
		assert.Contains(t, errOut, "mounted volume is marked read-only", name)
		l.ok("cp", f, name+":/anon/f")
		assert.Equal(t, "into the volume", l.cat(name, "/anon/f"), name)
	}
	out := l.ok("diff", "cpvol-stopped")
	assert.NotContains(t, out, "/data/cpvol-stopped", "nothing in the layer under the volume")
}

// A container's name files are its own, running or stopped, as under
// Docker: docker cp reads the /etc/hosts berthd wrote for it.
func TestCp_NameFiles(t *testing.T) {
	l := newLab(t)
	for name := range l.cpContainers("cpnames", "", "--hostname", "cp-host", "--add-host", "cp-peer:10.1.2.3") {
		hosts := l.cat(name, "/etc/hosts")
		assert.Contains(t, hosts, "10.1.2.3\tcp-peer\n", name)
		assert.Equal(t, "cp-host\n", l.cat(name, "/etc/hostname"), name)
	}
}

// noHostFile asserts that no file named base was made in the host's
// directories where an escape would put it, and removes it if one was.
func noHostFile(t *testing.T, base string) {
	t.Helper()
	for _, dir := range []string{"/", "/etc", "/tmp"} {
		p := filepath.Join(dir, base)
		_, err := os.Lstat(p)
		if !assert.True(t, errors.Is(err, os.ErrNotExist), "%s appeared on the host", p) {
			_ = os.Remove(p)
		}
	}
}

// The container's symlinks, absolute or climbing with "..", lead to the
// container's files, never the host's: a container whose /x is a link
// to /etc gives its own /etc (CVE-2018-15664).
func TestCp_SymlinksStayInTheContainer(t *testing.T) {
	l := newLab(t)
	secret := labtest.Unique("berth-cp")
	setup := "ln -s /etc /x && ln -s ../../../../../../.. /up && echo inside > /etc/" + secret
	for name := range l.cpContainers("cpsym", setup) {
		assert.Equal(t, "inside\n", l.cat(name, "/x/"+secret), name)
		assert.Equal(t, "inside\n", l.cat(name, "/up/etc/"+secret), name)
		assert.Equal(t, "inside\n", l.cat(name, "/up/x/"+secret), name)
		out := t.TempDir()
		l.ok("cp", name+":/x/"+secret, out)
		data, err := os.ReadFile(filepath.Join(out, secret))
		require.NoError(t, err)
		assert.Equal(t, "inside\n", string(data))
		noHostFile(t, secret)

		// Into the link: the file lands in the container's /etc.
		in := labtest.Unique("berth-cp-in")
		f := filepath.Join(t.TempDir(), in)
		require.NoError(t, os.WriteFile(f, []byte("copied in"), 0o644))
		l.ok("cp", f, name+":/x/")
		l.ok("cp", f, name+":/up/tmp/")
		assert.Equal(t, "copied in", l.cat(name, "/etc/"+in), name)
		assert.Equal(t, "copied in", l.cat(name, "/tmp/"+in), name)
		noHostFile(t, in)

		// -L and a symlinked destination resolve in the container too.
		l.ok("cp", "-L", name+":/x", filepath.Join(out, "etc"))
		_, err = os.Stat(filepath.Join(out, "etc", secret))
		assert.NoError(t, err, "%s: -L copied the container's /etc", name)
	}
}

// An archive cannot climb out either: a symlink it makes is followed in
// the container's root by the entries after it, and entries above the
// destination are refused.
func TestCp_ArchiveCannotEscape(t *testing.T) {
	l := newLab(t)
	for name := range l.cpContainers("cpesc", "") {
		a, b := labtest.Unique("berth-cp-a"), labtest.Unique("berth-cp-b")
		archive := tarOf(t,
			[2]string{"root -> /", ""}, [2]string{"root/" + a, "via /"},
			[2]string{"up -> ../../../../..", ""}, [2]string{"up/etc/" + b, "via .."},
		)
		_, errOut, code := l.docker(archive, "cp", "-", name+":/tmp")
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "via /", l.cat(name, "/"+a), "%s: the container's /", name)
		assert.Equal(t, "via ..", l.cat(name, "/etc/"+b), "%s: the container's /etc", name)
		noHostFile(t, a)
		noHostFile(t, b)

		c := labtest.Unique("berth-cp-c")
		for _, entry := range []string{"../" + c, "x/../../" + c, "../../../../../../tmp/" + c} {
			_, errOut, code = l.docker(tarOf(t, [2]string{entry, "climbed"}), "cp", "-", name+":/tmp")
			assert.NotEqual(t, 0, code, "%s: %s", name, entry)
			assert.Contains(t, errOut, "is outside of \"/tmp\"", "%s: %s", name, entry)
		}
		_, errOut, code = l.docker(tarOf(t, [2]string{"hl => ../../etc/passwd", ""}), "cp", "-", name+":/tmp")
		assert.NotEqual(t, 0, code, "%s: a hard link above the destination", name)
		assert.Contains(t, errOut, "is outside of")
		for _, p := range []string{"/" + c, "/tmp/" + c} {
			_, errOut, _ = l.docker("", "cp", name+":"+p, "-")
			assert.Contains(t, errOut, "Could not find the file", "%s: %s was not written", name, p)
		}
		noHostFile(t, c)
	}
}

// A container that swaps a directory for a symlink to "/" over and over
// while docker cp writes into it and reads through it (the
// CVE-2018-15664 exploit): every copy lands in the container, and every
// read that went through the link read the container's file, whichever
// /w/d was at that moment.
func TestCp_SymlinkExchangeRace(t *testing.T) {
	l := newLab(t)
	name := "cprace"
	l.ok("run", "-d", "--name", name, "busybox", "sh", "-c",
		"mkdir -p /w/dir && ln -s / /w/link && while :; do mv -T /w/dir /w/d; mv -T /w/d /w/dir; mv -T /w/link /w/d; mv -T /w/d /w/link; done")
	f := labtest.Unique("berth-cp-race")
	src := filepath.Join(t.TempDir(), f)
	require.NoError(t, os.WriteFile(src, []byte("raced"), 0o644))
	theirs := l.cat(name, "/etc/passwd")
	host, err := os.ReadFile("/etc/passwd")
	require.NoError(t, err)
	require.NotEqual(t, string(host), theirs, "the test needs the host's passwd to differ from the container's")
	read := 0
	for range 30 {
		_, _, _ = l.docker("", "cp", src, name+":/w/d/")
		out, _, code := l.docker("", "cp", name+":/w/d/etc/passwd", "-")
		if code != 0 {
			continue // /w/d was the directory at that moment
		}
		_, files := untar(t, out)
		assert.Equal(t, theirs, files["passwd"], "read through the link: the container's passwd, never the host's")
		read++
	}
	t.Logf("%d of 30 reads went through the symlink", read)
	noHostFile(t, f)
}

// Copies into the same stopped container at the same time wait for each
// other: each mounts its root in turn.
func TestCp_ConcurrentCopiesIntoAStoppedContainer(t *testing.T) {
	l := newLab(t)
	l.ok("create", "--name", "cpconc", "busybox", "true")
	f := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	var wg sync.WaitGroup
	errs := make([]string, 4)
	for i := range errs {
		wg.Go(func() {
			_, errOut, code := l.docker("", "cp", f, fmt.Sprintf("cpconc:/tmp/f%d", i))
			if code != 0 {
				errs[i] = errOut
			}
		})
	}
	wg.Wait()
	assert.Equal(t, make([]string, 4), errs)
	for i := range errs {
		assert.Equal(t, "x", l.cat("cpconc", fmt.Sprintf("/tmp/f%d", i)))
	}
}

// berth cp, the project's own client, against the engine: the same
// requests, and the same containment (a container's /x -> /etc is its
// own /etc).
func TestCp_BerthCLI(t *testing.T) {
	l := newLab(t)
	secret := labtest.Unique("berth-cp")
	for name := range l.cpContainers("cpberth", "ln -s /etc /x && mkdir -p /d/sub && echo deep > /d/sub/f && echo inside > /etc/"+secret) {
		berth := func(args ...string) (string, string, int) {
			var out, errOut bytes.Buffer
			c := cli.New(strings.NewReader(""), &out, &errOut)
			c.Getenv = func(k string) string {
				if k == cli.HostEnv {
					return apitest.Host(l.sock)
				}
				return ""
			}
			code := c.Run(args)
			return out.String(), errOut.String(), code
		}
		dir := t.TempDir()
		_, errOut, code := berth("cp", name+":/x/"+secret, dir)
		require.Equal(t, 0, code, errOut)
		data, err := os.ReadFile(filepath.Join(dir, secret))
		require.NoError(t, err)
		assert.Equal(t, "inside\n", string(data), name)

		_, errOut, code = berth("cp", "-L", name+":/x", filepath.Join(dir, "etc"))
		require.Equal(t, 0, code, errOut)
		_, err = os.Stat(filepath.Join(dir, "etc", secret))
		assert.NoError(t, err, "%s: -L copied the container's /etc", name)

		_, errOut, code = berth("cp", name+":/d/.", filepath.Join(dir, "contents"))
		require.Equal(t, 0, code, errOut)
		data, err = os.ReadFile(filepath.Join(dir, "contents", "sub", "f"))
		require.NoError(t, err, name)
		assert.Equal(t, "deep\n", string(data))

		in := filepath.Join(dir, "in-"+secret)
		require.NoError(t, os.WriteFile(in, []byte("copied in"), 0o644))
		_, errOut, code = berth("cp", in, name+":/x")
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "copied in", l.cat(name, "/etc/in-"+secret), name)
		_, errOut, code = berth("cp", filepath.Join(dir, "contents"), name+":/d/again")
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "deep\n", l.cat(name, "/d/again/sub/f"), name)
		noHostFile(t, "in-"+secret)

		_, errOut, code = berth("cp", name+":/nope", dir)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "Could not find the file /nope in container "+name)
	}
}

// writable's table: which mount a destination is in, through the
// image's symlinks, and whether it takes a copy.
func TestCp_Writable(t *testing.T) {
	links := map[string]string{"/var/run": "/run", "/data": "/data", "/ro": "/ro", "/ro/rw": "/ro/rw"}
	resolve := func(p string) (string, error) { return links[p], nil }
	mounts := []rootfs.Volume{{Target: "/var/run"}, {Target: "/ro", ReadOnly: true}, {Target: "/ro/rw"}, {Target: "/data"}}
	for _, tc := range []struct {
		dest           string
		readonlyRootfs bool
		err            string
	}{
		{"/tmp", false, ""},
		{"/tmp", true, "container rootfs is marked read-only"},
		{"/run/x", true, ""}, // in the /var/run volume, through the link
		{"/data", true, ""},
		{"/database", true, "container rootfs is marked read-only"},
		{"/ro/x", false, "mounted volume is marked read-only"},
		{"/ro/rw/x", false, ""}, // the innermost mount decides
	} {
		rec := &record{}
		rec.HostConfig.ReadonlyRootfs = tc.readonlyRootfs
		err := writable(rec, mounts, tc.dest, resolve)
		if tc.err == "" {
			assert.NoError(t, err, tc.dest)
			continue
		}
		assert.ErrorContains(t, err, tc.err, tc.dest)
		assert.True(t, errdefs.IsPermissionDenied(err), tc.dest)
	}
}

// A paused container is copied from and into like a running one: its
// root stays reachable while its processes are frozen.
func TestCp_PausedContainer(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "cppaused", "busybox", "sleep", "1000")
	l.ok("pause", "cppaused")
	f := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(f, []byte("while paused"), 0o644))
	l.ok("cp", f, "cppaused:/tmp/f")
	assert.Equal(t, "while paused", l.cat("cppaused", "/tmp/f"))
	l.ok("unpause", "cppaused")
}

// A start waits for a copy into the stopped container in progress, and
// then sees all of it.
func TestCp_StartWaitsForACopy(t *testing.T) {
	l := newLab(t)
	id := l.create("cpwait", container.Config{Cmd: []string{"cat", "/tmp/first", "/tmp/second"}}, nil)
	pr, pw := io.Pipe()
	tw := tar.NewWriter(pw)
	copied := make(chan error, 1)
	go func() {
		_, err := l.client.CopyToContainer(labCtx(t), "cpwait", client.CopyToContainerOptions{DestinationPath: "/tmp", Content: pr})
		copied <- err
	}()
	write := func(name string) {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(name) + 1), Typeflag: tar.TypeReg}))
		_, err := io.WriteString(tw, name+"\n")
		require.NoError(t, err)
		require.NoError(t, tw.Flush())
	}
	write("first")
	first := filepath.Join(l.opts.DataRoot, "containers", id, "upper", "tmp", "first")
	eventually(t, func() bool { _, err := os.Stat(first); return err == nil }, "the copy has begun")

	started := make(chan error, 1)
	go func() {
		_, err := l.client.ContainerStart(labCtx(t), "cpwait", client.ContainerStartOptions{})
		started <- err
	}()
	eventually(t, startBlocked, "the start waits for the copy")
	write("second")
	require.NoError(t, tw.Close())
	require.NoError(t, pw.Close())
	require.NoError(t, <-copied)
	require.NoError(t, <-started, "the start waited for the copy instead of failing")
	assert.Equal(t, int64(0), l.wait(id))
	out, _ := l.logs("cpwait")
	assert.Equal(t, "first\nsecond\n", out)
}

// startBlocked reports whether a goroutine of this process (the lab's
// daemon) is in ContainerStart, waiting for a mutex.
func startBlocked() bool {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "(*Daemon).ContainerStart(") && strings.Contains(g, "sync.(*Mutex).Lock") {
			return true
		}
	}
	return false
}
