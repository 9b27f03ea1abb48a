package api_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/final/api/apitest"
)

// The real docker clients: the one the issue names (28.x, installed by
// hand) and Debian's (20.10). berthd must serve both.
var dockerClients = []struct{ name, path string }{
	{"docker-28", "/usr/local/bin/docker"},
	{"docker-20.10", "/usr/bin/docker"},
}

// dockerCLI runs one docker client against a server on a fake engine.
type dockerCLI struct {
	t      *testing.T
	bin    string
	env    []string
	dir    string
	fake   *apitest.Fake
	socket string
}

func newDockerCLI(t *testing.T, bin string) *dockerCLI {
	t.Helper()
	_, err := os.Stat(bin)
	labtest.Need(t, err == nil, bin+" (a docker client) is not installed")
	fake := apitest.NewFake()
	sock := apitest.Serve(t, fake)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") {
			env = append(env, kv)
		}
	}
	env = append(env, "DOCKER_HOST="+apitest.Host(sock), "DOCKER_CONFIG="+t.TempDir(), "DOCKER_BUILDKIT=0")
	return &dockerCLI{t: t, bin: bin, env: env, dir: t.TempDir(), fake: fake, socket: sock}
}

// run runs the client with args and stdin, and returns its output and
// exit code.
func (d *dockerCLI) run(stdin string, args ...string) (string, string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = d.env
	cmd.Dir = d.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		d.t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	require.NoError(d.t, ctx.Err(), "docker %s timed out; stderr: %s", strings.Join(args, " "), errOut.String())
	return out.String(), errOut.String(), code
}

// ok runs the client and requires success.
func (d *dockerCLI) ok(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.run("", args...)
	require.Equal(d.t, 0, code, "docker %s failed: %s", strings.Join(args, " "), errOut)
	return out
}

func TestS10_DockerCLIsRunContainersThroughTheAPI(t *testing.T) {
	for _, client := range dockerClients {
		t.Run(client.name, func(t *testing.T) {
			d := newDockerCLI(t, client.path)

			assert.Equal(t, "1.41\n", d.ok("version", "--format", "{{.Server.APIVersion}}"))
			assert.Equal(t, "berth (fake)\n", d.ok("version", "--format", "{{.Server.Platform.Name}}"))

			// run: create, attach, wait, start; --rm removes it.
			assert.Equal(t, "hi\n", d.ok("run", "--rm", "busybox", "echo", "hi"))
			assert.Empty(t, d.ok("ps", "-a", "-q"), "--rm removed the container")

			out, errOut, code := d.run("", "run", "--name", "c1", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
			assert.Equal(t, 3, code, "the container's exit code is docker's")
			assert.Equal(t, "out\n", out)
			assert.Equal(t, "err\n", errOut)
			assert.Regexp(t, `^c1 Exited \(3\) `, d.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}"))

			out, errOut, code = d.run("", "logs", "c1")
			assert.Equal(t, 0, code)
			assert.Equal(t, "out\n", out)
			assert.Equal(t, "err\n", errOut)
			_, errOut, _ = d.run("", "logs", "-t", "--tail", "1", "c1")
			assert.Regexp(t, regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z err\n$`), errOut)

			assert.Equal(t, "3 /c1\n", d.ok("inspect", "-f", "{{.State.ExitCode}} {{.Name}}", "c1"))
			_, errOut, code = d.run("", "inspect", "nosuch")
			assert.Equal(t, 1, code)
			assert.Contains(t, errOut, "No such object: nosuch", "every kind answered a JSON 404")
			assert.Equal(t, "busybox:latest\n", d.ok("images", "--format", "{{.Repository}}:{{.Tag}}"))

			// -i: stdin reaches the container, and its half-close
			// ends the input, not the output.
			out, _, code = d.run("piped\n", "run", "-i", "--rm", "busybox", "cat")
			assert.Equal(t, 0, code)
			assert.Equal(t, "piped\n", out)

			id := strings.TrimSpace(d.ok("run", "-d", "--name", "bg", "busybox", "sleep", "infinity"))
			assert.Regexp(t, `^[0-9a-f]{64}$`, id)
			assert.Equal(t, "hello\n", d.ok("exec", "bg", "echo", "hello"))
			_, _, code = d.run("", "exec", "bg", "sh", "-c", "exit 5")
			assert.Equal(t, 5, code, "exec's exit code")
			out, _, code = d.run("data\n", "exec", "-i", "bg", "cat")
			assert.Equal(t, 0, code)
			assert.Equal(t, "data\n", out)
			assert.Contains(t, d.ok("top", "bg"), "sleep infinity")

			_, errOut, code = d.run("", "rm", "bg")
			assert.NotEqual(t, 0, code)
			assert.Contains(t, errOut, "Stop the container before attempting removal or force remove")
			assert.Equal(t, "bg\n", d.ok("stop", "bg"))
			d.ok("rm", "bg", "c1")
			assert.Empty(t, d.ok("ps", "-a", "-q"))

			// -p arrives as PortBindings and comes back in ps and port.
			d.ok("run", "-d", "--name", "pub", "-p", "8080:80", "busybox", "sleep", "infinity")
			assert.Equal(t, "80/tcp -> 0.0.0.0:8080\n", d.ok("port", "pub"))
			assert.Equal(t, "0.0.0.0:8080->80/tcp\n", d.ok("ps", "--format", "{{.Ports}}"))
			d.ok("rm", "-f", "pub")

			_, errOut, code = d.run("", "run", "nosuch")
			assert.Equal(t, 125, code)
			assert.Contains(t, errOut, "Unable to find image 'nosuch:latest' locally")
			assert.Contains(t, errOut, "manifest for nosuch:latest not found")
			_, _, code = d.run("", "run", "--rm", "busybox", "nosuchcmd")
			assert.Equal(t, 127, code, "docker's code for a missing executable")
		})
	}
}

func TestS33_DockerCLIsMoveImagesThroughTheAPI(t *testing.T) {
	for _, client := range dockerClients {
		t.Run(client.name, func(t *testing.T) {
			d := newDockerCLI(t, client.path)

			d.ok("run", "--name", "worker", "busybox", "touch", "/made")
			assert.Equal(t, "A /made\n", d.ok("diff", "worker"))
			assert.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, d.ok("commit", "worker", "snap:1"))
			assert.Len(t, lines(d.ok("history", "-q", "snap:1")), 3, "the base's two steps and the commit")
			d.ok("tag", "snap:1", "other/snap")
			assert.Contains(t, d.ok("images", "--format", "{{.Repository}}:{{.Tag}}"), "other/snap:latest")
			assert.Equal(t, "Untagged: other/snap:latest\n", d.ok("rmi", "other/snap"))

			archive := filepath.Join(d.dir, "images.tar")
			d.ok("save", "-o", archive, "busybox", "snap:1")
			d.ok("rm", "worker")
			d.ok("rmi", "snap:1", "busybox")
			assert.Empty(t, d.ok("images", "-q"))
			out := d.ok("load", "-i", archive)
			assert.Contains(t, out, "Loaded image: busybox:latest")
			assert.Contains(t, out, "Loaded image: snap:1")

			d.ok("create", "--name", "exported", "snap:1", "true")
			flat := filepath.Join(d.dir, "flat.tar")
			d.ok("export", "-o", flat, "exported")
			assert.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, d.ok("import", flat, "flat:1"))
			assert.Contains(t, d.ok("run", "--rm", "flat:1", "ls"), "/made")

			ctxDir := filepath.Join(d.dir, "ctx")
			require.NoError(t, os.MkdirAll(ctxDir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM busybox\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "hello.txt"), []byte("built\n"), 0o644))
			out = d.ok("build", "-t", "built:1", ctxDir)
			assert.Contains(t, out, "Step 3/3 : CMD")
			assert.Contains(t, out, "Successfully tagged built:1")
			assert.Equal(t, "built\n", d.ok("run", "--rm", "built:1"))

			require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM busybox\nRUN false\n"), 0o644))
			_, errOut, code := d.run("", "build", ctxDir)
			assert.NotEqual(t, 0, code)
			assert.Contains(t, errOut, "The command '/bin/sh -c false' returned a non-zero code: 1", "the in-band error is shown")
		})
	}
}

// ok2 runs the client with stdin and requires success.
func (d *dockerCLI) ok2(stdin string, args ...string) string {
	d.t.Helper()
	out, errOut, code := d.run(stdin, args...)
	require.Equal(d.t, 0, code, "docker %s failed: %s", strings.Join(args, " "), errOut)
	return out
}
