package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/api/apitest"
)

// End-to-end tests: berth, in-process, against the real API server in
// front of the fake engine (final/api/apitest). What they check is the
// conversation and what the user sees: output, exit status, and the
// state the engine is left in.

type engine struct {
	fake *apitest.Fake
	host string
}

func newEngine(t *testing.T) *engine {
	t.Helper()
	f := apitest.NewFake()
	return &engine{fake: f, host: apitest.Host(apitest.Serve(t, f))}
}

// berth runs a command line; stdin may be "".
func (e *engine) berth(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return runBerth(t, e.host, strings.NewReader(stdin), nil, args...)
}

// ok runs a command line that must succeed, and returns its stdout.
func (e *engine) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := e.berth(t, "", args...)
	require.Equal(t, 0, code, "berth %s: stderr: %s", strings.Join(args, " "), errOut)
	return out
}

func (e *engine) state(t *testing.T, name string) string {
	t.Helper()
	ins, err := e.fake.ContainerInspect(context.Background(), name)
	require.NoError(t, err)
	return string(ins.State.Status)
}

var fullID = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

func TestS22_RunForeground(t *testing.T) {
	e := newEngine(t)
	out, errOut, code := e.berth(t, "", "run", "--rm", "busybox", "echo", "hello", "world")
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, "hello world\n", out)
	assert.Empty(t, e.ok(t, "ps", "-a", "-q"), "--rm: the container is gone when run returns")

	out, errOut, code = e.berth(t, "", "run", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	assert.Equal(t, 3, code, "the container's status is berth's")
	assert.Equal(t, "out\n", out)
	assert.Equal(t, "err\n", errOut, "stderr stays stderr without a tty")
	assert.Equal(t, 1, strings.Count(e.ok(t, "ps", "-a", "-q"), "\n"), "without --rm the container stays")
}

func TestRunExitStatusesOfTheEngine(t *testing.T) {
	e := newEngine(t)
	_, errOut, code := e.berth(t, "", "run", "--rm", "busybox", "nosuchcommand")
	assert.Equal(t, 127, code)
	assert.Contains(t, errOut, "executable file not found")
	assert.Contains(t, errOut, "Run 'berth run --help' for more information")

	_, errOut, code = e.berth(t, "", "run", "nothere:1", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, "Unable to find image 'nothere:1' locally")
	assert.Contains(t, errOut, "manifest for nothere:1 not found", "the pull's 404")

	e.ok(t, "create", "--name", "taken", "busybox")
	_, errOut, code = e.berth(t, "", "run", "--name", "taken", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, "is already in use")
}

func TestS17_RunInteractiveStdin(t *testing.T) {
	e := newEngine(t)
	out, errOut, code := e.berth(t, "line one\nline two\n", "run", "-i", "--rm", "busybox", "cat")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "line one\nline two\n", out, "stdin reaches the container; its EOF ends cat")

	out, _, code = e.berth(t, "echo from-stdin; exit 6\n", "run", "-i", "--rm", "busybox", "sh")
	assert.Equal(t, 6, code)
	assert.Equal(t, "from-stdin\n", out)
}

func TestS25_RunDetached(t *testing.T) {
	e := newEngine(t)
	out := e.ok(t, "run", "-d", "--name", "bg", "busybox", "sleep", "30")
	assert.Regexp(t, fullID, out, "-d prints the full ID")
	id := strings.TrimSpace(out)
	assert.Equal(t, "running", e.state(t, "bg"), "the container runs on after berth returned")

	assert.Equal(t, id[:12]+"\n", e.ok(t, "ps", "-q"))
	ps := e.ok(t, "ps")
	assert.Regexp(t, `^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES\n`, ps)
	assert.Regexp(t, id[:12]+` +busybox +"sleep 30" +(Less than a second|\d+ seconds?) ago +Up .* +bg\n$`, ps)

	assert.Equal(t, "bg\n", e.ok(t, "stop", "bg"))
	assert.Equal(t, "exited", e.state(t, "bg"))
	assert.Empty(t, e.ok(t, "ps", "-q"), "ps without -a shows running containers only")
	assert.Equal(t, "bg exited\n", e.ok(t, "ps", "-a", "--format", "{{.Names}} {{.State}}"))
	table := e.ok(t, "ps", "-a", "--format", "table {{.Names}}\t{{.Status}}")
	assert.Regexp(t, `^NAMES +STATUS\nbg +Exited \(143\) .* ago\n$`, table)
}

func TestS24_GeneratedName(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "busybox", "sleep", "30")
	name := strings.TrimSpace(e.ok(t, "ps", "--format", "{{.Names}}"))
	assert.NotEmpty(t, name, "the daemon names a container that has no --name")
	assert.Equal(t, "/"+name+"\n", e.ok(t, "inspect", "--format", "{{.Name}}", name))
	e.ok(t, "rm", "-f", name)
}

func TestS27_StartAgain(t *testing.T) {
	e := newEngine(t)
	id := strings.TrimSpace(e.ok(t, "create", "--name", "c1", "busybox", "sh", "-c", "echo again; exit 4"))
	assert.Regexp(t, fullID, id+"\n", "create prints the ID")
	assert.Equal(t, "created", e.state(t, "c1"))

	out, _, code := e.berth(t, "", "start", "-a", "c1")
	assert.Equal(t, 4, code, "start -a exits with the container's status")
	assert.Equal(t, "again\n", out)

	// Again, detached: start prints the name and returns.
	assert.Equal(t, "c1\n", e.ok(t, "start", "c1"))
	require.Eventually(t, func() bool { return e.state(t, "c1") == "exited" }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, "again\nagain\n", e.ok(t, "logs", "c1"), "the same container ran twice")

	// start -a -i: stdin too, for a container created with -i.
	e.ok(t, "create", "-i", "--name", "c2", "busybox", "cat")
	out, errOut, code := e.berth(t, "typed\n", "start", "-a", "-i", "c2")
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, "typed\n", out)

	_, errOut, code = e.berth(t, "", "start", "nothere")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "No such container: nothere")
	assert.Contains(t, errOut, "failed to start containers: nothere")
}

func TestS28_StopAndKill(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "k1", "busybox", "sleep", "30")
	e.ok(t, "run", "-d", "--name", "k2", "busybox", "sleep", "30")
	assert.Equal(t, "k1\n", e.ok(t, "kill", "k1"))
	assert.Equal(t, "137\n", e.ok(t, "inspect", "--format", "{{.State.ExitCode}}", "k1"), "kill sends SIGKILL by default")
	assert.Equal(t, "k2\n", e.ok(t, "kill", "-s", "INT", "k2"))
	assert.Equal(t, "130\n", e.ok(t, "inspect", "--format", "{{.State.ExitCode}}", "k2"))

	e.ok(t, "run", "-d", "--name", "s1", "busybox", "sleep", "30")
	assert.Equal(t, "s1\n", e.ok(t, "stop", "-t", "1", "s1"))
	assert.Equal(t, "143\n", e.ok(t, "inspect", "--format", "{{.State.ExitCode}}", "s1"), "stop sends SIGTERM first")

	assert.Equal(t, "s1\n", e.ok(t, "restart", "s1"))
	assert.Equal(t, "running", e.state(t, "s1"))
	e.ok(t, "kill", "s1")

	// One bad name does not stop the others.
	e.ok(t, "run", "-d", "--name", "k3", "busybox", "sleep", "30")
	out, errOut, code := e.berth(t, "", "kill", "nothere", "k3")
	assert.Equal(t, 1, code)
	assert.Equal(t, "k3\n", out)
	assert.Contains(t, errOut, "No such container: nothere")
}

func TestS29_RemoveOnlyStopped(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "r1", "busybox", "sleep", "30")
	_, errOut, code := e.berth(t, "", "rm", "r1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "You cannot remove a running container ")
	assert.Equal(t, "running", e.state(t, "r1"))

	assert.Equal(t, "r1\n", e.ok(t, "rm", "-f", "r1"))
	_, errOut, code = e.berth(t, "", "inspect", "r1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Error: No such object: r1")

	e.ok(t, "run", "--name", "r2", "busybox", "true")
	assert.Equal(t, "r2\n", e.ok(t, "rm", "r2"))
	assert.Empty(t, e.ok(t, "ps", "-aq"))
}

func TestS15_S35_Logs(t *testing.T) {
	e := newEngine(t)
	_, _, code := e.berth(t, "", "run", "--name", "l1", "busybox", "sh", "-c", "echo one; echo two; echo three >&2")
	require.Equal(t, 0, code)

	out, errOut, code := e.berth(t, "", "logs", "l1")
	require.Equal(t, 0, code)
	assert.Equal(t, "one\ntwo\n", out)
	assert.Equal(t, "three\n", errOut)

	out, errOut, _ = e.berth(t, "", "logs", "--tail", "2", "l1")
	assert.Equal(t, "two\n", out)
	assert.Equal(t, "three\n", errOut)
	out, errOut, _ = e.berth(t, "", "logs", "-n", "1", "l1")
	assert.Equal(t, "", out)
	assert.Equal(t, "three\n", errOut)

	out = e.ok(t, "logs", "-t", "l1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (one|two)$`, l)
	}

	// -f follows until the container stops.
	e.ok(t, "run", "-d", "--name", "l2", "busybox", "sh", "-c", "echo a; sleep 0.3; echo b")
	out = e.ok(t, "logs", "-f", "l2")
	assert.Equal(t, "a\nb\n", out)
}

func TestS36_Top(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "t1", "busybox", "sleep", "30")
	out := e.ok(t, "top", "t1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `^UID +PID +PPID +C +STIME +TTY +TIME +CMD$`, lines[0])
	assert.Regexp(t, `^root +\d+ .* sleep 30$`, lines[1])
	e.ok(t, "rm", "-f", "t1")
}

func TestS37_Exec(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "x1", "busybox", "sleep", "30")
	assert.Equal(t, "hi there\n", e.ok(t, "exec", "x1", "echo", "hi", "there"))

	_, _, code := e.berth(t, "", "exec", "x1", "sh", "-c", "exit 5")
	assert.Equal(t, 5, code, "exec exits with the process's status")

	assert.Empty(t, e.ok(t, "exec", "-d", "x1", "touch", "/tmp/marker"))
	require.Eventually(t, func() bool {
		return strings.Contains(e.ok(t, "exec", "x1", "ls"), "/tmp/marker\n")
	}, 5*time.Second, 20*time.Millisecond, "exec -d ran in the background")

	out, errOut, code := e.berth(t, "piped\n", "exec", "-i", "x1", "cat")
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, "piped\n", out)

	assert.Contains(t, e.ok(t, "exec", "-e", "EXTRA=1", "x1", "env"), "EXTRA=1\n")

	_, errOut, code = e.berth(t, "", "exec", "nothere", "true")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "No such container: nothere")

	// rm --link takes /LINKER/ALIAS: x1 has no link of that name, and
	// a container's own name is not a link.
	_, errOut, code = e.berth(t, "", "rm", "--link", "/x1/db")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "No such container: x1/db")
	_, errOut, code = e.berth(t, "", "rm", "--link", "x1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Conflict, cannot remove the default link name of the container")

	_, errOut, code = e.berth(t, "x", "exec", "-it", "x1", "sh")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "the input device is not a TTY")
	e.ok(t, "rm", "-f", "x1")
}

func TestInspect(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "i1", "-e", "A=1", "busybox", "sleep", "30")
	assert.Equal(t, "running busybox\n", e.ok(t, "inspect", "-f", "{{.State.Status}} {{.Config.Image}}", "i1"))
	assert.Equal(t, "true\n", e.ok(t, "container", "inspect", "--format", "{{.State.Running}}", "i1"))
	assert.Contains(t, e.ok(t, "inspect", "--format", "{{json .Config.Env}}", "i1"), `"A=1"`)

	// Without a format: a JSON array, indented like docker's.
	out := e.ok(t, "inspect", "i1", "busybox")
	assert.True(t, strings.HasPrefix(out, "[\n    {\n        \"Id\": "), out[:40])
	assert.Contains(t, out, `"Name": "/i1"`)
	assert.Contains(t, out, `"Id": "sha256:`, "busybox is found as an image")

	assert.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, e.ok(t, "image", "inspect", "--format", "{{.Id}}", "busybox"))
	assert.Equal(t, "bridge\n", e.ok(t, "inspect", "--type", "network", "--format", "{{.Name}}", "bridge"))

	out, errOut, code := e.berth(t, "", "inspect", "--format", "{{.Name}}", "i1", "nothere")
	assert.Equal(t, 1, code)
	assert.Equal(t, "/i1\n", out, "what was found is printed")
	assert.Contains(t, errOut, "Error: No such object: nothere")

	_, errOut, code = e.berth(t, "", "image", "inspect", "nothere")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Error: No such image: nothere")
	e.ok(t, "rm", "-f", "i1")
}

func TestS26_S38_Ports(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "p1", "-p", "0.0.0.0:8888:80", "-p", "127.0.0.1:5353:53/udp", "busybox", "sleep", "30")
	assert.Equal(t, "53/udp -> 127.0.0.1:5353\n80/tcp -> 0.0.0.0:8888\n", e.ok(t, "port", "p1"))
	assert.Equal(t, "0.0.0.0:8888\n", e.ok(t, "port", "p1", "80"))
	assert.Equal(t, "127.0.0.1:5353\n", e.ok(t, "port", "p1", "53/udp"))
	_, errOut, code := e.berth(t, "", "port", "p1", "81")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "No public port '81/tcp' published for p1")
	assert.Equal(t, "127.0.0.1:5353->53/udp, 0.0.0.0:8888->80/tcp\n", e.ok(t, "ps", "--format", "{{.Ports}}"))
	e.ok(t, "rm", "-f", "p1")
}

func TestS10_ImagesListed(t *testing.T) {
	e := newEngine(t)
	out := e.ok(t, "images")
	assert.Regexp(t, `^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\nbusybox +latest +[0-9a-f]{12} +.* ago +\d+(\.\d+)?[kM]?B\n$`, out)
	id := strings.TrimSpace(e.ok(t, "images", "-q"))
	assert.Len(t, id, 12)

	assert.Empty(t, e.ok(t, "tag", "busybox", "mybox:1"))
	assert.Equal(t, id+"\n", e.ok(t, "images", "-q"), "one image under two names: one ID")
	assert.Equal(t, "busybox:latest\nmybox:1\n", e.ok(t, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"))
	assert.Regexp(t, `"Repository":"mybox"`, e.ok(t, "images", "--format", "json", "mybox"))

	out = e.ok(t, "history", "busybox")
	assert.Regexp(t, `^IMAGE +CREATED +CREATED BY +SIZE +COMMENT\n`, out)
	assert.GreaterOrEqual(t, strings.Count(out, "\n"), 2)

	assert.Equal(t, "Untagged: mybox:1\n", e.ok(t, "rmi", "mybox:1"))
	_, errOut, code := e.berth(t, "", "rmi", "mybox:1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "mybox:1")
}

func TestS31_RmiSeveral(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "tag", "busybox", "a:1")
	e.ok(t, "tag", "busybox", "b:1")
	out := e.ok(t, "rmi", "a:1", "b:1")
	assert.Equal(t, "Untagged: a:1\nUntagged: b:1\n", out)
	assert.Equal(t, "busybox\n", e.ok(t, "images", "--format", "{{.Repository}}"))
}

// S16, S19, S30: commit makes an image of a container's changes; the
// container's own image does not change.
func TestS16_S19_S30_Commit(t *testing.T) {
	e := newEngine(t)
	_, _, code := e.berth(t, "", "run", "--name", "w1", "busybox", "touch", "/new-file")
	require.Equal(t, 0, code)
	out := e.ok(t, "commit", "-m", "add a file", "-a", "me", "-c", `CMD ["ls"]`, "w1", "snap:1")
	assert.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, out)

	assert.Contains(t, e.ok(t, "run", "--rm", "snap:1"), "/new-file\n", "the new image has the change, and the CMD")
	assert.NotContains(t, e.ok(t, "run", "--rm", "busybox", "ls"), "/new-file", "the old image does not")
	assert.Contains(t, e.ok(t, "history", "--format", "{{.Comment}}", "snap:1"), "add a file")
}

// S32, S34: export and import keep the files, lose the history.
func TestS32_S34_ExportImport(t *testing.T) {
	e := newEngine(t)
	_, _, code := e.berth(t, "", "run", "--name", "w1", "busybox", "touch", "/exported")
	require.Equal(t, 0, code)
	file := filepath.Join(t.TempDir(), "w.tar")
	assert.Empty(t, e.ok(t, "export", "-o", file, "w1"))
	assert.Contains(t, tarNames(t, file), "exported")

	out := e.ok(t, "import", "-c", `CMD ["ls"]`, "-m", "flat", file, "flat:1")
	assert.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, out)
	assert.Contains(t, e.ok(t, "run", "--rm", "flat:1"), "/exported\n")
	assert.Equal(t, 1, strings.Count(e.ok(t, "history", "-q", "flat:1"), "\n"), "one layer, no history")

	// The same through stdin and stdout.
	export, _, code := e.berth(t, "", "export", "w1")
	require.Equal(t, 0, code)
	out, errOut, code := e.berth(t, export, "import", "-", "flat:2")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^sha256:`, out)
}

// S33, S34: save and load keep the layers and the history.
func TestS33_S34_SaveLoad(t *testing.T) {
	e := newEngine(t)
	_, _, code := e.berth(t, "", "run", "--name", "w1", "busybox", "touch", "/saved")
	require.Equal(t, 0, code)
	e.ok(t, "commit", "-m", "second layer", "w1", "keep:1")
	const historyFormat = "{{.ID}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}"
	history := e.ok(t, "history", "--no-trunc", "--format", historyFormat, "keep:1")
	require.Equal(t, 3, strings.Count(history, "\n"), history)

	file := filepath.Join(t.TempDir(), "keep.tar")
	assert.Empty(t, e.ok(t, "save", "-o", file, "keep:1"))
	assert.Contains(t, tarNames(t, file), "manifest.json")

	e.ok(t, "rm", "w1")
	e.ok(t, "rmi", "keep:1")
	out := e.ok(t, "load", "-i", file)
	assert.Contains(t, out, "Loaded image: keep:1")
	assert.Equal(t, history, e.ok(t, "history", "--no-trunc", "--format", historyFormat, "keep:1"), "the history survives save and load")

	// Through stdin, quietly since stdout is not a terminal.
	saved, _, code := e.berth(t, "", "save", "keep:1")
	require.Equal(t, 0, code)
	out, errOut, code := e.berth(t, saved, "load")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "keep:1")
}

func TestS5_S6_Build(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("Dockerfile", "FROM busybox\nCOPY . /ctx\nRUN touch /built\nCMD [\"ls\"]\n")
	write("app.txt", "app\n")
	write("secret.key", "do not send\n")
	write("logs/a.log", "noise\n")
	write(".dockerignore", "# not for the daemon\n*.key\nlogs\n")

	out, errOut, code := e.berth(t, "", "build", "-t", "built:1", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Sending build context to berthd")
	assert.Contains(t, out, "Successfully tagged built:1")

	files := e.ok(t, "run", "--rm", "built:1")
	assert.Contains(t, files, "/built\n")
	assert.Contains(t, files, "/ctx/app.txt\n")
	assert.NotContains(t, files, "secret.key", ".dockerignore keeps it out of the context")
	assert.NotContains(t, files, "a.log")

	// FROM an image built before (S6), with a Dockerfile from stdin.
	out, errOut, code = e.berth(t, "FROM built:1\nRUN touch /second\n", "build", "-q", "-t", "built:2", "-")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}\n$`, out, "-q prints only the ID")
	files = e.ok(t, "run", "--rm", "built:2", "ls")
	assert.Contains(t, files, "/built\n")
	assert.Contains(t, files, "/second\n")

	// A failing step fails the build, with the step's message.
	write("Dockerfile", "FROM busybox\nRUN false\n")
	_, errOut, code = e.berth(t, "", "build", dir)
	assert.NotEqual(t, 0, code)
	assert.NotEmpty(t, errOut)
}

func TestVersionAndInfo(t *testing.T) {
	e := newEngine(t)
	out := e.ok(t, "version")
	assert.Contains(t, out, "Client:\n Version:           "+Version)
	assert.Contains(t, out, "API version:       1.41 (downgraded from ")
	assert.Contains(t, out, "Server: berth (fake)")
	assert.Equal(t, "0.0.0-fake\n", e.ok(t, "version", "--format", "{{.Server.Version}}"))

	out = e.ok(t, "info")
	assert.Contains(t, out, " Images: 1\n")
	assert.Contains(t, out, " Containers: 0\n")
	assert.Equal(t, "1\n", e.ok(t, "info", "--format", "{{.Images}}"))
}

func tarNames(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var names []string
	for _, name := range labtest.TarNames(t, f) {
		names = append(names, strings.TrimPrefix(name, "./"))
	}
	return names
}

func TestAttachAndWait(t *testing.T) {
	e := newEngine(t)
	// A program that ticks until /tmp/go exists, then writes on both
	// streams and exits 2: the test can make sure berth is attached
	// (it sees ticks) before the container ends.
	e.fake.SetProgram("ticker", func(ctx context.Context, p *apitest.Proc) int {
		for {
			if _, ok := p.ReadFile("/tmp/go"); ok {
				fmt.Fprintln(p.Stdout, "late-output")
				fmt.Fprintln(p.Stderr, "late-err")
				return 2
			}
			fmt.Fprintln(p.Stdout, "tick")
			select {
			case <-ctx.Done():
				return 1
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	e.ok(t, "run", "-d", "--name", "late", "busybox", "ticker")
	var out, errOut labtest.Buffer
	c := New(strings.NewReader(""), &out, &errOut)
	c.Getenv = func(k string) string {
		if k == HostEnv {
			return e.host
		}
		return ""
	}
	done := make(chan int, 1)
	go func() { done <- c.Run([]string{"attach", "late"}) }()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "tick\n") }, 10*time.Second, 5*time.Millisecond, "attached")
	e.ok(t, "exec", "late", "touch", "/tmp/go")
	select {
	case code := <-done:
		assert.Equal(t, 2, code, "attach exits with the container's status")
	case <-time.After(10 * time.Second):
		t.Fatal("attach did not return when the container exited")
	}
	assert.True(t, strings.HasSuffix(out.String(), "tick\nlate-output\n"), out.String())
	assert.Equal(t, "late-err\n", errOut.String())

	_, stderr, code := e.berth(t, "", "attach", "late")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "You cannot attach to a stopped container, start it first")

	e.ok(t, "run", "-d", "--name", "w1", "busybox", "sh", "-c", "sleep 0.2; exit 7")
	e.ok(t, "run", "-d", "--name", "w2", "busybox", "true")
	assert.Equal(t, "7\n0\n", e.ok(t, "wait", "w1", "w2"))
	_, stderr, code = e.berth(t, "", "wait", "nothere")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "No such container: nothere")
}

// With -t (and no -i: no terminal check), the container's output is the
// terminal's: one stream, raw, both for run and for logs.
func TestTTYOutput(t *testing.T) {
	e := newEngine(t)
	out, errOut, code := e.berth(t, "", "run", "-t", "--name", "tt", "busybox", "sh", "-c", "echo to-out; echo to-err >&2")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "to-out\nto-err\n", out, "a terminal has a single stream")
	assert.Empty(t, errOut)
	assert.Equal(t, "to-out\nto-err\n", e.ok(t, "logs", "tt"))
}

func TestRunDetachKeysFlag(t *testing.T) {
	e := newEngine(t)
	_, errOut, code := e.berth(t, "", "run", "-d", "-a", "stdout", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, "conflicting options")
}

// lateAttach is the fake engine with attachments that start late: the
// client gets its 101 at once, but the engine looks at the container
// only after it has exited, as happens when a container exits between
// berth's last check and the daemon's. Such an attachment waits for the
// container's next start.
type lateAttach struct {
	*apitest.Fake
}

func (l *lateAttach) ContainerAttach(ctx context.Context, name string, opts api.AttachOptions) error {
	if opts.Attached != nil {
		opts.Attached()
		opts.Attached = nil
	}
	for {
		ins, err := l.Fake.ContainerInspect(ctx, name)
		if err != nil {
			return err
		}
		if !ins.State.Running {
			return l.Fake.ContainerAttach(ctx, name, opts)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestAttachToContainerExitingMeanwhile: berth does not wait forever on
// such an attachment; the wait it registered first says the container
// is gone, and berth exits with its status.
func TestAttachToContainerExitingMeanwhile(t *testing.T) {
	f := &lateAttach{Fake: apitest.NewFake()}
	f.SetProgram("until-go", func(ctx context.Context, p *apitest.Proc) int {
		for {
			if _, ok := p.ReadFile("/tmp/go"); ok {
				return 3
			}
			select {
			case <-ctx.Done():
				return 1
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	host := apitest.Host(apitest.Serve(t, f))
	_, errOut, code := runBerth(t, host, nil, nil, "run", "-d", "--name", "ending", "busybox", "until-go")
	require.Equal(t, 0, code, errOut)

	done := make(chan int, 1)
	go func() {
		_, _, code := runBerth(t, host, nil, nil, "attach", "ending")
		done <- code
	}()
	time.Sleep(100 * time.Millisecond) // berth is attached and has checked the state
	_, errOut, code = runBerth(t, host, nil, nil, "exec", "ending", "touch", "/tmp/go")
	require.Equal(t, 0, code, errOut)
	select {
	case code := <-done:
		assert.Equal(t, 3, code)
	case <-time.After(10 * time.Second):
		t.Fatal("berth attach waited for a container that had exited")
	}
}
