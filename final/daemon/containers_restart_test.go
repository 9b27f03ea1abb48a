package daemon

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// Restart policies through the docker CLI, as users use them. Every
// wait is a poll of inspect with generous limits: the back-off makes
// the timing the engine's, and the tests assume none.

// restartLimit bounds a poll: the back-off of a few restarts (100 ms,
// 200 ms, 400 ms...) plus starts on a loaded machine.
const restartLimit = 60 * time.Second

// stateOf is "status exitcode restartcount" of a container, from docker
// inspect.
func stateOf(run func(args ...string) (string, error), name string) string {
	out, err := run("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", name)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(out)
}

// waitState polls until the container's state is want.
func waitState(t *testing.T, run func(args ...string) (string, error), name, want string) {
	t.Helper()
	var last string
	require.Eventually(t, func() bool {
		last = stateOf(run, name)
		return last == want
	}, restartLimit, 20*time.Millisecond, "%s: want %q, last seen %q", name, want, func() string { return last }())
}

// waitStatus polls until the container's status is want.
func waitStatus(t *testing.T, run func(args ...string) (string, error), name, want string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return strings.HasPrefix(stateOf(run, name), want+" ")
	}, restartLimit, 20*time.Millisecond, "%s: want %s", name, want)
}

// restartCount is a container's RestartCount, -1 if inspect fails.
func restartCount(run func(args ...string) (string, error), name string) int {
	out, err := run("inspect", "-f", "{{.RestartCount}}", name)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return -1
	}
	return n
}

// try is the lab's docker CLI for polls: no require (a poll runs in a
// goroutine of its own), a failure is an error.
func (l *lab) try(args ...string) (string, error) {
	out, errOut, code := l.docker("", args...)
	if code != 0 {
		return out, errors.New(errOut)
	}
	return out, nil
}

func TestRestartOnFailure(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "of2", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3")
	waitState(t, l.try, "of2", "exited 3 2")
	out, _ := l.logs("of2")
	assert.Equal(t, "run\nrun\nrun\n", out, "the first run and two restarts")
	assert.Equal(t, "on-failure 2", strings.TrimSpace(l.ok("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}", "of2")))

	// Success is not a failure: no restart.
	l.ok("run", "-d", "--name", "of-ok", "--restart", "on-failure", "busybox", "true")
	waitState(t, l.try, "of-ok", "exited 0 0")

	// docker start begins a new series: the count back to 0, then 2,
	// three more runs.
	l.ok("start", "of2")
	require.Eventually(t, func() bool {
		out, _ := l.try("logs", "of2")
		return out == strings.Repeat("run\n", 6)
	}, restartLimit, 20*time.Millisecond)
	waitState(t, l.try, "of2", "exited 3 2")
}

func TestRestartAlwaysUntilStop(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "alw", "--restart", "always", "busybox", "true")
	require.Eventually(t, func() bool { return restartCount(l.try, "alw") >= 3 }, restartLimit, 20*time.Millisecond)
	// docker stop, whether it finds the container running or waiting
	// for its next start, ends the restarts.
	l.ok("stop", "alw")
	st := l.inspect("alw")
	assert.Equal(t, "exited", string(st.State.Status))
	assert.False(t, st.State.Restarting)
	n := st.RestartCount
	// No restart comes later either (longer than the back-off so far).
	time.Sleep(2 * time.Second)
	assert.Equal(t, "exited", stateOf(l.try, "alw")[:6])
	assert.Equal(t, n, restartCount(l.try, "alw"), "stopped: no more restarts")
}

// A container waiting for its restart shows so in ps and inspect, can be
// removed with -f only, and docker kill cancels the restart.
func TestRestartingState(t *testing.T) {
	l := newLab(t)
	// Fails at once, for ever: the back-off grows to seconds, so that
	// the container spends most of its time restarting.
	l.ok("run", "-d", "--name", "flap", "--restart", "always", "busybox", "sh", "-c", "exit 4")
	require.Eventually(t, func() bool {
		out, _ := l.try("ps", "-a", "--filter", "name=flap", "--format", "{{.Status}}|{{.State}}")
		return strings.HasPrefix(out, "Restarting (4) ") && strings.HasSuffix(strings.TrimSpace(out), "|restarting")
	}, restartLimit, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		st, err := l.client.ContainerInspect(labCtx(t), "flap", client.ContainerInspectOptions{})
		return err == nil && st.Container.State.Restarting && st.Container.State.Running && st.Container.State.Status == "restarting" && st.Container.State.ExitCode == 4 && st.Container.State.Pid == 0
	}, restartLimit, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		out, _ := l.try("ps", "-a", "--filter", "status=restarting", "--format", "{{.Names}}")
		return out == "flap\n"
	}, restartLimit, 20*time.Millisecond)
	// Listed without -a too: it counts as running, as in dockerd.
	require.Eventually(t, func() bool {
		out, _ := l.try("ps", "--format", "{{.Names}} {{.State}}")
		return out == "flap restarting\n"
	}, restartLimit, 20*time.Millisecond)
	// docker wait waits for the end of its next run, as for a running
	// container.
	assert.Equal(t, "4\n", l.ok("wait", "flap"))
	// What needs a running container says it is restarting, as dockerd.
	require.Eventually(t, func() bool {
		_, errOut, code := l.docker("", "exec", "flap", "true")
		return code != 0 && strings.Contains(errOut, "is restarting, wait until the container is running")
	}, restartLimit, 20*time.Millisecond)

	// Remove it while restarting: refused without -f, done with -f.
	require.Eventually(t, func() bool {
		_, errOut, code := l.docker("", "rm", "flap")
		return code != 0 && strings.Contains(errOut, "You cannot remove a restarting container")
	}, restartLimit, 20*time.Millisecond)
	l.ok("rm", "-f", "flap")
	_, _, code := l.docker("", "inspect", "flap")
	assert.NotEqual(t, 0, code)

	// docker kill stops the restarts too.
	l.ok("run", "-d", "--name", "flap2", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 5")
	require.Eventually(t, func() bool { return restartCount(l.try, "flap2") >= 1 }, restartLimit, 20*time.Millisecond)
	_, _, _ = l.docker("", "kill", "flap2") // it may be between runs: no error then either
	waitStatus(t, l.try, "flap2", "exited")
	n := restartCount(l.try, "flap2")
	time.Sleep(time.Second) // longer than its back-off so far
	assert.Equal(t, "exited", string(l.inspect("flap2").State.Status))
	assert.Equal(t, n, restartCount(l.try, "flap2"), "killed: no more restarts")
}

// docker update --restart changes the policy of a running container,
// which applies at its next exit.
func TestRestartUpdate(t *testing.T) {
	l := newLab(t)
	// Runs until /go exists, then fails.
	l.ok("run", "-d", "--name", "upd", "busybox", "sh", "-c", "while [ ! -f /go ]; do sleep 0.05; done; exit 1")
	assert.Equal(t, "upd\n", l.ok("update", "--restart", "on-failure:1", "upd"))
	assert.Equal(t, "on-failure:1", strings.TrimSpace(l.ok("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "upd")))
	l.ok("exec", "upd", "touch", "/go")
	// One restart (the file is still there: it fails again at once).
	waitState(t, l.try, "upd", "exited 1 1")

	// A limit out of range is refused, in dockerd's words.
	_, errOut, code := l.docker("", "update", "--blkio-weight", "5", "upd")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "Range of blkio weight is from 10 to 1000")
	_, errOut, code = l.docker("", "update", "--restart", "always:3", "upd")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "maximum retry count")
	// --rm and a policy.
	l.ok("create", "--name", "rm1", "--rm", "busybox", "true")
	_, errOut, code = l.docker("", "update", "--restart", "always", "rm1")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "Restart policy cannot be updated because AutoRemove is enabled for the container")
}

// The create checks, with dockerd's words.
func TestRestartPolicyRefused(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--restart", "on-failure:-1"}, "maximum retry count cannot be negative"},
		{[]string{"--restart", "always:2"}, "maximum retry count can only be used with 'on-failure'"},
		{[]string{"--restart", "sometimes"}, "sometimes"},
	} {
		_, errOut, code := l.docker("", append(append([]string{"create"}, tc.args...), "busybox", "true")...)
		assert.NotEqual(t, 0, code, "%v", tc.args)
		assert.Contains(t, errOut, tc.want, "%v", tc.args)
	}
	_, errOut, code := l.docker("", "run", "--rm", "--restart", "always", "busybox", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "--restart")
}

// When berthd starts: containers that ran on under their shims run on;
// a stopped "always" container is started; a stopped unless-stopped one
// is not.
func TestRestartPoliciesAcrossADaemonRestart(t *testing.T) {
	l := newLab(t)
	for _, p := range []string{"always", "unless-stopped"} {
		l.ok("run", "-d", "--name", p+"-up", "--restart", p, "busybox", "sleep", "1000")
		l.ok("run", "-d", "--name", p+"-stopped", "--restart", p, "busybox", "sleep", "1000")
		l.ok("stop", "-t", "0", p+"-stopped")
	}
	l.restart()
	for name, want := range map[string]string{
		"always-up":              "running",
		"unless-stopped-up":      "running",
		"always-stopped":         "running",
		"unless-stopped-stopped": "exited",
	} {
		assert.Equal(t, want, string(l.inspect(name).State.Status), name)
		assert.Equal(t, 0, l.inspect(name).RestartCount, name)
	}
}

// After a crash: the containers exit while no daemon runs (their shims
// record the exits); the next berthd starts those whose policy says so.
func TestRestartPoliciesAfterACrash(t *testing.T) {
	l := newLab(t)
	names := []string{"p-always", "p-unless", "p-onfail", "p-no", "p-onfail-ok"}
	l.ok("run", "-d", "--name", "p-always", "--restart", "always", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "p-unless", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "p-onfail", "--restart", "on-failure:3", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "p-no", "busybox", "sleep", "1000")
	l.ok("run", "-d", "--name", "p-onfail-ok", "--restart", "on-failure", "busybox", "sh", "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done")
	// Its trap is set (a SIGTERM before would be ignored by a PID 1).
	require.Eventually(t, func() bool {
		out, _ := l.try("logs", "p-onfail-ok")
		return out == "ready\n"
	}, restartLimit, 20*time.Millisecond)
	var pids []int
	for _, n := range names {
		pids = append(pids, l.state(n).Pid)
	}
	l.stop()
	l.d = nil // if the test stops here, the clean-up starts a daemon
	// The containers end while no daemon runs.
	for i, pid := range pids {
		sig := syscall.SIGKILL
		if names[i] == "p-onfail-ok" {
			sig = syscall.SIGTERM
		}
		assert.NoError(t, syscall.Kill(pid, sig), names[i])
	}
	for i, pid := range pids {
		assert.NoError(t, labtest.ProcessGone(pid), "%s (pid %d)", names[i], pid)
	}
	l.start()
	// A shim may still be recording its container's exit when the
	// daemon starts: the daemon then sees the exit itself, and the
	// policy restarts the container after its back-off, as any exit.
	for name, want := range map[string]string{
		"p-always":    "running",
		"p-unless":    "running",
		"p-onfail":    "running",
		"p-no":        "exited",
		"p-onfail-ok": "exited",
	} {
		waitStatus(t, l.try, name, want)
	}
	time.Sleep(time.Second) // what stays exited does so
	assert.Equal(t, "exited", string(l.inspect("p-no").State.Status))
	assert.Equal(t, "exited", string(l.inspect("p-onfail-ok").State.Status))
}

// At the daemon's start, a container that links to another one or joins
// its network namespace is started after it, as dockerd's restore waits
// for a linker's targets: in any other order its start would find the
// target down (a link's hosts line needs the target's address; a join
// needs its namespace). Several linkers, all newer than the target,
// make an unordered start very unlikely to get it right.
func TestLinkersStartAfterTheirTargetsAtBoot(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "boot-db", "--restart", "always", "busybox", "sleep", "1000")
	linkers := []string{"boot-app1", "boot-app2", "boot-app3", "boot-app4"}
	for _, n := range linkers {
		l.ok("run", "-d", "--name", n, "--restart", "always", "--link", "boot-db:database", "busybox", "sleep", "1000")
	}
	l.ok("run", "-d", "--name", "boot-joiner", "--restart", "always", "--network", "container:boot-db", "busybox", "sleep", "1000")
	for _, n := range append(append([]string{"boot-joiner"}, linkers...), "boot-db") {
		l.ok("stop", "-t", "0", n)
	}
	l.restart()
	db := l.inspect("boot-db")
	require.Equal(t, "running", string(db.State.Status))
	ip := db.NetworkSettings.Networks["bridge"].IPAddress.String()
	for _, n := range linkers {
		require.Equal(t, "running", string(l.inspect(n).State.Status), n)
		assert.Contains(t, l.ok("exec", n, "cat", "/etc/hosts"), ip+"\tdatabase "+db.Config.Hostname+" boot-db\n", n)
	}
	joiner := l.inspect("boot-joiner")
	require.Equal(t, "running", string(joiner.State.Status), "%s", joiner.State.Error)
	// The joiner is in the target's network namespace: the same address.
	assert.Contains(t, l.ok("exec", "boot-joiner", "ip", "-4", "addr", "show", "eth0"), "inet "+ip+"/")
}
