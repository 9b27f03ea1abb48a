package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/api/apitest"
)

// The image tests drive a real Daemon through the API server, with the
// moby client and the docker CLI, on a data root of their own. The
// "containers" whose files they commit and export are made the simple way
// (chapter 06's runner in the test process, or a directory with chapter
// 06's record and a lease): the container endpoints are not what is
// tested here.

// imageEnv is a daemon on a temporary data root, served on a socket.
type imageEnv struct {
	t      testing.TB
	d      *Daemon
	root   string
	sock   string
	client *client.Client
}

func newImageEnv(t testing.TB) *imageEnv {
	t.Helper()
	labtest.Privileged(t)
	root := t.TempDir()
	ownCgroupParent(t, root)
	d, err := New(Options{DataRoot: root, ExecRoot: t.TempDir(), Version: "test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return serveImages(t, d, root)
}

// handOver closes e's daemon, so that another (a crash test's worker)
// may serve its data root: one daemon at a time supervises a root. The
// returned function starts a new daemon over the root and gives its env.
func (e *imageEnv) handOver() func() *imageEnv {
	e.t.Helper()
	require.NoError(e.t, e.d.Close())
	return func() *imageEnv {
		d, err := New(Options{DataRoot: e.root, ExecRoot: e.t.TempDir(), Version: "test"})
		require.NoError(e.t, err)
		e.t.Cleanup(func() { _ = d.Close() })
		return serveImages(e.t, d, e.root)
	}
}

func serveImages(t testing.TB, d *Daemon, root string) *imageEnv {
	t.Helper()
	sock := apitest.ServeWith(t, d, api.Options{Version: "test"})
	c, err := client.New(client.WithHost(apitest.Host(sock)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &imageEnv{t: t, d: d, root: root, sock: sock, client: c}
}

type (
	imageInspect   = imagetypes.InspectResponse
	deleteResponse = imagetypes.DeleteResponse
)

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// importBusybox imports the course's busybox rootfs as busybox:latest,
// with sh as its command, through the API.
func (e *imageEnv) importBusybox() string {
	e.t.Helper()
	f, err := os.Open(labtest.BusyboxRootfs(e.t) + ".tar")
	require.NoError(e.t, err)
	defer f.Close()
	msgs := e.importTar(f, "busybox:latest", `CMD ["sh"]`, `ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`)
	require.Len(e.t, msgs, 1)
	return msgs[0].Status
}

// importTar imports a file system tar through the API and returns the
// messages of the answer.
func (e *imageEnv) importTar(r io.Reader, ref string, changes ...string) []api.JSONMessage {
	e.t.Helper()
	body, err := e.client.ImageImport(ctxFor(e.t), client.ImageImportSource{Source: r, SourceName: "-"}, ref, client.ImageImportOptions{Changes: changes})
	require.NoError(e.t, err)
	defer body.Close()
	msgs := readMessages(e.t, body)
	for _, m := range msgs {
		require.Empty(e.t, m.Error)
	}
	return msgs
}

// readMessages decodes a JSON message stream.
func readMessages(t testing.TB, r io.Reader) []api.JSONMessage {
	t.Helper()
	var msgs []api.JSONMessage
	dec := json.NewDecoder(r)
	for {
		var m api.JSONMessage
		err := dec.Decode(&m)
		if err == io.EOF {
			return msgs
		}
		require.NoError(t, err)
		msgs = append(msgs, m)
	}
}

// streamText joins the "stream" texts of messages, and the in-band
// error, if any.
func streamText(msgs []api.JSONMessage) (text, errMsg string) {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.Stream)
		if m.Error != "" {
			errMsg = m.Error
		}
	}
	return b.String(), errMsg
}

// runImage runs a command in a container of an image of the daemon's
// store, in the foreground, with chapter 06's runner (--net none), and
// returns its output.
func (e *imageEnv) runImage(ref string, args ...string) string {
	e.t.Helper()
	out, status := e.runImageStatus(ref, args...)
	require.Equal(e.t, 0, status, "running %s %v: %s", ref, args, out)
	return out
}

func (e *imageEnv) runImageStatus(ref string, args ...string) (string, int) {
	e.t.Helper()
	o := e.runOptions(ref)
	var out bytes.Buffer
	c, err := o.Container(namespace.NewID(), args, namespace.Stdio{Out: &out, Err: &out})
	require.NoError(e.t, err)
	status, err := c.Run()
	require.NoError(e.t, err)
	return out.String(), status
}

func (e *imageEnv) runOptions(ref string, extra ...string) *image.RunOptions {
	e.t.Helper()
	var o image.RunOptions
	fs := namespace.FlagSet("run")
	o.AddFlags(fs)
	require.NoError(e.t, fs.Parse(append([]string{"--root", e.root, "--net", "none"}, extra...)))
	o.Image = ref
	return &o
}

// makeContainer runs a command in a new container of ref and keeps the
// container (its writable layer, chapter 06's record, its lease on the
// image), as `06-images run --keep` does, under the name given in
// chapter 07's store. It returns the container's ID.
func (e *imageEnv) makeContainer(name, ref string, args ...string) string {
	e.t.Helper()
	o := e.runOptions(ref, "--keep")
	id := namespace.NewID()
	var out bytes.Buffer
	c, err := o.Container(id, args, namespace.Stdio{Out: &out, Err: io.Discard})
	require.NoError(e.t, err)
	status, err := c.Run()
	require.NoError(e.t, err)
	require.Equal(e.t, 0, status, out.String())
	if name != "" {
		_, err := e.d.containers.Create(shim.Config{ID: id, Name: name, Image: ref, Command: args})
		require.NoError(e.t, err)
	}
	e.t.Cleanup(func() { e.removeContainer(id) })
	return id
}

// removeContainer removes a kept container: its layer, and its lease.
func (e *imageEnv) removeContainer(id string) {
	if rw, err := layer.Open(e.root, id); err == nil {
		_ = rw.Remove()
	}
	_ = e.d.images.Release(id)
}

// dockerCLI runs the real docker client (28.x) against the daemon, with
// the classic builder.
func (e *imageEnv) docker(stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	bin := "/usr/local/bin/docker"
	_, err := os.Stat(bin)
	labtest.Need(e.t, err == nil, bin+" (the docker client) is not installed")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "DOCKER_HOST="+apitest.Host(e.sock), "DOCKER_CONFIG="+e.t.TempDir(), "DOCKER_BUILDKIT=0")
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	code = 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else {
		require.NoError(e.t, err)
	}
	return out.String(), errOut.String(), code
}

// contextTar makes a build context tar of files (name -> content).
func contextTar(t testing.TB, files map[string]string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(1700000000, 0)}))
		_, err := tw.Write([]byte(content))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return &buf
}

// writeDir writes files (name -> content) under dir.
func writeDir(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func nsStdio() namespace.Stdio { return namespace.Stdio{Out: io.Discard, Err: io.Discard} }

func killPid(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }

func processAlive(pid int) error { return syscall.Kill(pid, 0) }
