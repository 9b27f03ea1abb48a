package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// TestSameAsDockerd_RestartPolicies runs the same docker CLI steps
// against berthd and a private dockerd 20.10 (--network none
// everywhere) and compares the final states, restart counts and
// refusals:
//
//   - on-failure:2 with a command that fails: two restarts, exited 3;
//   - always until docker stop: exited, not restarting, stays so;
//   - docker update --restart on a running container, applied at its
//     exit;
//   - the refusals of create and update;
//   - a daemon restart: running always and unless-stopped containers
//     come back (dockerd stops them at its shutdown and starts them;
//     berthd's run on under their shims), a stopped "always" is started,
//     a stopped unless-stopped is not, an on-failure container killed
//     by docker kill is started (its status, 137, is a failure), one
//     without a policy is not.
//
// Timings differ (and are the engines'): each state is polled for, with
// a generous limit, and only states that do not depend on them are
// compared.
func TestSameAsDockerd_RestartPolicies(t *testing.T) {
	l := newLab(t)
	d := labtest.StartDockerd(t)
	engines := sideBySide(t, l, d)
	restarts := map[string]func(){"berthd": l.restart, "dockerd": func() { d.Restart(t) }}
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		state := func(name string) string {
			return stateOf(e.run, name)
		}
		poll := func(name, want string) string {
			var last string
			ok := assert.Eventually(t, func() bool {
				last = state(name)
				return last == want
			}, restartLimit, 20*time.Millisecond, "%s: %s: want %q", e.name, name, want)
			if !ok {
				return name + ": " + last
			}
			return name + ": " + want
		}
		var got []string

		must("run", "-d", "--network", "none", "--name", "rs-of2", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3")
		got = append(got, poll("rs-of2", "exited 3 2"))

		must("run", "-d", "--network", "none", "--name", "rs-alw", "--restart", "always", "busybox", "true")
		require.Eventually(t, func() bool { return restartCount(e.run, "rs-alw") >= 2 }, restartLimit, 20*time.Millisecond, e.name)
		must("stop", "rs-alw")
		got = append(got, "rs-alw after stop: "+strings.TrimSpace(must("inspect", "-f", "{{.State.Status}} {{.State.Restarting}} {{.State.ExitCode}}", "rs-alw")))

		must("run", "-d", "--network", "none", "--name", "rs-upd", "busybox", "sh", "-c", "while [ ! -f /go ]; do sleep 0.05; done; exit 1")
		got = append(got, "update: "+must("update", "--restart", "on-failure:1", "rs-upd"))
		got = append(got, must("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "rs-upd"))
		must("exec", "rs-upd", "touch", "/go")
		got = append(got, poll("rs-upd", "exited 1 1"))

		for _, args := range [][]string{
			{"create", "--network", "none", "--restart", "on-failure:-1", "busybox", "true"},
			{"create", "--network", "none", "--restart", "always:2", "busybox", "true"},
			{"create", "--network", "none", "--restart", "sometimes", "busybox", "true"},
			{"run", "--network", "none", "--rm", "--restart", "always", "busybox", "true"},
			{"update", "--restart", "on-failure:-1", "rs-upd"},
		} {
			_, err := e.run(args...)
			got = append(got, fmt.Sprintf("%s: %s", strings.Join(args, " "), restartRefusal(err)))
		}

		// Across a restart of the daemon. The shells end at SIGTERM,
		// so that dockerd's shutdown is quick.
		loop := []string{"busybox", "sh", "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done"}
		for _, c := range []struct{ name, policy string }{
			{"rs-always-up", "always"}, {"rs-unless-up", "unless-stopped"},
			{"rs-always-stopped", "always"}, {"rs-unless-stopped", "unless-stopped"},
			{"rs-onfail-killed", "on-failure:2"}, {"rs-no-killed", "no"},
		} {
			must(append([]string{"run", "-d", "--network", "none", "--name", c.name, "--restart", c.policy}, loop...)...)
			// Its trap is set (a SIGTERM before would be ignored by a PID 1).
			require.Eventually(t, func() bool {
				out, _ := e.run("logs", c.name)
				return out == "ready\n"
			}, restartLimit, 20*time.Millisecond, "%s: %s", e.name, c.name)
		}
		must("stop", "rs-always-stopped", "rs-unless-stopped")
		must("kill", "rs-onfail-killed", "rs-no-killed")
		for _, n := range []string{"rs-always-stopped", "rs-unless-stopped", "rs-onfail-killed", "rs-no-killed"} {
			waitStatus(t, e.run, n, "exited")
		}
		restarts[e.name]()
		for _, n := range []string{"rs-always-up", "rs-unless-up", "rs-always-stopped", "rs-unless-stopped", "rs-onfail-killed", "rs-no-killed"} {
			got = append(got, n+" after the daemon's restart: "+strings.TrimSpace(must("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", n)))
		}
		// Still so a moment later: nothing restarts what stays stopped.
		time.Sleep(time.Second)
		got = append(got, must("ps", "-a", "--filter", "name=rs-", "--filter", "status=exited", "--format", "{{.Names}}"))

		ids := strings.Fields(must("ps", "-aq"))
		must(append([]string{"rm", "-f"}, ids...)...)
		results[e.name] = got
	}
	t.Logf("berthd:\n%s", strings.Join(results["berthd"], "\n"))
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// restartRefusal is what the docker CLI printed for a refused command,
// reduced to what both engines say: dockerd 20.10's messages are older
// than the API module's that berthd uses ("maximum retry count cannot
// be used with restart policy 'always'" there, "can only be used with
// 'on-failure'" here), so the refusal's subject is kept.
func restartRefusal(err error) string {
	if err == nil {
		return "accepted"
	}
	msg := refusal(err)
	for _, words := range []string{"cannot be negative", "maximum retry count", "invalid restart policy", "conflicting options"} {
		if strings.Contains(msg, words) {
			return "refused: " + words
		}
	}
	return "refused: " + msg
}
