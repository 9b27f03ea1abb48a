package daemon

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// commitChain makes busybox -> app:v1 -> app:v2, each commit of a
// container that wrote /app/state, and returns the three IDs.
func commitChain(t *testing.T, e *imageEnv) (base, v1, v2 string) {
	t.Helper()
	ctx := ctxFor(t)
	base = e.importBusybox()
	e.makeContainer("c1", "busybox", "sh", "-c", "mkdir /app && echo v1 > /app/state")
	r1, err := e.client.ContainerCommit(ctx, "c1", client.ContainerCommitOptions{Reference: "app:v1", Changes: []string{`CMD ["cat", "/app/state"]`}})
	require.NoError(t, err)
	e.makeContainer("c2", "app:v1", "sh", "-c", "echo v2 > /app/state")
	r2, err := e.client.ContainerCommit(ctx, "c2", client.ContainerCommitOptions{Reference: "app:v2"})
	require.NoError(t, err)
	return base, r1.ID, r2.ID
}

func (e *imageEnv) save(names ...string) []byte {
	e.t.Helper()
	body, err := e.client.ImageSave(ctxFor(e.t), names)
	require.NoError(e.t, err)
	defer body.Close()
	data, err := io.ReadAll(body)
	require.NoError(e.t, err)
	return data
}

// load loads an archive through the API and returns the stream's text
// and in-band error.
func (e *imageEnv) load(archive io.Reader, quiet bool) (text, errMsg string) {
	e.t.Helper()
	body, err := e.client.ImageLoad(ctxFor(e.t), archive, client.ImageLoadWithQuiet(quiet))
	require.NoError(e.t, err)
	defer body.Close()
	return streamText(readMessages(e.t, body))
}

func TestS33_S34_SaveThenLoadKeepsLayersAndAncestorsSoATagRollsBack(t *testing.T) {
	e := newImageEnv(t)
	base, v1, v2 := commitChain(t, e)
	archive := e.save("app:v2")

	// Another daemon, another data root: the archive moves between
	// machines.
	e2 := newImageEnv(t)
	text, errMsg := e2.load(bytes.NewReader(archive), true)
	require.Empty(t, errMsg)
	assert.Equal(t, "Loaded image: app:v2\n", text)

	info := mustInspect(t, e2, "app:v2")
	assert.Equal(t, v2, info.ID, "the same content has the same ID on any machine")
	assert.Len(t, info.RootFS.Layers, 3, "every layer came along")
	hist, err := e2.client.ImageHistory(ctxFor(t), "app:v2")
	require.NoError(t, err)
	require.Len(t, hist.Items, 3)
	assert.Equal(t, []string{v2, v1, base}, []string{hist.Items[0].ID, hist.Items[1].ID, hist.Items[2].ID},
		"the ancestors' IDs came along too: the history is kept")

	// Roll back: an ancestor's ID is an image here, and it runs.
	_, err = e2.client.ImageTag(ctxFor(t), client.ImageTagOptions{Source: v1, Target: "rollback:v1"})
	require.NoError(t, err)
	assert.Equal(t, "v1\n", e2.runImage("rollback:v1"))
	assert.Equal(t, "v2\n", e2.runImage("app:v2"))

	// The same with the docker CLI: save -o, load -i, and load from stdin.
	file := filepath.Join(t.TempDir(), "app.tar")
	_, stderr, code := e.docker(nil, "save", "-o", file, "app:v1", "busybox")
	require.Equal(t, 0, code, stderr)
	e3 := newImageEnv(t)
	stdout, stderr, code := e3.docker(nil, "load", "-i", file)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "Loaded image: busybox:latest\nLoaded image: app:v1\n", stdout)
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	stdout, stderr, code = e3.docker(f, "load")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "Loaded image: app:v1")
	assert.Equal(t, "v1\n", e3.runImage("app:v1"))

	// An unknown name is a 404 before any byte of archive.
	_, err = e.client.ImageSave(ctxFor(t), []string{"app:v2", "nosuch"})
	if err == nil {
		t.Fatal("save of an unknown image succeeded")
	}
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
}

func TestLoadReportsProgressUnlessQuiet(t *testing.T) {
	e := newImageEnv(t)
	e.importBusybox()
	archive := e.save("busybox")
	e2 := newImageEnv(t)
	body, err := e2.client.ImageLoad(ctxFor(t), bytes.NewReader(archive), client.ImageLoadWithQuiet(false))
	require.NoError(t, err)
	msgs := readMessages(t, body)
	body.Close()
	var progress int
	var last int64
	for _, m := range msgs {
		if m.Status == "Loading" {
			progress++
			require.NotNil(t, m.ProgressDetail)
			assert.GreaterOrEqual(t, m.ProgressDetail.Current, last, "progress goes forward")
			last = m.ProgressDetail.Current
		}
	}
	assert.Positive(t, progress)
	assert.Equal(t, int64(len(archive)), last, "the last report is the whole archive")
	text, _ := streamText(msgs)
	assert.Equal(t, "Loaded image: busybox:latest\n", text)

	text, _ = e2.load(bytes.NewReader(archive), true)
	assert.Equal(t, "Loaded image: busybox:latest\n", text, "quiet: the result only")
}

func TestS7_ArchivesFromRealDockerLoadThroughBerthdAndRun(t *testing.T) {
	for _, archive := range []string{"docker-20.10.tar.gz", "containerd-export.tar.gz", "skopeo-oci.tar"} {
		t.Run(archive, func(t *testing.T) {
			e := newImageEnv(t)
			stdout, stderr, code := e.docker(nil, "load", "-i", filepath.Join(labtest.RootDir(t), "06-images", "testdata", archive))
			require.Equal(t, 0, code, stderr)
			assert.Contains(t, stdout, "Loaded image: berth-test:v2")
			// The image's own Cmd, WorkingDir and Env, and its whiteouts.
			assert.Equal(t, "hello\nbye\nv2\n", e.runImage("berth-test:v2"))
			assert.Equal(t, "hello /data\n", e.runImage("berth-test:v2", "sh", "-c", `echo $GREETING $(pwd)`))
			assert.Equal(t, "gone\n", e.runImage("berth-test:v2", "sh", "-c", "test -e /bin/vi || echo gone"))
		})
	}
}

// umoci's OCI layout names its image with a bare tag: it loads without
// a name, as `docker load` says, and runs by its ID.
func TestS7_AnOCILayoutFromUmociLoadsThroughBerthdAndRuns(t *testing.T) {
	e := newImageEnv(t)
	stdout, stderr, code := e.docker(nil, "load", "-i", filepath.Join(labtest.RootDir(t), "06-images", "testdata", "umoci-oci.tar"))
	require.Equal(t, 0, code, stderr)
	id, ok := strings.CutPrefix(strings.TrimSpace(stdout), "Loaded image ID: ")
	require.True(t, ok, stdout)
	assert.Equal(t, "hello from umoci\n", e.runImage(id))
}

// corrupt returns a copy of a saved archive with one byte of the file
// name changed.
func corrupt(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	type entry struct {
		hdr  *tar.Header
		data []byte
	}
	var entries []entry
	found := -1
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		entries = append(entries, entry{hdr, data})
		if hdr.Name == name {
			found = len(entries) - 1
		}
	}
	require.GreaterOrEqual(t, found, 0, "no %s in the archive", name)
	entries[found].data[len(entries[found].data)/2] ^= 0xff
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, e := range entries {
		require.NoError(t, tw.WriteHeader(e.hdr))
		_, err := tw.Write(e.data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return out.Bytes()
}

// storeState lists what the store holds: images with tags, layer
// directories, blobs, and what is in tmp/.
func storeState(t *testing.T, root string) map[string][]string {
	t.Helper()
	state := map[string][]string{}
	for _, d := range []string{"meta", "layers", "blobs/sha256", "tmp", "leases"} {
		entries, err := os.ReadDir(filepath.Join(root, "images", d))
		require.NoError(t, err)
		for _, e := range entries {
			state[d] = append(state[d], e.Name())
		}
	}
	data, err := os.ReadFile(filepath.Join(root, "images", "repositories.json"))
	if err == nil {
		state["tags"] = []string{string(data)}
	}
	return state
}

func TestBadArchivesGetAClearErrorAndLeaveTheStoreUnchanged(t *testing.T) {
	e := newImageEnv(t)
	_, _, v2 := commitChain(t, e)
	good := e.save("app:v2")
	// The top layer: the one the other store does not have (a layer the
	// store has is not read again).
	layers := mustInspect(t, e, v2).RootFS.Layers
	top := "blobs/sha256/" + strings.TrimPrefix(layers[len(layers)-1], "sha256:")

	e2 := newImageEnv(t)
	e2.importBusybox()
	before := storeState(t, e2.root)
	for name, c := range map[string]struct {
		archive []byte
		msg     string
	}{
		"a changed layer":  {corrupt(t, good, top), "does not match its diffID"},
		"a cut archive":    {good[:len(good)/2], "unexpected EOF"},
		"not an archive":   {[]byte("this is not a tar"), "reading tar: unexpected EOF"},
		"an empty archive": {make([]byte, 1024), "not an image archive"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := e2.rawRequest(http.MethodPost, "/images/load?quiet=1", bytes.NewReader(c.archive))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a bad archive is the client's mistake: %s", body)
			var msg struct{ Message string }
			require.NoError(t, json.Unmarshal([]byte(body), &msg), body)
			assert.Contains(t, msg.Message, c.msg)
			assert.Equal(t, before, storeState(t, e2.root), "nothing changed in the store")
		})
	}

	// Not quiet: the error comes in band, after the progress, and the
	// docker client shows it and fails.
	text, errMsg := e2.load(bytes.NewReader(corrupt(t, good, top)), false)
	assert.Empty(t, text)
	assert.Contains(t, errMsg, "does not match its diffID")
	file := filepath.Join(t.TempDir(), "bad.tar")
	require.NoError(t, os.WriteFile(file, corrupt(t, good, top), 0o644))
	_, stderr, code := e2.docker(nil, "load", "-i", file)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "does not match its diffID")
	assert.Equal(t, before, storeState(t, e2.root))

	// The good archive still loads: nothing was left half-done.
	text, errMsg = e2.load(bytes.NewReader(good), true)
	assert.Empty(t, errMsg)
	assert.Equal(t, "Loaded image: app:v2\n", text)
}

func TestSkopeoReadsWhatBerthSaved(t *testing.T) {
	bin, err := exec.LookPath("skopeo")
	labtest.Need(t, err == nil, "skopeo is not installed (apt-get install skopeo)")
	e := newImageEnv(t)
	_, _, v2 := commitChain(t, e)
	file := filepath.Join(t.TempDir(), "app.tar")
	require.NoError(t, os.WriteFile(file, e.save("app:v2"), 0o644))
	out, err := exec.Command(bin, "inspect", "--config", "oci-archive:"+file+":v2").CombinedOutput()
	require.NoError(t, err, "%s", out)
	var cfg struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	require.NoError(t, json.Unmarshal(out, &cfg), "%s", out)
	assert.Equal(t, mustInspect(t, e, v2).RootFS.Layers, cfg.RootFS.DiffIDs, "skopeo reads the OCI layout: the config it finds is the image's")
	// And as Docker's archive (manifest.json), by the name.
	out, err = exec.Command(bin, "inspect", "--config", "docker-archive:"+file+":app:v2").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, json.Unmarshal(out, &cfg), "%s", out)
	assert.Equal(t, mustInspect(t, e, v2).RootFS.Layers, cfg.RootFS.DiffIDs)
}
