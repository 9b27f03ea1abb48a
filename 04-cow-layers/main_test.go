package main

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
)

// The test binary is also the container's init: namespace.Start re-runs it.
func TestMain(m *testing.M) { labtest.Main(m, program.Init) }

// runProgram runs the chapter program's command line in-process.
func runProgram(t testing.TB, args ...string) (stdout, stderr string, status int) {
	return labtest.Run(t, program, args...)
}

var idLine = regexp.MustCompile(`(?m)^([0-9a-f]{64})\n?$`)

// runKept runs sh -c script with --keep on image (layer directories,
// bottom first), requires status 0, and returns the output and the
// container's ID, which run printed on stderr.
func runKept(t *testing.T, root, image, script string, flags ...string) (out, id string) {
	t.Helper()
	args := append([]string{"run", "--root", root, "--image", image, "--keep"}, flags...)
	out, errOut, status := runProgram(t, append(args, "--", "/bin/sh", "-c", script)...)
	require.Equal(t, 0, status, "stderr: %s", errOut)
	m := idLine.FindStringSubmatch(errOut)
	require.NotNil(t, m, "--keep prints the container's ID on stderr: %q", errOut)
	return out, m[1]
}

func diffLines(t *testing.T, root, ref string) []string {
	t.Helper()
	out, errOut, status := runProgram(t, "diff", "--root", root, ref)
	require.Equal(t, 0, status, "stderr: %s", errOut)
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// makeLayer creates an image layer with the given files (path: content;
// a path ending in "/" is a directory).
func makeLayer(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		if strings.HasSuffix(p, "/") {
			require.NoError(t, os.MkdirAll(full, 0o755))
			continue
		}
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
	return dir
}

func TestS14_WritesAndDeletesLandOnlyInTheContainersLayer(t *testing.T) {
	labtest.Privileged(t)
	base := labtest.BusyboxRootfs(t)
	app := makeLayer(t, map[string]string{
		"data/keep.txt": "kept\n",
		"data/gone.txt": "doomed\n",
		"olddir/a":      "a",
		"olddir/b":      "b",
	})
	before := [][]string{labtest.Tree(t, base), labtest.Tree(t, app)}
	root := t.TempDir()

	out, id := runKept(t, root, base+":"+app, `
		echo new > /new.txt
		echo more >> /data/keep.txt
		rm /data/gone.txt
		rm -rf /olddir && mkdir /olddir && echo n > /olddir/n
		cat /data/keep.txt; ls /data; ls /olddir`)
	assert.Equal(t, "kept\nmore\nkeep.txt\nn\n", out, "the container sees its own changes")
	assert.Equal(t, before, [][]string{labtest.Tree(t, base), labtest.Tree(t, app)}, "the image's layers must not change")

	rw, err := layer.Open(root, id)
	require.NoError(t, err)
	up := rw.Upper()
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(up, p))
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, "new\n", read("new.txt"))
	assert.Equal(t, "kept\nmore\n", read("data/keep.txt"), "copied up whole, then appended to")
	fi, err := os.Lstat(filepath.Join(up, "data/gone.txt"))
	require.NoError(t, err)
	assert.True(t, layer.IsWhiteout(fi), "a deleted file is a whiteout, a 0/0 character device: %v", fi.Mode())
	opaque, err := layer.IsOpaque(filepath.Join(up, "olddir"))
	require.NoError(t, err)
	assert.True(t, opaque, "a directory that was replaced is opaque")
	assert.Equal(t, "n\n", read("olddir/n"))

	assert.Equal(t, []string{
		"C /data",
		"D /data/gone.txt",
		"C /data/keep.txt",
		"A /new.txt",
		"C /olddir",
		"D /olddir/a",
		"D /olddir/b",
		"A /olddir/n",
	}, diffLines(t, root, id))
}

func TestS14_AContainerStartsWithoutCopyingItsImage(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	// Read every file of the image: nothing of it is copied for that.
	out, id := runKept(t, root, labtest.BusyboxRootfs(t), "find / -xdev -type f -exec cat {} + | wc -c")
	read, err := strconv.Atoi(strings.TrimSpace(out))
	require.NoError(t, err, out)
	assert.Greater(t, read, 1<<20, "the busybox binary alone is bigger than 1 MiB")
	rw, err := layer.Open(root, id)
	require.NoError(t, err)
	var copied []string
	require.NoError(t, filepath.Walk(rw.Upper(), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			copied = append(copied, p)
		}
		return err
	}))
	assert.Empty(t, copied, "reading copies nothing up")
	used, err := rw.Usage()
	require.NoError(t, err)
	assert.Less(t, used, int64(64<<10), "the whole container layer is a few empty directories")
	changes, err := rw.Changes()
	require.NoError(t, err)
	assert.Empty(t, changes)
}

// mountsUnder lists the host's mount points in or under the directories
// dirs. (Only there: other packages' tests may mount elsewhere meanwhile.)
func mountsUnder(t *testing.T, dirs ...string) []string {
	t.Helper()
	var found []string
	for _, m := range labtest.Mounts(t) {
		for _, d := range dirs {
			if m == d || strings.HasPrefix(m, d+"/") {
				found = append(found, m)
			}
		}
	}
	return found
}

// bigImage makes a busybox image with a 50 MB file, /big.bin, and returns
// the image and the file's MD5.
func bigImage(t testing.TB) (dir, sum string) {
	t.Helper()
	dir = labtest.CopyRootfs(t)
	data := make([]byte, 50<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>13) // not zeros: no filesystem can skip them
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644))
	s := md5.Sum(data)
	return dir, hex.EncodeToString(s[:])
}

// started is a container running in the background of a test, waiting
// for its stdin to close.
type started struct {
	stdin  *os.File
	stdout *bufio.Reader
	done   chan int
	errOut *labtest.Buffer
}

// startContainer starts `run ARGS` in the background. The container's
// stdin and stdout are pipes.
func startContainer(t *testing.T, args ...string) *started {
	t.Helper()
	inR, inW, err := os.Pipe()
	require.NoError(t, err)
	outR, outW, err := os.Pipe()
	require.NoError(t, err)
	c := &started{stdin: inW, stdout: bufio.NewReader(outR), done: make(chan int, 1), errOut: &labtest.Buffer{}}
	go func() {
		c.done <- program.Run(args, namespace.Stdio{In: inR, Out: outW, Err: c.errOut})
		inR.Close()
		outW.Close()
	}()
	t.Cleanup(func() { inW.Close(); outR.Close() })
	return c
}

// wait closes the container's stdin and returns its exit status.
func (c *started) wait() int {
	c.stdin.Close()
	return <-c.done
}

func TestS18_TwentyContainersShareOneImage(t *testing.T) {
	labtest.Privileged(t)
	image, sum := bigImage(t)
	imageSize, err := layer.DiskUsage(image)
	require.NoError(t, err)
	root := t.TempDir()

	const n = 20
	containers := make([]*started, n)
	for i := range containers {
		containers[i] = startContainer(t, "run", "--root", root, "--image", image, "--",
			"/bin/sh", "-c", "md5sum /big.bin; read line; echo bye")
	}
	for i, c := range containers {
		line, err := c.stdout.ReadString('\n')
		require.NoError(t, err, "container %d: %s", i, c.errOut)
		assert.Equal(t, sum+"  /big.bin\n", line, "every container reads the whole image file")
	}

	// All 20 are running, each with the 50 MB file in its root.
	ids, err := layer.List(root)
	require.NoError(t, err)
	require.Len(t, ids, n)
	used, err := layer.DiskUsage(layer.ContainersDir(root))
	require.NoError(t, err)
	t.Logf("image: %.1f MB; %d running containers' layers: %.1f KB in all (copies would take %.0f MB)",
		float64(imageSize)/1e6, n, float64(used)/1e3, float64(n*imageSize)/1e6)
	assert.Greater(t, imageSize, int64(50<<20))
	assert.Less(t, used, int64(2<<20), "20 containers cost less than 2 MiB on top of the shared image")

	for i, c := range containers {
		assert.Equal(t, 0, c.wait(), "container %d: %s", i, c.errOut)
	}
	ids, err = layer.List(root)
	require.NoError(t, err)
	assert.Empty(t, ids, "without --keep, every layer is removed at exit")
	assert.Empty(t, mountsUnder(t, root, image), "no overlay was ever mounted on the host")
}

func TestS19_TheImageIsReadOnlyTheContainersLayerWritable(t *testing.T) {
	labtest.Privileged(t)
	base := labtest.BusyboxRootfs(t)
	app := makeLayer(t, map[string]string{"etc/motd": "welcome\n"})
	image := base + ":" + app
	root := t.TempDir()

	// One container changes the image's file and keeps running...
	writer := startContainer(t, "run", "--root", root, "--image", image, "--keep", "--",
		"/bin/sh", "-c", "echo mine > /etc/motd; cat /etc/motd; read line || true")
	line, err := writer.stdout.ReadString('\n')
	require.NoError(t, err, writer.errOut.String())
	assert.Equal(t, "mine\n", line)

	// ...while another, on the same image, sees the image as it is.
	out, _, status := runProgram(t, "run", "--root", root, "--image", image, "--", "cat", "/etc/motd")
	require.Equal(t, 0, status)
	assert.Equal(t, "welcome\n", out)
	b, err := os.ReadFile(filepath.Join(app, "etc/motd"))
	require.NoError(t, err)
	assert.Equal(t, "welcome\n", string(b), "the image's file on the host")

	// The change is in the writer's layer only, and diff shows it even
	// while the container runs.
	ids, err := layer.List(root)
	require.NoError(t, err)
	require.Len(t, ids, 1, "the second container's layer is gone")
	assert.Equal(t, []string{"C /etc", "C /etc/motd"}, diffLines(t, root, ids[0][:12]))
	rw, err := layer.Open(root, ids[0])
	require.NoError(t, err)
	b, err = os.ReadFile(filepath.Join(rw.Upper(), "etc/motd"))
	require.NoError(t, err)
	assert.Equal(t, "mine\n", string(b))

	assert.Equal(t, 0, writer.wait(), writer.errOut.String())
}

// TestS19_AContainersLayerCanBecomeAnImageLayer stacks a finished
// container's writable layer, read-only, under a new container: the
// difference between an image and a container is only that. (Chapter 06's
// commit packs such a layer into an image.)
func TestS19_AContainersLayerCanBecomeAnImageLayer(t *testing.T) {
	labtest.Privileged(t)
	base := labtest.BusyboxRootfs(t)
	root := t.TempDir()
	_, id := runKept(t, root, base, "echo v1 > /version; rm /bin/vi")
	rw, err := layer.Open(root, id)
	require.NoError(t, err)

	out, _ := runKept(t, root, base+":"+rw.Upper(), "cat /version; ls /bin/vi 2>&1 || true")
	assert.Equal(t, "v1\nls: /bin/vi: No such file or directory\n", out,
		"the new container sees the old one's file, and its whiteout still deletes")
	fi, err := os.Lstat(filepath.Join(rw.Upper(), "bin/vi"))
	require.NoError(t, err)
	assert.True(t, layer.IsWhiteout(fi), "used as a lower layer, the upper directory is unchanged")
}

func TestKeepOrRemoveTheLayerAtExit(t *testing.T) {
	labtest.Privileged(t)
	image := labtest.BusyboxRootfs(t)
	root := t.TempDir()

	_, errOut, status := runProgram(t, "run", "--root", root, "--image", image, "--", "sh", "-c", "echo x > /x")
	require.Equal(t, 0, status, errOut)
	assert.Empty(t, errOut, "without --keep nothing is printed")
	entries, err := os.ReadDir(layer.ContainersDir(root))
	require.NoError(t, err)
	assert.Empty(t, entries, "the container's directory is removed")

	_, errOut, status = runProgram(t, "run", "--root", root, "--image", image, "--", "sh", "-c", "exit 3")
	assert.Equal(t, 3, status, "the command's status, as always")
	assert.Empty(t, errOut)

	_, id := runKept(t, root, image, "echo x > /x")
	assert.DirExists(t, filepath.Join(layer.ContainersDir(root), id, "upper"))
	assert.Equal(t, []string{"A /x"}, diffLines(t, root, id))

	out, errOut, status := runProgram(t, "rm", "--root", root, id[:8])
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, id[:8]+"\n", out)
	assert.NoDirExists(t, filepath.Join(layer.ContainersDir(root), id))
	_, errOut, status = runProgram(t, "rm", "--root", root, id[:8])
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "no such container")

	assert.Empty(t, mountsUnder(t, root, image), "no mount is left on the host")
}

// A layer that goes at the container's exit is mounted volatile: its
// unmount, at the exit, does not wait for the disk. A kept one is not.
func TestAThrownAwayLayerIsMountedVolatile(t *testing.T) {
	labtest.Privileged(t)
	image := labtest.BusyboxRootfs(t)
	root := t.TempDir()
	rootMount := "grep '^overlay / ' /proc/mounts"
	out, errOut, status := runProgram(t, "run", "--root", root, "--image", image, "--", "sh", "-c", rootMount)
	require.Equal(t, 0, status, errOut)
	assert.Contains(t, out, "volatile", "removed at exit: no sync waits for the disk")

	out, id := runKept(t, root, image, rootMount)
	assert.NotContains(t, out, "volatile", "--keep: the layer is kept as overlay promises")
	_, errOut, status = runProgram(t, "rm", "--root", root, id)
	require.Equal(t, 0, status, errOut)
}

func TestRmRefusesARunningContainer(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	c := startContainer(t, "run", "--root", root, "--image", labtest.BusyboxRootfs(t), "--keep", "--",
		"/bin/sh", "-c", "echo ready; read line || true")
	_, err := c.stdout.ReadString('\n')
	require.NoError(t, err, c.errOut.String())
	ids, err := layer.List(root)
	require.NoError(t, err)
	require.Len(t, ids, 1)

	_, errOut, status := runProgram(t, "rm", "--root", root, ids[0])
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "container is running")

	require.Equal(t, 0, c.wait())
	_, errOut, status = runProgram(t, "rm", "--root", root, ids[0])
	assert.Equal(t, 0, status, errOut)
}

func TestDiffFindsContainersByUniquePrefix(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	image := labtest.BusyboxRootfs(t)
	// Two containers with made-up IDs that share a prefix.
	for _, id := range []string{"abc1", "abc2"} {
		_, err := layer.Create(root, id, []string{image})
		require.NoError(t, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", "--root", root, "abc"}, "ambiguous"},
		{[]string{"diff", "--root", root, "xyz"}, "no such container"},
		{[]string{"diff", "--root", root}, "one container"},
		{[]string{"diff", "--root", root, "abc1", "abc2"}, "one container"},
		{[]string{"rm", "--root", root}, "at least one"},
	} {
		out, errOut, status := runProgram(t, tc.args...)
		assert.Equal(t, 125, status, "%v", tc.args)
		assert.Empty(t, out)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		assert.Contains(t, errOut, tc.want)
	}
	out, _, status := runProgram(t, "diff", "--root", root, "abc2")
	assert.Equal(t, 0, status)
	assert.Empty(t, out, "nothing changed yet")
}

func TestRootfsIsAOneLayerImage(t *testing.T) {
	labtest.Privileged(t)
	dir := labtest.CopyRootfs(t)
	before := labtest.Tree(t, dir)
	root := t.TempDir()
	out, errOut, status := runProgram(t, "run", "--root", root, "--rootfs", dir, "--", "sh", "-c", "echo x > /x; rm /bin/ls; cat /x")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "x\n", out)
	assert.Equal(t, before, labtest.Tree(t, dir), "chapter 03's --rootfs directory is no longer written to")

	for _, args := range [][]string{
		{"run", "--root", root, "--rootfs", dir, "--image", dir, "--", "true"},
		{"run", "--root", root, "--", "true"},
		{"run", "--root", root, "--image", "/no/such/dir", "--", "true"},
		{"run", "--root", root, "--image", dir + "::" + dir, "--", "true"},
	} {
		out, errOut, status := runProgram(t, args...)
		assert.Equal(t, 125, status, "%v", args)
		assert.Empty(t, out)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
	}
	ids, err := layer.List(root)
	require.NoError(t, err)
	assert.Empty(t, ids, "nothing is left of any of the runs")
}

func TestEarlierChaptersFlagsStillWork(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	vol := t.TempDir()
	out, id := runKept(t, root, labtest.BusyboxRootfs(t),
		`hostname; echo "$GREETING"; pwd; cat /proc/self/cgroup | grep -c pids; echo hi > /vol/f; touch /etc/new`,
		"--hostname", "box", "-e", "GREETING=hello", "-w", "/work", "--pids-limit", "20", "-v", vol+":/vol", "--init")
	assert.Equal(t, "box\nhello\n/work\n1\n", out)
	assert.FileExists(t, filepath.Join(vol, "f"), "a volume is the host's directory, not the layer")
	assert.Equal(t, []string{"C /etc", "A /etc/new", "A /vol", "A /work"}, diffLines(t, root, id),
		"mount points and the working directory were created in the container's layer")
}

func TestReadOnlyRootfsOnTheOverlay(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	out, errOut, status := runProgram(t, "run", "--root", root, "--image", labtest.BusyboxRootfs(t), "--read-only", "--",
		"sh", "-c", "echo x > /x 2>/dev/null || echo refused")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "refused\n", out)
}

func TestUserNamespaceOwnsItsLayer(t *testing.T) {
	labtest.Privileged(t)
	// Root in the container is uid 100000 on the host: the state
	// directory must let it through (t.TempDir is 0700).
	root, err := os.MkdirTemp("", "berth-04-userns-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	require.NoError(t, os.Chmod(root, 0o755))

	bind := filepath.Join(root, "bind")
	require.NoError(t, os.Mkdir(bind, 0o755))
	require.NoError(t, os.Chmod(bind, 0o777)) // not the umask's: anyone may write
	out, id := runKept(t, root, labtest.BusyboxRootfs(t),
		"echo x > /x; rm -rf /tmp && mkdir /tmp; id -u; stat -c %u /bin/busybox; touch /bind/f", "--userns", "-v", bind+":/bind")
	assert.Equal(t, "0\n0\n", out, "root, and the image's files are root's: idmapped")
	rw, err := layer.Open(root, id)
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(rw.Upper(), "x"))
	require.NoError(t, err)
	assert.Equal(t, uint32(0), fi.Sys().(*syscall.Stat_t).Uid, "written by the container's root through the idmapped layer: stored as the image's root")
	fi, err = os.Stat(filepath.Join(bind, "f"))
	require.NoError(t, err)
	assert.Equal(t, uint32(namespace.DefaultIDBase), fi.Sys().(*syscall.Stat_t).Uid, "a host directory is not idmapped: host uid 100000")
	opaque, err := layer.IsOpaque(filepath.Join(rw.Upper(), "tmp"))
	require.NoError(t, err)
	assert.True(t, opaque, "marked with user.overlay.opaque in a user namespace")
	assert.Equal(t, []string{"A /bind", "C /tmp", "A /x"}, diffLines(t, root, id))
}

// TestIdmap makes idmapped mounts with a user namespace held by a file
// (chapter 01's UserNamespace): one per directory, a directory named
// twice mapped once, and a filesystem that cannot idmap (procfs)
// reported as ErrIdmapUnsupported, on which run falls back to chown.
func TestIdmap(t *testing.T) {
	labtest.Privileged(t)
	cfg := namespace.Config{UserNS: true, UIDs: namespace.IDRange{Base: 200000, Size: 1000}, GIDs: namespace.IDRange{Base: 300000, Size: 1000}}
	userns, err := cfg.UserNamespace()
	require.NoError(t, err)
	defer userns.Close()
	a, b := t.TempDir(), t.TempDir()
	for _, tc := range []struct {
		name string
		dirs []string
		want []string
		err  error
	}{
		{name: "two directories", dirs: []string{a, b}, want: []string{a, b}},
		{name: "one named twice", dirs: []string{a, b, a}, want: []string{a, b}},
		{name: "procfs cannot", dirs: []string{a, "/proc/self"}, err: layer.ErrIdmapUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dirs, files, err := layer.Idmap(userns, tc.dirs)
			defer layer.CloseFiles(files)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				assert.Nil(t, files, "nothing left open")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, dirs)
			require.Len(t, files, len(tc.want))
			// The detached mount shows the disk's root as the map's
			// base: uid 200000, gid 300000.
			var st unix.Stat_t
			require.NoError(t, unix.Fstat(int(files[0].Fd()), &st))
			assert.Equal(t, [2]uint32{200000, 300000}, [2]uint32{st.Uid, st.Gid})
		})
	}
}

// BenchmarkS14_RunOnTheSharedImage starts a container on a 50 MB image:
// the image is mounted, not copied, so the time does not depend on its
// size. Compare with BenchmarkS14_RunOnACopyOfTheImage.
func BenchmarkS14_RunOnTheSharedImage(b *testing.B) {
	labtest.Privileged(b)
	image, _ := bigImage(b)
	root := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		_, errOut, status := runProgram(b, "run", "--root", root, "--image", image, "--", "true")
		if status != 0 {
			b.Fatalf("status %d: %s", status, errOut)
		}
	}
}

// BenchmarkRunInAUserNamespace is BenchmarkS14_RunOnTheSharedImage with
// --userns: what the idmapped mounts add (a throwaway user namespace, a
// mount per layer and for the container's directory, attached by init).
func BenchmarkRunInAUserNamespace(b *testing.B) {
	labtest.Privileged(b)
	for _, userns := range []bool{false, true} {
		b.Run(fmt.Sprintf("userns=%v", userns), func(b *testing.B) {
			root, err := os.MkdirTemp("", "berth-04-bench-userns-")
			require.NoError(b, err)
			b.Cleanup(func() { os.RemoveAll(root) })
			require.NoError(b, os.Chmod(root, 0o711)) // passable by the container's root
			args := []string{"run", "--root", root, "--image", labtest.BusyboxRootfs(b)}
			if userns {
				args = append(args, "--userns")
			}
			for b.Loop() {
				_, errOut, status := runProgram(b, append(args, "--", "true")...)
				if status != 0 {
					b.Fatalf("status %d: %s", status, errOut)
				}
			}
		})
	}
}

// BenchmarkS14_RunOnACopyOfTheImage is what starting costs without
// copy-on-write: each container first gets its own copy of the image.
func BenchmarkS14_RunOnACopyOfTheImage(b *testing.B) {
	labtest.Privileged(b)
	image, _ := bigImage(b)
	root := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		dst := filepath.Join(b.TempDir(), "copy")
		if out, err := exec.Command("cp", "-a", image, dst).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v: %s", err, out)
		}
		_, errOut, status := runProgram(b, "run", "--root", root, "--image", dst, "--", "true")
		if status != 0 {
			b.Fatalf("status %d: %s", status, errOut)
		}
		b.StopTimer()
		os.RemoveAll(dst)
		b.StartTimer()
	}
}
