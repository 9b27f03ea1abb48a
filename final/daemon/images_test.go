package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/dns"
	"github.com/berth-project/berth/06-images/image"
)

func TestImagesInspectHistoryAndTag(t *testing.T) {
	e := newImageEnv(t)
	ctx := ctxFor(t)
	id := e.importBusybox()
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, id)

	list, err := e.client.ImageList(ctx, client.ImageListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
	s := list.Items[0]
	assert.Equal(t, id, s.ID)
	assert.Equal(t, []string{"busybox:latest"}, s.RepoTags)
	assert.Empty(t, s.ParentID)
	assert.InDelta(t, time.Now().Unix(), s.Created, 60)
	// Docker's size: the bytes of the layer's files (a symlink's are
	// its target), a hard link once, not the bytes of its tar.
	var files int64
	f, err := os.Open(labtest.BusyboxRootfs(t) + ".tar")
	require.NoError(t, err)
	defer f.Close()
	for tr := tar.NewReader(f); ; {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		switch hdr.Typeflag {
		case tar.TypeReg:
			files += hdr.Size
		case tar.TypeSymlink:
			files += int64(len(hdr.Linkname))
		}
	}
	assert.Equal(t, files, s.Size, "the size of the image's files, as docker counts it")

	info := mustInspect(t, e, "busybox")
	assert.Equal(t, id, info.ID)
	assert.Equal(t, []string{"busybox:latest"}, info.RepoTags)
	assert.Equal(t, []string{"sh"}, info.Config.Cmd)
	assert.Contains(t, info.Config.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	assert.Equal(t, "linux", info.Os)
	assert.NotEmpty(t, info.Architecture)
	assert.Equal(t, "layers", info.RootFS.Type)
	assert.Len(t, info.RootFS.Layers, 1)
	_, err = time.Parse(time.RFC3339Nano, info.Created)
	assert.NoError(t, err)
	assert.Equal(t, "overlay", info.GraphDriver.Name)
	assert.DirExists(t, info.GraphDriver.Data["LowerDir"])
	// By ID prefix, with and without "sha256:".
	assert.Equal(t, id, mustInspect(t, e, id[7:19]).ID)
	assert.Equal(t, id, mustInspect(t, e, id[:19]).ID)

	_, err = e.client.ImageInspect(ctx, "nosuch:image")
	require.Error(t, err)
	assert.True(t, errdefs.IsNotFound(err), "404: %v", err)
	assert.Contains(t, err.Error(), "No such image: nosuch:image")

	_, err = e.client.ImageTag(ctx, client.ImageTagOptions{Source: "busybox", Target: "example.com/team/bb:v1"})
	require.NoError(t, err)
	_, err = e.client.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: "mine"})
	require.NoError(t, err)
	assert.Equal(t, []string{"busybox:latest", "example.com/team/bb:v1", "mine:latest"}, mustInspect(t, e, id).RepoTags)
	_, err = e.client.ImageTag(ctx, client.ImageTagOptions{Source: "nosuch", Target: "x"})
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
	_, err = e.client.ImageTag(ctx, client.ImageTagOptions{Source: "busybox", Target: "UPPER"})
	assert.Error(t, err, "the client refuses an invalid name itself")
	resp, body := e.rawRequest(http.MethodPost, "/images/busybox/tag?repo=Bad_Name&tag=x", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)

	hist, err := e.client.ImageHistory(ctx, "mine")
	require.NoError(t, err)
	require.Len(t, hist.Items, 1)
	assert.Equal(t, id, hist.Items[0].ID)
	assert.Equal(t, []string{"busybox:latest", "example.com/team/bb:v1", "mine:latest"}, hist.Items[0].Tags)
	assert.Equal(t, s.Size, hist.Items[0].Size)
	assert.Equal(t, "Imported from -", hist.Items[0].Comment)
}

func mustInspect(t *testing.T, e *imageEnv, ref string) imageInspect {
	t.Helper()
	info, err := e.client.ImageInspect(ctxFor(t), ref)
	require.NoError(t, err, ref)
	return info.InspectResponse
}

// rawRequest sends a request that the moby client would refuse to send.
func (e *imageEnv) rawRequest(method, path string, body io.Reader) (*http.Response, string) {
	e.t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", e.sock)
	}}}
	req, err := http.NewRequestWithContext(ctxFor(e.t), method, "http://berth"+path, body)
	require.NoError(e.t, err)
	resp, err := hc.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, string(data)
}

func TestS31_RmiUntagsThenDeletesAndRefusesWhatAContainerUses(t *testing.T) {
	e := newImageEnv(t)
	ctx := ctxFor(t)
	id := e.importBusybox()
	_, err := e.client.ImageTag(ctx, client.ImageTagOptions{Source: "busybox", Target: "second"})
	require.NoError(t, err)

	// One of two tags: only the tag goes.
	res, err := e.client.ImageRemove(ctx, "second", client.ImageRemoveOptions{})
	require.NoError(t, err)
	assert.Equal(t, []deleteResponse{{Untagged: "second:latest"}}, res.Items)

	// A container uses the image: refused, 409, in Docker's words.
	cid := e.makeContainer("user", "busybox", "true")
	_, err = e.client.ImageRemove(ctx, "busybox", client.ImageRemoveOptions{})
	require.Error(t, err)
	assert.True(t, errdefs.IsConflict(err), "409: %v", err)
	assert.Contains(t, err.Error(), `unable to remove repository reference "busybox" (must force) - container `+cid[:12]+" is using its referenced image "+id[7:19])
	_, err = e.client.ImageRemove(ctx, id, client.ImageRemoveOptions{})
	assert.True(t, errdefs.IsConflict(err), "by ID too: %v", err)
	list, err := e.client.ImageList(ctx, client.ImageListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1, "nothing was removed")
	assert.Equal(t, int64(1), list.Items[0].Containers)

	// Forced: untagged and deleted; the container's layers stay until
	// it is gone.
	rw, err := layer.Open(e.root, cid)
	require.NoError(t, err)
	res, err = e.client.ImageRemove(ctx, "busybox", client.ImageRemoveOptions{Force: true})
	require.NoError(t, err)
	assert.Equal(t, []deleteResponse{{Untagged: "busybox:latest"}, {Deleted: id}}, res.Items)
	_, err = e.client.ImageInspect(ctx, id)
	assert.True(t, errdefs.IsNotFound(err))
	// The image's layers: the last lower layer is chapter 05's mount
	// points of /etc/hosts and friends, shared by every container.
	imageLayers := rw.Lower[:len(rw.Lower)-1]
	for _, dir := range imageLayers {
		assert.DirExists(t, dir, "a layer a container uses stays")
	}
	e.removeContainer(cid)
	for _, dir := range imageLayers {
		assert.NoDirExists(t, dir, "and goes with the container")
	}
	assert.Equal(t, 0, countDir(t, filepath.Join(e.root, "images", "blobs", "sha256")), "no blob is left")

	_, err = e.client.ImageRemove(ctx, "busybox", client.ImageRemoveOptions{})
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
}

func countDir(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	return len(entries)
}

func TestS16_S19_S30_CommitMakesAnImageOfAContainersChanges(t *testing.T) {
	e := newImageEnv(t)
	ctx := ctxFor(t)
	base := e.importBusybox()
	e.makeContainer("work", "busybox", "sh", "-c", "mkdir -p /app && echo v1 > /app/state && rm /bin/vi")

	res, err := e.client.ContainerCommit(ctx, "work", client.ContainerCommitOptions{
		Reference: "app:v1", Author: "Ada <ada@example.com>", Comment: "first state",
		Changes: []string{`CMD ["cat", "/app/state"]`, "ENV MODE=prod", "WORKDIR /app", "EXPOSE 8080", "LABEL tier=web", `ENTRYPOINT ["/bin/busybox"]`},
	})
	require.NoError(t, err)
	info := mustInspect(t, e, "app:v1")
	assert.Equal(t, res.ID, info.ID)
	assert.Equal(t, []string{"cat", "/app/state"}, info.Config.Cmd)
	assert.Equal(t, []string{"/bin/busybox"}, info.Config.Entrypoint)
	assert.Contains(t, info.Config.Env, "MODE=prod")
	assert.Equal(t, "/app", info.Config.WorkingDir)
	assert.Contains(t, info.Config.ExposedPorts, "8080/tcp")
	assert.Equal(t, map[string]string{"tier": "web"}, info.Config.Labels)
	assert.Equal(t, "Ada <ada@example.com>", info.Author)
	assert.Equal(t, "first state", info.Comment)
	assert.Len(t, info.RootFS.Layers, 2, "the image's layer and the container's")

	// The parent is recorded: history names it, images lists it.
	hist, err := e.client.ImageHistory(ctx, "app:v1")
	require.NoError(t, err)
	require.Len(t, hist.Items, 2)
	assert.Equal(t, res.ID, hist.Items[0].ID)
	assert.Equal(t, "sh -c mkdir -p /app && echo v1 > /app/state && rm /bin/vi", hist.Items[0].CreatedBy)
	assert.Equal(t, "first state", hist.Items[0].Comment)
	assert.Equal(t, base, hist.Items[1].ID)
	assert.Equal(t, []string{"busybox:latest"}, hist.Items[1].Tags)
	list, err := e.client.ImageList(ctx, client.ImageListOptions{})
	require.NoError(t, err)
	parents := map[string]string{}
	for _, s := range list.Items {
		parents[s.ID] = s.ParentID
	}
	assert.Equal(t, base, parents[res.ID])

	// S30: the container's image did not change; S16: the new image
	// runs with the changes (the file added, the file deleted).
	assert.Equal(t, "v1\n", e.runImage("app:v1", "cat", "/app/state"))
	assert.Equal(t, "gone\n", e.runImage("app:v1", "sh", "-c", "test -e /bin/vi || echo gone"))
	assert.Equal(t, "absent\nthere\n", e.runImage("busybox", "sh", "-c", "test -e /app || echo absent; test -e /bin/vi && echo there"))
	// Its Entrypoint and Cmd: /bin/busybox cat /app/state.
	assert.Equal(t, "v1\n", e.runImage("app:v1"))

	// A commit of an unknown container, with a bad change, or to a bad
	// name: each a clear error of the right kind.
	_, err = e.client.ContainerCommit(ctx, "nosuch", client.ContainerCommitOptions{})
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
	_, err = e.client.ContainerCommit(ctx, "work", client.ContainerCommitOptions{Changes: []string{"FROB x"}})
	assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)
	assert.Contains(t, err.Error(), "unknown or unsupported instruction")
}

func TestCommitWorksOnARunningContainer(t *testing.T) {
	e := newImageEnv(t)
	ctx := ctxFor(t)
	e.importBusybox()
	o := e.runOptions("busybox", "--keep")
	id := "running-" + strings.Repeat("a", 8)
	c, err := o.Container(id, []string{"sh", "-c", "echo live > /live; exec sleep 60"}, nsStdio())
	require.NoError(t, err)
	pid := make(chan int, 1)
	c.OnStart(func(p int) error { pid <- p; return nil })
	done := make(chan error, 1)
	go func() { _, err := c.Run(); done <- err }()
	p := <-pid
	t.Cleanup(func() { killPid(p); <-done; e.removeContainer(id) })
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(e.root, "containers", id, "upper", "live"))
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)

	res, err := e.client.ContainerCommit(ctx, id, client.ContainerCommitOptions{Reference: "live:1"})
	require.NoError(t, err)
	assert.NoError(t, processAlive(p), "the container still runs")
	assert.Equal(t, "live\n", e.runImage(res.ID, "cat", "/live"))
}

func TestContainerChangesListsTheWritableLayer(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	e.makeContainer("differ", "busybox", "sh", "-c", "echo x > /new && echo y >> /etc/passwd && rm /bin/vi")
	res, err := e.client.ContainerDiff(ctxFor(t), "differ", client.ContainerDiffOptions{})
	require.NoError(t, err)
	got := map[string]container.ChangeType{}
	for _, c := range res.Changes {
		got[c.Path] = c.Kind
	}
	assert.Equal(t, container.ChangeAdd, got["/new"])
	assert.Equal(t, container.ChangeModify, got["/etc/passwd"])
	assert.Equal(t, container.ChangeDelete, got["/bin/vi"])
}

func TestS32_S34_ExportThenImportFlattensToOneLayerWithoutHistory(t *testing.T) {
	e := newImageEnv(t)
	ctx := ctxFor(t)
	e.importBusybox()
	e.makeContainer("", "busybox", "sh", "-c", "echo one > /one")
	first, err := e.client.ContainerCommit(ctx, containerID(t, e, 0), client.ContainerCommitOptions{Reference: "layered:1"})
	require.NoError(t, err)
	e.makeContainer("exporter", "layered:1", "sh", "-c", "echo two > /two && rm /bin/vi")

	body, err := e.client.ContainerExport(ctx, "exporter", client.ContainerExportOptions{})
	require.NoError(t, err)
	var exported bytes.Buffer
	_, err = io.Copy(&exported, body)
	require.NoError(t, err)
	body.Close()
	files := labtest.TarFiles(t, bytes.NewReader(exported.Bytes()))
	assert.Equal(t, "one\n", files["one"], "the image's layers")
	assert.Equal(t, "two\n", files["two"], "and the container's, merged")
	assert.Contains(t, files, "bin/busybox")
	assert.NotContains(t, files, "bin/vi", "what the container deleted is not there")
	for name := range files {
		assert.False(t, strings.Contains(name, ".wh."), "no whiteout in a flat tar: %s", name)
	}

	msgs := e.importTar(bytes.NewReader(exported.Bytes()), "flat:1", `CMD ["cat", "/two"]`)
	flat := msgs[len(msgs)-1].Status
	info := mustInspect(t, e, "flat:1")
	assert.Equal(t, flat, info.ID)
	assert.Len(t, info.RootFS.Layers, 1, "one layer")
	hist, err := e.client.ImageHistory(ctx, "flat:1")
	require.NoError(t, err)
	require.Len(t, hist.Items, 1, "no history but the import")
	assert.Equal(t, "Imported from -", hist.Items[0].Comment)
	assert.NotEqual(t, first.ID, hist.Items[0].ID, "the exported container's image is not an ancestor")
	assert.Equal(t, "two\n", e.runImage("flat:1"), "the flat image runs, with --change's CMD")
	assert.Equal(t, "one\n", e.runImage("flat:1", "cat", "/one"))

	// Its ancestors are gone from its story: no parent.
	list, err := e.client.ImageList(ctx, client.ImageListOptions{All: true})
	require.NoError(t, err)
	for _, s := range list.Items {
		if s.ID == flat {
			assert.Empty(t, s.ParentID)
		}
	}

	// The docker CLI's import of a file, and export to a file.
	out := filepath.Join(t.TempDir(), "exported.tar")
	_, stderr, code := e.docker(nil, "export", "-o", out, "exporter")
	require.Equal(t, 0, code, stderr)
	stdout, stderr, code := e.docker(nil, "import", "--change", "CMD [\"sh\"]", "-m", "from a file", out, "cli-flat:1")
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, stdout)
	assert.Equal(t, "two\n", e.runImage("cli-flat:1", "cat", "/two"))
}

// containerID returns the ID of the i-th container under the data root,
// in the order of their IDs.
func containerID(t *testing.T, e *imageEnv, i int) string {
	t.Helper()
	ids, err := layer.List(e.root)
	require.NoError(t, err)
	sort.Strings(ids)
	require.Greater(t, len(ids), i)
	return ids[i]
}

func TestS18_TwentyContainersShareTheImagesLayers(t *testing.T) {
	e := newImageEnv(t)
	id := e.importBusybox()
	dirs, err := e.d.images.LayerDirs(image.Digest(id))
	require.NoError(t, err)
	imageUse, err := layer.DiskUsage(filepath.Dir(dirs[0]))
	require.NoError(t, err)
	shared := func() int64 {
		var n int64
		for _, d := range []string{"layers", "blobs"} {
			use, err := layer.DiskUsage(filepath.Join(e.root, "images", d))
			require.NoError(t, err)
			n += use
		}
		return n
	}
	before := shared()

	mountPoints, err := dns.MountPointLayer(e.root)
	require.NoError(t, err)
	const n = 20
	var total int64
	for i := 0; i < n; i++ {
		cid := e.makeContainer("", "busybox", "sh", "-c", "echo container > /mine")
		rw, err := layer.Open(e.root, cid)
		require.NoError(t, err)
		assert.Equal(t, append(slices.Clone(dirs), mountPoints), rw.Lower, "every container stacks the same layer directories, and the mount points of /etc/hosts and friends")
		use, err := rw.Usage()
		require.NoError(t, err)
		total += use
	}
	t.Logf("the image's layer: %d bytes on disk; 20 containers: %d bytes in all", imageUse, total)
	assert.Equal(t, before, shared(), "the image's layers and blobs did not grow: they are shared, not copied")
	assert.Less(t, total/n, int64(64<<10), "each container costs its own changes: a few directories, its records and one small file")
	assert.Less(t, total, imageUse, "twenty containers cost less than one copy of the image")

	list, err := e.client.ImageList(ctxFor(t), client.ImageListOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(n), list.Items[0].Containers)
}

func TestImageCommandsOfTheDockerCLI(t *testing.T) {
	e := newImageEnv(t)
	id := e.importBusybox()
	e.makeContainer("work", "busybox", "sh", "-c", "echo hi > /hi")

	stdout, stderr, code := e.docker(nil, "commit", "-m", "said hi", "-a", "me", "-c", `CMD ["cat", "/hi"]`, "work", "hi:1")
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, stdout)
	hi := strings.TrimSpace(stdout)

	stdout, stderr, code = e.docker(nil, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "hi:1 "+hi[7:19]+"\nbusybox:latest "+id[7:19]+"\n", stdout)
	stdout, _, _ = e.docker(nil, "images", "-q", "--no-trunc")
	assert.Equal(t, hi+"\n"+id+"\n", stdout)

	// inspect finds no container of that name, then the image.
	stdout, stderr, code = e.docker(nil, "inspect", "-f", "{{.Id}} {{.Author}} {{.Comment}}", "hi:1")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, hi+" me said hi\n", stdout)
	stdout, _, code = e.docker(nil, "image", "inspect", "-f", "{{json .Config.Cmd}}", "hi:1")
	require.Equal(t, 0, code)
	assert.Equal(t, "[\"cat\",\"/hi\"]\n", stdout)

	stdout, stderr, code = e.docker(nil, "history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}", "hi:1")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, hi+"|sh -c echo hi > /hi|said hi\n"+id+"||Imported from -\n", stdout)

	_, stderr, code = e.docker(nil, "tag", "hi:1", "hi:2")
	require.Equal(t, 0, code, stderr)
	stdout, stderr, code = e.docker(nil, "rmi", "hi:2")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "Untagged: hi:2\n", stdout)

	_, stderr, code = e.docker(nil, "rmi", "busybox")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "must force")
	stdout, stderr, code = e.docker(nil, "rmi", "hi:1")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "Untagged: hi:1\nDeleted: "+hi+"\n", stdout)

	stdout, stderr, code = e.docker(nil, "diff", "work")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "A /hi\n", stdout)
}
