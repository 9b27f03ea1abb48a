package daemon

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/06-images/hostile"
	"github.com/berth-project/berth/final/api/apitest"
)

// Every tar of the hostile corpus (06-images/hostile) through every path
// of berthd that takes an archive, with the real docker CLI: load,
// import, build (the context), cp into a container. Each is refused with
// an error the client shows, or taken and kept inside the data root; a
// watch over the data root's parent (with a canary directory beside the
// root) and the host's /etc/passwd and /tmp proves that nothing outside
// it was made or changed.

// hostileEnv is a daemon whose data root is base/data, with
// base/canary beside it, and a watch over base.
func hostileEnv(t *testing.T) (*imageEnv, *hostile.Watch) {
	t.Helper()
	labtest.Privileged(t)
	base := t.TempDir()
	root := filepath.Join(base, "data")
	require.NoError(t, os.MkdirAll(filepath.Join(base, "canary", "dir"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(base, "canary", "passwd"), []byte("canary\n"), 0o644))
	d, err := New(Options{DataRoot: root, ExecRoot: t.TempDir(), Version: "test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	e := serveImages(t, d, root)
	return e, hostile.NewWatch(t, []string{base}, root)
}

// corpusFile writes a case's tar to a file, for the docker CLI.
func corpusFile(t *testing.T, c hostile.Case) string {
	t.Helper()
	data, err := c.File()
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), c.Name+".tar")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

// refusedClearly checks a failed docker command: it says why, and the
// daemon did not fail with a 500 (which the CLI would show as such).
func refusedClearly(t *testing.T, c hostile.Case, stderr string) {
	t.Helper()
	assert.NotEmpty(t, strings.TrimSpace(stderr), "%s: the client shows an error", c.Name)
	assert.NotContains(t, strings.ToLower(stderr), "internal server error", c.Name)
	assert.NotContains(t, stderr, "panic", c.Name)
	t.Logf("%s: %s", c.Name, strings.TrimSpace(stderr))
}

func TestHostileArchivesThroughDockerLoad(t *testing.T) {
	for _, c := range hostile.Of(hostile.Archive) {
		t.Run(c.Name, func(t *testing.T) {
			e, w := hostileEnv(t)
			f := corpusFile(t, c)
			_, stderr, code := e.docker(nil, "load", "-i", f)
			w.Check(t, c.What)
			if c.Refused {
				require.NotEqual(t, 0, code, "%s: loaded", c.What)
				refusedClearly(t, c, stderr)
				assert.Empty(t, storeState(t, e.root)["meta"], "no image")
				// Through the API: a 400 with a message, not a 500.
				data, err := c.File()
				require.NoError(t, err)
				resp, body := e.rawRequest(http.MethodPost, "/images/load?quiet=1", bytes.NewReader(data))
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
				var msg struct{ Message string }
				require.NoError(t, json.Unmarshal([]byte(body), &msg), body)
				assert.NotEmpty(t, msg.Message)
				w.Check(t, c.What+" (API)")
				return
			}
			require.Equal(t, 0, code, "%s: %s", c.What, stderr)
		})
	}
	// Every layer of the corpus, as the layer of a well-formed image:
	// load refuses what extraction refuses.
	for _, c := range hostile.Of(hostile.Layer) {
		t.Run("layer-"+c.Name, func(t *testing.T) {
			e, w := hostileEnv(t)
			data, err := c.File()
			require.NoError(t, err)
			archive := hostile.ImageOf(data)
			f := filepath.Join(t.TempDir(), "image.tar")
			require.NoError(t, os.WriteFile(f, archive, 0o644))
			_, stderr, code := e.docker(nil, "load", "-i", f)
			w.Check(t, c.What)
			if c.Refused {
				require.NotEqual(t, 0, code, "%s: loaded", c.What)
				refusedClearly(t, c, stderr)
				return
			}
			require.Equal(t, 0, code, "%s: %s", c.What, stderr)
		})
	}
}

func TestHostileLayersThroughDockerImport(t *testing.T) {
	for _, c := range hostile.Of(hostile.Layer) {
		t.Run(c.Name, func(t *testing.T) {
			e, w := hostileEnv(t)
			_, stderr, code := e.docker(nil, "import", corpusFile(t, c), "hostile:"+c.Name)
			w.Check(t, c.What)
			if c.Refused {
				require.NotEqual(t, 0, code, "%s: imported", c.What)
				refusedClearly(t, c, stderr)
				assert.Empty(t, storeState(t, e.root)["meta"], "no image")
				return
			}
			require.Equal(t, 0, code, "%s: %s", c.What, stderr)
			if strings.HasPrefix(c.Name, "sparse") {
				// Docker's size for the image: the file's length,
				// holes included (dockerd 20.10 says 67108864 for
				// this layer), not the few KiB of its tar.
				out, _, code := e.docker(nil, "image", "inspect", "--format", "{{.Size}}", "hostile:"+c.Name)
				require.Equal(t, 0, code)
				assert.Equal(t, fmt.Sprint(hostile.SparseSize), strings.TrimSpace(out))
			}
		})
	}
}

// The build context is the hostile tar, after a Dockerfile that copies
// all of it into the image: whatever the context extraction let in
// goes through COPY too.
func TestHostileLayersAsADockerBuildContext(t *testing.T) {
	for _, c := range hostile.Of(hostile.Layer) {
		t.Run(c.Name, func(t *testing.T) {
			e, w := hostileEnv(t)
			e.importBusybox()
			data, err := c.File()
			require.NoError(t, err)
			var ctx bytes.Buffer
			tw := tar.NewWriter(&ctx)
			df := "FROM busybox\nCOPY . /ctx/\n"
			require.NoError(t, tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df)), ModTime: time.Unix(1700000000, 0)}))
			_, err = tw.Write([]byte(df))
			require.NoError(t, err)
			require.NoError(t, tw.Flush()) // no end-of-archive: the hostile entries follow
			ctx.Write(data)
			_, stderr, code := e.docker(&ctx, "build", "-t", "hostile:"+c.Name, "-")
			w.Check(t, c.What)
			if code != 0 {
				refusedClearly(t, c, stderr)
				return
			}
			t.Logf("%s: built", c.Name)
		})
	}
}

// docker cp of the hostile tar into a running container's /tmp: refused,
// or written inside the container.
func TestHostileLayersThroughDockerCp(t *testing.T) {
	l := newLab(t)
	// The data root is a temporary directory of the test, as are the
	// docker CLI's config directories made during it: the watch takes
	// the new ones, and checks a canary beside the data root.
	base := filepath.Dir(l.opts.DataRoot)
	require.NoError(t, os.MkdirAll(filepath.Join(base, "canary", "dir"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(base, "canary", "passwd"), []byte("canary\n"), 0o644))
	l.ok("run", "-d", "--name", "hostile-cp", "busybox", "sleep", "1000")
	for _, c := range hostile.Of(hostile.Layer) {
		t.Run(c.Name, func(t *testing.T) {
			w := hostile.NewWatch(t, []string{base}, l.opts.DataRoot, l.opts.ExecRoot)
			w.AllowNew(base)
			data, err := c.File()
			require.NoError(t, err)
			dest := fmt.Sprintf("/tmp/%s", c.Name)
			l.ok("exec", "hostile-cp", "mkdir", "-p", dest)
			_, stderr, code := l.docker(string(data), "cp", "-", "hostile-cp:"+dest)
			w.Check(t, c.What)
			// The same through the API: a refusal is the client's
			// fault, a 4xx, never a 500.
			status, body := putArchive(t, l.sock, "hostile-cp", dest, data)
			w.Check(t, c.What+" (API)")
			if code != 0 {
				refusedClearly(t, c, stderr)
				assert.True(t, status >= 400 && status < 500, "%s: %d %s", c.Name, status, body)
				return
			}
			assert.Equal(t, http.StatusOK, status, body)
			t.Logf("%s: copied", c.Name)
		})
	}
}

// Names that are paths (a "/" or a ".." in them) are refused with a 400
// and a message before anything is made: container, volume and network
// names become directory and file names in the data root.
func TestNamesThatArePathsAreRefused(t *testing.T) {
	e, _ := hostileEnv(t)
	e.importBusybox()
	w := hostile.NewWatch(t, []string{filepath.Dir(e.root)}, e.root)
	for _, name := range []string{"../x", "a/../../b", "..", "/../" + hostile.Escaped, "a/b", ".hidden", "x\x00y"} {
		for _, req := range []struct{ path, body string }{
			{"/containers/create?name=" + url.QueryEscape(name), `{"Image":"busybox","Cmd":["true"]}`},
			{"/volumes/create", fmt.Sprintf(`{"Name":%q}`, name)},
			{"/networks/create", fmt.Sprintf(`{"Name":%q}`, name)},
		} {
			resp, body := e.rawRequest(http.MethodPost, req.path, strings.NewReader(req.body))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %q: %s", req.path, name, body)
			var msg struct{ Message string }
			require.NoError(t, json.Unmarshal([]byte(body), &msg), body)
			assert.NotEmpty(t, msg.Message)
		}
	}
	_, stderr, code := e.docker(nil, "create", "--name", "../x", "busybox")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "Invalid container name")
	w.Check(t, "names that are paths")
}

// The API's malformed requests (apitest.MalformedRequests) against
// berthd: each is a 4xx with a message, and nothing is created.
func TestMalformedInputIsA4xxOnEveryEndpoint(t *testing.T) {
	e, w := hostileEnv(t)
	e.importBusybox()
	id, stderr, code := e.docker(nil, "create", "--network", "none", "--name", "target", "busybox", "sleep", "1000")
	require.Equal(t, 0, code, stderr)
	id = strings.TrimSpace(id)
	before := storeState(t, e.root)
	for _, m := range apitest.MalformedRequests(id) {
		resp, body := e.rawRequest(m.Method, m.Path, strings.NewReader(m.Body))
		what := fmt.Sprintf("%s %.60s %.40s", m.Method, m.Path, m.Body)
		assert.Equal(t, m.Want, resp.StatusCode, "%s: %.200s", what, body)
		if m.Want != http.StatusRequestHeaderFieldsTooLarge { // Go's server answers that one in plain text
			var msg struct{ Message string }
			if assert.NoError(t, json.Unmarshal([]byte(body), &msg), "%s: %.200s", what, body) {
				assert.NotEmpty(t, msg.Message, what)
			}
		}
	}
	assert.Equal(t, before, storeState(t, e.root), "no image made")
	out, _, _ := e.docker(nil, "ps", "-aq", "--no-trunc")
	assert.Equal(t, id, strings.TrimSpace(out), "no container made")
	w.Check(t, "malformed requests")
}

// putArchive sends a tar to PUT /containers/NAME/archive?path=DEST on the
// socket, and returns the status and body of the answer.
func putArchive(t *testing.T, sock, name, dest string, data []byte) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: unixDialer(sock)}}
	req, err := http.NewRequestWithContext(labCtx(t), http.MethodPut,
		"http://berth/containers/"+name+"/archive?path="+url.QueryEscape(dest), bytes.NewReader(data))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// The size docker shows for an image is dockerd's: the bytes of the
// layer's files, a sparse file's holes included, not the bytes of the
// layer tar. The same tars imported into a private dockerd and into
// berthd give the same size.
func TestImageSizeMatchesDockerd(t *testing.T) {
	d := labtest.StartDockerd(t)
	e, _ := hostileEnv(t)
	sparse, _ := hostile.ByName("sparse-pax")
	tars := map[string]string{
		"busybox": labtest.BusyboxRootfs(t) + ".tar",
		"sparse":  corpusFile(t, sparse),
	}
	for name, file := range tars {
		ref := "size-" + name + ":latest"
		_, err := d.Run("import", file, ref)
		require.NoError(t, err)
		theirs, err := d.Run("image", "inspect", "--format", "{{.Size}}", ref)
		require.NoError(t, err)
		_, stderr, code := e.docker(nil, "import", file, ref)
		require.Equal(t, 0, code, stderr)
		ours, _, code := e.docker(nil, "image", "inspect", "--format", "{{.Size}}", ref)
		require.Equal(t, 0, code)
		assert.Equal(t, strings.TrimSpace(theirs), strings.TrimSpace(ours), name)
		t.Logf("%s: dockerd %s, berthd %s", name, strings.TrimSpace(theirs), strings.TrimSpace(ours))
	}
}
