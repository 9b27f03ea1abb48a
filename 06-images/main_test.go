package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
)

func TestMain(m *testing.M) {
	runChildIfAsked()
	labtest.Main(m, program.Init)
}

// lab is a state root of the test's own, and the program run on it.
type lab struct {
	t    *testing.T
	root string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	labtest.Privileged(t)
	labtest.BusyboxRootfs(t)
	return &lab{t: t, root: t.TempDir()}
}

// run runs `06-images CMD --root ROOT ARGS...`, with stdin if given.
func (l *lab) run(stdin io.Reader, cmd string, args ...string) (stdout, stderr string, status int) {
	l.t.Helper()
	var out, errOut bytes.Buffer
	all := append([]string{cmd, "--root", l.root}, args...)
	status = program.Run(all, namespace.Stdio{In: stdin, Out: &out, Err: &errOut})
	return out.String(), errOut.String(), status
}

// ok runs a command that must succeed and returns its stdout.
func (l *lab) ok(cmd string, args ...string) string {
	l.t.Helper()
	out, errOut, status := l.run(nil, cmd, args...)
	require.Equal(l.t, 0, status, "06-images %s %v: stderr: %s", cmd, args, errOut)
	return out
}

// keep runs a container with --keep and --net none (no bridge: these
// tests are about images) and returns its ID.
func (l *lab) keep(args ...string) string {
	l.t.Helper()
	out, errOut, status := l.run(nil, "run", append([]string{"--keep", "--net", "none"}, args...)...)
	require.Equal(l.t, 0, status, "run %v: stdout %q, stderr %q", args, out, errOut)
	lines := strings.Fields(errOut)
	require.NotEmpty(l.t, lines)
	id := lines[len(lines)-1]
	require.Regexp(l.t, `^[0-9a-f]{64}$`, id)
	return id
}

// image runs a container and prints what it printed.
func (l *lab) image(args ...string) string {
	l.t.Helper()
	return l.ok("run", append([]string{"--net", "none"}, args...)...)
}

func (l *lab) importBusybox(name string) string {
	l.t.Helper()
	id := strings.TrimSpace(l.ok("import", "-c", `CMD ["/bin/sh"]`, labtest.BusyboxRootfs(l.t)+".tar", name))
	require.Regexp(l.t, `^sha256:[0-9a-f]{64}$`, id)
	return id
}

var idRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// tarNames lists the names in a tar.
func tarNames(t *testing.T, data string) []string {
	t.Helper()
	return labtest.TarNames(t, strings.NewReader(data))
}

func TestS7_ArchivesFromRealDockerLoadAndRun(t *testing.T) {
	for _, archive := range []string{"docker-20.10.tar.gz", "containerd-export.tar.gz", "skopeo-oci.tar"} {
		t.Run(archive, func(t *testing.T) {
			l := newLab(t)
			out := l.ok("load", "-i", filepath.Join("testdata", archive))
			assert.Contains(t, out, "Loaded image: berth-test:v2")
			// The image's own Cmd (cat /hello.txt /data/v), run in its
			// WorkingDir with its Env.
			assert.Equal(t, "hello\nbye\nv2\n", l.image("berth-test:v2"))
			assert.Equal(t, "hello /data\n", l.image("berth-test:v2", "sh", "-c", `echo $GREETING $(pwd)`))
			// The kernel's overlay applies the whiteouts: /data was
			// replaced (opaque), /bin/vi deleted.
			assert.Equal(t, "v\nxattr.txt\n", l.image("berth-test:v2", "ls", "/data"))
			assert.Equal(t, "gone\n", l.image("berth-test:v2", "sh", "-c", "test -e /bin/vi || echo gone"))
		})
	}
}

// An OCI layout that umoci wrote, not Docker: its index names the image
// with a bare tag, "berth-umoci" (the image-layout spec leaves the form
// of org.opencontainers.image.ref.name to the writer), which is no
// NAME:TAG, so the image loads without a name and runs by its ID.
func TestS7_AnOCILayoutFromUmociLoadsAndRuns(t *testing.T) {
	l := newLab(t)
	out := l.ok("load", "-i", filepath.Join("testdata", "umoci-oci.tar"))
	id, ok := strings.CutPrefix(strings.TrimSpace(out), "Loaded image ID: ")
	require.True(t, ok, out)
	assert.Equal(t, "hello from umoci\n", l.image(id))
	assert.Equal(t, "/\n", l.image(id, "pwd"))
}

func TestS22_RunTakesTheImagesConfigAndTheUsersOverrides(t *testing.T) {
	l := newLab(t)
	f, err := os.Open("testdata/docker-20.10.tar.gz")
	require.NoError(t, err)
	defer f.Close()
	_, errOut, status := l.run(f, "load")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "other /tmp\n", l.image("-e", "GREETING=other", "-w", "/tmp", "berth-test:v1", "sh", "-c", `echo $GREETING $(pwd)`))
	assert.Equal(t, "hello\n", l.image("berth-test:v1"), "v1's Cmd: cat /hello.txt")
	_, errOut, status = l.run(nil, "run", "--net", "none", "no-such-image")
	assert.Equal(t, 125, status)
	assert.Contains(t, errOut, "no such image: no-such-image")
}

func TestS16_S19_S30_CommitAContainerAndRunTheNewImage(t *testing.T) {
	l := newLab(t)
	base := l.importBusybox("busybox")
	cid := l.keep("busybox", "sh", "-c", "echo hi > /hi && rm /bin/vi")

	id := strings.TrimSpace(l.ok("commit", "-m", "say hi", cid, "app:v1"))
	require.Regexp(t, idRE, id)
	assert.Equal(t, "hi\n", l.image("app:v1", "cat", "/hi"))
	_, _, status := l.run(nil, "run", "--net", "none", "app:v1", "ls", "/bin/vi")
	assert.NotEqual(t, 0, status, "deleted in the container, so in the image")

	// S30: the container's image did not change.
	_, _, status = l.run(nil, "run", "--net", "none", "busybox", "cat", "/hi")
	assert.NotEqual(t, 0, status)
	assert.Contains(t, l.ok("images", "--no-trunc"), base)

	// S19: a container of the new image writes its own layer; the image
	// stays as it was.
	l.keep("app:v1", "sh", "-c", "echo changed > /hi")
	assert.Equal(t, "hi\n", l.image("app:v1", "cat", "/hi"))

	hist := l.ok("history", "--no-trunc", "app:v1")
	lines := strings.Split(strings.TrimSpace(hist), "\n")
	require.Len(t, lines, 3, hist)
	assert.Contains(t, lines[1], id)
	assert.Contains(t, lines[1], "sh -c echo hi > /hi && rm /bin/vi")
	assert.Contains(t, lines[1], "say hi")
	assert.Contains(t, lines[2], base)
}

func TestS21_ImagesListsABaseImageAndItsDerivedImages(t *testing.T) {
	l := newLab(t)
	l.importBusybox("busybox:base")
	cid := l.keep("busybox:base", "sh", "-c", "mkdir /app && echo 'echo app' > /app/run")
	l.ok("commit", "-c", `CMD ["sh","/app/run"]`, cid, "app")
	out := l.ok("images")
	assert.Regexp(t, `(?m)^busybox\s+base\s+[0-9a-f]{12}\s`, out)
	assert.Regexp(t, `(?m)^app\s+latest\s+[0-9a-f]{12}\s`, out)
	assert.Equal(t, "app\n", l.image("app"), "the derived image runs its own Cmd")
}

func TestS31_RmiRefusesAnImageThatAContainerUsesUnlessForced(t *testing.T) {
	l := newLab(t)
	id := l.importBusybox("busybox")
	cid := l.keep("busybox", "true")

	out, errOut, status := l.run(nil, "rmi", "busybox")
	assert.Equal(t, 1, status)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "container "+cid[:12]+" is using its referenced image")

	// Forced: the image goes, the container keeps its layers.
	out = l.ok("rmi", "-f", "busybox")
	assert.Equal(t, "Untagged: busybox:latest\nDeleted: "+id+"\n", out)
	assert.NotContains(t, l.ok("images", "-a", "--no-trunc"), id)
	exported, errOut, status := l.run(nil, "export", cid)
	require.Equal(t, 0, status, errOut)
	assert.Contains(t, tarNames(t, exported), "bin/busybox", "the container's layers are still there")

	// Two images at once, the second without a container.
	l.importBusybox("a")
	l.ok("tag", "a", "b")
	out = l.ok("rmi", "a", "b")
	assert.Regexp(t, `^Untagged: a:latest\nUntagged: b:latest\nDeleted: sha256:[0-9a-f]{64}\n$`, out)
	l.ok("rm", cid)
}

func TestS32_ExportAContainerAndImportItAsAnImage(t *testing.T) {
	l := newLab(t)
	l.importBusybox("busybox")
	cid := l.keep("busybox", "sh", "-c", "echo kept > /root/notes && rm /bin/vi")
	file := filepath.Join(t.TempDir(), "fs.tar")
	l.ok("export", "-o", file, cid)
	l.ok("import", "-c", `CMD ["cat","/root/notes"]`, file, "restored")
	assert.Equal(t, "kept\n", l.image("restored"))
	_, _, status := l.run(nil, "run", "--net", "none", "restored", "ls", "/bin/vi")
	assert.NotEqual(t, 0, status)
}

// chain makes busybox -> app:v1 (state one) -> app:v2 (state two) by
// running containers and committing them, and returns the IDs.
func (l *lab) chain() (base, v1, v2 string) {
	base = l.importBusybox("busybox")
	c1 := l.keep("busybox", "sh", "-c", "echo one > /state")
	v1 = strings.TrimSpace(l.ok("commit", c1, "app:v1"))
	c2 := l.keep("app:v1", "sh", "-c", "echo two > /state")
	v2 = strings.TrimSpace(l.ok("commit", c2, "app:v2"))
	return base, v1, v2
}

func TestS34_ExportThenImportLosesTheHistory(t *testing.T) {
	l := newLab(t)
	_, _, _ = l.chain()
	cid := l.keep("app:v2", "true")
	file := filepath.Join(t.TempDir(), "fs.tar")
	l.ok("export", "-o", file, cid)
	flat := strings.TrimSpace(l.ok("import", file, "flat"))

	hist := l.ok("history", "--no-trunc", "flat")
	lines := strings.Split(strings.TrimSpace(hist), "\n")
	require.Len(t, lines, 2, "one step, no more:\n%s", hist)
	assert.Contains(t, lines[1], flat)
	assert.Contains(t, lines[1], "Imported from "+file)
	assert.Equal(t, "two\n", l.image("flat", "cat", "/state"), "the files are all there")
	assert.Equal(t, 4, strings.Count(l.ok("history", "app:v2"), "\n"), "while the original has three steps")
}

func TestS33_S34_SaveThenLoadKeepsLayersAndParentsSoTagRollsBack(t *testing.T) {
	l := newLab(t)
	base, v1, v2 := l.chain()
	file := filepath.Join(t.TempDir(), "app.tar")
	l.ok("save", "-o", file, "app:v2")

	// Another machine: a fresh state root.
	m := newLab(t)
	out := m.ok("load", "-i", file)
	assert.Contains(t, out, "Loaded image: app:v2")
	assert.Contains(t, out, "Loaded image ID: "+v1)
	assert.Contains(t, out, "Loaded image ID: "+base)

	hist := m.ok("history", "--no-trunc", "app:v2")
	assert.Equal(t, []string{v2, v1, base}, idRE.FindAllString(hist, -1), "every step and its image:\n%s", hist)

	m.ok("tag", strings.TrimPrefix(v1, "sha256:")[:12], "app:rollback")
	assert.Equal(t, "one\n", m.image("app:rollback", "cat", "/state"))
	assert.Equal(t, "two\n", m.image("app:v2", "cat", "/state"))
}

func TestS31_AContainerThatIsGoneHoldsNoImage(t *testing.T) {
	l := newLab(t)
	l.importBusybox("busybox")
	l.image("busybox", "true") // not kept: removed at exit, lease and all
	entries, err := os.ReadDir(filepath.Join(l.root, "images", "leases"))
	require.NoError(t, err)
	assert.Empty(t, entries)
	cid := l.keep("busybox", "true")
	l.ok("rm", cid)
	assert.Contains(t, l.ok("rmi", "busybox"), "Deleted: sha256:")
}
