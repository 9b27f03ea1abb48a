package daemon

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// S37: docker exec starts a new process in a running container: in its
// namespaces (its hostname, its processes, its files: the mount
// namespace too) and its cgroup; its exit code is the command's.
func TestS37_ExecEntersTheContainer(t *testing.T) {
	l := newLab(t)
	id := strings.TrimSpace(l.ok("run", "-d", "--name", "box", "--hostname", "inside", "-e", "FROM_RUN=1", "-w", "/tmp", "busybox",
		"sh", "-c", "echo made-by-the-container > /tmp/marker; sleep 1000"))
	eventually(t, func() bool { _, _, code := l.docker("", "exec", "box", "test", "-f", "/tmp/marker"); return code == 0 }, "the container wrote its marker")

	assert.Equal(t, "inside\n", l.ok("exec", "box", "hostname"), "its UTS namespace")
	assert.Equal(t, "made-by-the-container\n", l.ok("exec", "box", "cat", "/tmp/marker"), "its files: its mount namespace")
	ps := l.ok("exec", "box", "ps", "-o", "pid,args")
	assert.Regexp(t, `(?m)^\s+1 sleep 1000$`, ps, "its PID namespace: the container's command is PID 1")
	assert.NotContains(t, ps, "berth-shim")
	assert.Equal(t, "/tmp\n", l.ok("exec", "box", "pwd"), "the container's working directory")
	assert.Contains(t, l.ok("exec", "box", "env"), "FROM_RUN=1", "the container's environment")

	// Its cgroup: the host counts an exec'd process in the container's.
	ctx := labCtx(t)
	sleeper, err := l.client.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: []string{"sleep", "300"}})
	require.NoError(t, err)
	_, err = l.client.ExecStart(ctx, sleeper.ID, client.ExecStartOptions{Detach: true})
	require.NoError(t, err)
	info, err := l.client.ExecInspect(ctx, sleeper.ID, client.ExecInspectOptions{})
	require.NoError(t, err)
	cg, err := loadCgroup(l.opts.DataRoot, id)
	require.NoError(t, err)
	procs, err := cg.Procs()
	require.NoError(t, err)
	assert.Contains(t, procs, info.PID, "the exec's process is in the container's cgroup")
	assert.Contains(t, l.ok("top", "box"), "sleep 300", "and in its PID namespace")

	// Exit codes, -e, -w, -u.
	_, _, code := l.docker("", "exec", "box", "sh", "-c", "exit 5")
	assert.Equal(t, 5, code)
	_, errOut, code := l.docker("", "exec", "box", "no-such-command")
	assert.Equal(t, 127, code, errOut)
	assert.Equal(t, "hello\n", l.ok("exec", "-e", "GREETING=hello", "box", "sh", "-c", "echo $GREETING"))
	assert.Equal(t, "/etc\n", l.ok("exec", "-w", "/etc", "box", "pwd"))
	assert.Equal(t, "65534 65534\n", l.ok("exec", "-u", "nobody", "box", "sh", "-c", "echo $(id -u) $(id -g)"))
	assert.Equal(t, "1234 0\n", l.ok("exec", "-u", "1234", "box", "sh", "-c", "echo $(id -u) $(id -g)"))
	assert.Equal(t, "0\n", l.ok("exec", "box", "id", "-u"))

	// -i: stdin; -t: a terminal.
	out, errOut, code := l.docker("through stdin\n", "exec", "-i", "box", "cat")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "through stdin\n", out)
	out = l.ok("exec", "-t", "box", "sh", "-c", "tty; echo $TERM")
	assert.Regexp(t, `^/dev/pts/\d+\r\nxterm\r\n$`, out, "a terminal of its own, raw output: %q", out)

	// -d: started, not waited for.
	l.ok("exec", "-d", "box", "sh", "-c", "sleep 0.2; touch /tmp/from-detached")
	eventually(t, func() bool {
		_, _, code := l.docker("", "exec", "box", "test", "-f", "/tmp/from-detached")
		return code == 0
	}, "the detached exec ran")

	// A stopped container has no exec.
	l.ok("stop", "-t", "0", "box")
	_, errOut, code = l.docker("", "exec", "box", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "is not running")
}

// The exec API: inspect shows the exit code once the process is done,
// and the process's PID while it runs.
func TestS37_ExecInspect(t *testing.T) {
	l := newLab(t)
	id := l.run("execs", container.Config{Cmd: []string{"sleep", "1000"}}, nil)
	ctx := labCtx(t)
	created, err := l.client.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: []string{"sh", "-c", "sleep 0.3; exit 3"}})
	require.NoError(t, err)
	_, err = l.client.ExecStart(ctx, created.ID, client.ExecStartOptions{Detach: true})
	require.NoError(t, err)
	info, err := l.client.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	require.NoError(t, err)
	assert.True(t, info.Running)
	assert.Greater(t, info.PID, 0)
	assert.Equal(t, id, info.ContainerID)
	eventually(t, func() bool {
		info, err = l.client.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		return err == nil && !info.Running
	}, "the exec ends")
	assert.Equal(t, 3, info.ExitCode)
	_, err = l.client.ExecStart(ctx, created.ID, client.ExecStartOptions{Detach: true})
	assert.True(t, errdefs.IsConflict(err), "an exec runs once: %v", err)
	_, err = l.client.ExecInspect(ctx, "nosuch", client.ExecInspectOptions{})
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
	assert.Contains(t, l.inspect(id).ExecIDs, created.ID)
}
