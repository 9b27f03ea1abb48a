package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// berth run --restart and berth update --restart against the fake
// engine: the policy reaches the engine as docker 28 sends it, and the
// refusals are docker's.
func TestRestartFlagAndUpdate(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "create", "--name", "u1", "--restart", "on-failure:3", "busybox", "true")
	assert.Equal(t, "on-failure 3\n", e.ok(t, "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}", "u1"))
	e.ok(t, "create", "--name", "u2", "busybox", "true")
	assert.Equal(t, "no\n", e.ok(t, "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", "u2"), "docker's default")

	assert.Equal(t, "u1\nu2\n", e.ok(t, "update", "--restart", "always", "u1", "u2"))
	assert.Equal(t, "always\n", e.ok(t, "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", "u2"))
	assert.Equal(t, "u1\n", e.ok(t, "container", "update", "--restart", "unless-stopped", "u1"), "also as docker container update")

	for _, tc := range []struct {
		args    []string
		errLine string
	}{
		{[]string{"run", "--rm", "--restart", "always", "busybox", "true"}, "conflicting options: cannot specify both --restart and --rm"},
		{[]string{"create", "--restart", "on-failure:x", "busybox"}, "invalid restart policy format: maximum retry count must be an integer"},
		{[]string{"update", "u1"}, "you must provide one or more flags when using this command"},
		{[]string{"update", "--restart", "always:2", "u1"}, "maximum retry count can only be used with 'on-failure'"},
		{[]string{"update", "--restart", "always", "nothere"}, "No such container: nothere"},
	} {
		_, errOut, code := e.berth(t, "", tc.args...)
		assert.NotEqual(t, 0, code, tc.args)
		assert.Contains(t, errOut, tc.errLine, tc.args)
	}
}

// berth against berthd: on-failure:2 ends with two restarts, and
// update changes the policy of a running container.
func TestRestartOnBerthd(t *testing.T) {
	e := newBerthd(t)
	e.ok(t, "run", "-d", "--name", "of", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3")
	require.Eventually(t, func() bool {
		out, _, _ := e.berth(t, "", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", "of")
		return strings.TrimSpace(out) == "exited 3 2"
	}, time.Minute, 20*time.Millisecond)

	e.ok(t, "run", "-d", "--name", "up", "busybox", "sh", "-c", "while [ ! -f /go ]; do sleep 0.05; done; exit 1")
	assert.Equal(t, "up\n", e.ok(t, "update", "--restart", "on-failure:1", "up"))
	e.ok(t, "exec", "up", "touch", "/go")
	require.Eventually(t, func() bool {
		out, _, _ := e.berth(t, "", "inspect", "--format", "{{.State.Status}} {{.RestartCount}}", "up")
		return strings.TrimSpace(out) == "exited 1"
	}, time.Minute, 20*time.Millisecond)
}

// berth against berthd: the weights at run and through update, and a
// container sharing another's PID namespace.
func TestWeightsAndPidOnBerthd(t *testing.T) {
	e := newBerthd(t)
	e.ok(t, "run", "-d", "--name", "wt", "--cpu-shares", "512", "--ipc", "shareable", "busybox", "sleep", "1000")
	assert.Equal(t, "wt\n", e.ok(t, "update", "--cpu-shares", "256", "--memory-reservation", "32m", "--cpuset-cpus", "0", "wt"))
	assert.Equal(t, "256 33554432 0 shareable\n", e.ok(t, "inspect", "--format", "{{.HostConfig.CpuShares}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CpusetCpus}} {{.HostConfig.IpcMode}}", "wt"))
	assert.Equal(t, "COMMAND\nsleep\nps\n", e.ok(t, "run", "--rm", "--pid", "container:wt", "--ipc", "container:wt", "busybox", "ps", "-o", "comm"))
	e.ok(t, "rm", "-f", "wt")
}
