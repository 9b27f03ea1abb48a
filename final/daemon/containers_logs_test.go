package daemon

import (
	"bufio"
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// S35: docker logs [-f] [-t] [--tail N|all]: stdout and stderr apart, as
// Docker frames them; timestamps; the last N lines; following until the
// container stops.
func TestS35_Logs(t *testing.T) {
	l := newLab(t)
	l.ok("run", "--name", "talker", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done")
	out, errOut := l.logs("talker")
	assert.Equal(t, "out1\nout2\nout3\nout4\nout5\n", out)
	assert.Equal(t, "err1\nerr2\nerr3\nerr4\nerr5\n", errOut)

	// The two streams come through two pipes, so the order of lines
	// across them is the order in which the shim read them; within each,
	// it is the container's.
	out, errOut, code := l.docker("", "logs", "--tail", "2", "talker")
	require.Equal(t, 0, code)
	assert.Len(t, strings.Fields(out+errOut), 2, "two lines: %q %q", out, errOut)
	assert.True(t, strings.HasSuffix("out1\nout2\nout3\nout4\nout5\n", out), "the last lines of stdout: %q", out)
	assert.True(t, strings.HasSuffix("err1\nerr2\nerr3\nerr4\nerr5\n", errOut), "the last lines of stderr: %q", errOut)
	out, _, _ = l.docker("", "logs", "--tail", "all", "talker")
	assert.Equal(t, "out1\nout2\nout3\nout4\nout5\n", out)

	// The last line is out5 or err5, whichever the shim read last; its
	// time is when it was written, moments ago.
	out, errOut, _ = l.docker("", "logs", "-t", "--tail", "1", "talker")
	m := regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (out5|err5)\n$`).FindStringSubmatch(out + errOut)
	require.NotNil(t, m, "one line with its time: %q %q", out, errOut)
	at, err := time.Parse(time.RFC3339Nano, m[1])
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), at, time.Minute)

	// The frames themselves: stream 1 and 2, as stdcopy reads them.
	rc, err := l.client.ContainerLogs(labCtx(t), "talker", client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	require.NoError(t, err)
	var o, e bytes.Buffer
	_, err = stdcopy.StdCopy(&o, &e, rc)
	require.NoError(t, err)
	rc.Close()
	assert.Equal(t, "out1\nout2\nout3\nout4\nout5\n", o.String())
	assert.Equal(t, "err1\nerr2\nerr3\nerr4\nerr5\n", e.String())

	// -f: what comes next, until the container stops.
	l.ok("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "for i in 1 2 3; do echo tick$i; sleep 0.2; done")
	begin := time.Now()
	out, _, code = l.docker("", "logs", "-f", "ticker")
	require.Equal(t, 0, code)
	assert.Equal(t, "tick1\ntick2\ntick3\n", out)
	assert.Greater(t, time.Since(begin), 300*time.Millisecond, "it followed the container")
}

// A container with a terminal logs raw output, \r\n included, and logs
// gives it back raw.
func TestS35_TerminalLogsAreRaw(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-t", "--name", "tty", "busybox", "sh", "-c", "echo line; echo to-stderr >&2")
	out, errOut := l.logs("tty")
	assert.Equal(t, "line\r\nto-stderr\r\n", out)
	assert.Empty(t, errOut)
}

// attach: a client joins a running container's streams: its output from
// now on, and its stdin; end of input with StdinOnce closes the
// container's stdin, which ends cat.
func TestAttach(t *testing.T) {
	l := newLab(t)
	id := l.create("catter", container.Config{Cmd: []string{"sh", "-c", "echo before; cat; echo after"}, OpenStdin: true, StdinOnce: true, AttachStdin: true}, nil)
	resp, err := l.client.ContainerAttach(labCtx(t), id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	require.NoError(t, err)
	defer resp.Close()
	_, err = l.client.ContainerStart(labCtx(t), id, client.ContainerStartOptions{})
	require.NoError(t, err)
	_, err = resp.Conn.Write([]byte("one\ntwo\n"))
	require.NoError(t, err)
	require.NoError(t, resp.CloseWrite())
	var o, e bytes.Buffer
	_, err = stdcopy.StdCopy(&o, &e, resp.Reader)
	require.NoError(t, err)
	assert.Equal(t, "before\none\ntwo\nafter\n", o.String())
	assert.Equal(t, int64(0), l.wait(id))

	// The docker CLI's attach to a running container: its output from
	// now on.
	l.ok("run", "-d", "--name", "counter", "busybox", "sh", "-c", "echo early; sleep 0.5; for i in 1 2 3; do echo n$i; done")
	time.Sleep(200 * time.Millisecond)
	out, _, code := l.docker("", "attach", "counter")
	assert.Equal(t, 0, code)
	assert.Equal(t, "n1\nn2\nn3\n", out, "what came after the attach, not before")
}

// Lines come through attach as the container writes them, not at its
// end.
func TestAttachStreamsLive(t *testing.T) {
	l := newLab(t)
	id := l.create("live", container.Config{Cmd: []string{"sh", "-c", "echo first; read x; echo second"}, OpenStdin: true, AttachStdin: true, StdinOnce: true}, nil)
	resp, err := l.client.ContainerAttach(labCtx(t), id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true})
	require.NoError(t, err)
	defer resp.Close()
	_, err = l.client.ContainerStart(labCtx(t), id, client.ContainerStartOptions{})
	require.NoError(t, err)
	pr, pw := io.Pipe()
	go func() { _, _ = stdcopy.StdCopy(pw, io.Discard, resp.Reader); pw.Close() }()
	lines := bufio.NewReader(pr)
	first, err := lines.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "first\n", first, "before the container waits for input")
	_, err = resp.Conn.Write([]byte("go\n"))
	require.NoError(t, err)
	second, err := lines.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "second\n", second)
	rest, _ := io.ReadAll(lines)
	assert.Empty(t, strings.TrimSpace(string(rest)))
}
