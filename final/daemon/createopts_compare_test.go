package daemon

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSameAsDockerd_ComposeCreateOptions checks, against berthd and a
// private dockerd, create options Compose files use that an earlier
// change made berthd apply: --stop-signal and --stop-timeout (inspect,
// and the signal a stop sends), --log-opt max-size/max-file (the log
// is rotated: what logs returns is bounded), --env-file and
// --label-file (read by the docker CLI), --init (an init as PID 1).
func TestSameAsDockerd_ComposeCreateOptions(t *testing.T) {
	dir := t.TempDir()
	envFile, labelFile := filepath.Join(dir, "env"), filepath.Join(dir, "labels")
	require.NoError(t, os.WriteFile(envFile, []byte("# c\nFROM_FILE=1\nB=x y\n"), 0o644))
	require.NoError(t, os.WriteFile(labelFile, []byte("tier=db\nteam\n"), 0o644))
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		must("create", "--name", "co-opts", "--stop-signal", "SIGUSR1", "--stop-timeout", "7", "--label-file", labelFile, "-l", "team=core", "busybox", "true")
		got = append(got, must("inspect", "-f", "{{.Config.StopSignal}} {{.Config.StopTimeout}} {{json .Config.Labels}}", "co-opts"))
		got = append(got, must("run", "--rm", "--env-file", envFile, "busybox", "sh", "-c", "echo $FROM_FILE; echo \"$B\""))

		// docker stop sends the stop signal, which the command traps.
		must("run", "-d", "--name", "co-sig", "--stop-signal", "SIGUSR1", "busybox", "sh", "-c", "trap 'echo got USR1; exit 3' USR1; echo ready; while :; do sleep 0.05; done")
		waitLog(t, e, "co-sig", "ready")
		must("stop", "co-sig")
		got = append(got, must("inspect", "-f", "{{.State.ExitCode}}", "co-sig"))
		got = append(got, must("logs", "co-sig"))

		// 20 KiB through a log of at most 2 files of 1 KiB.
		must("run", "--name", "co-log", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
			"i=0; while [ $i -lt 400 ]; do echo line-$i-0123456789abcdef0123456789abcdef; i=$((i+1)); done")
		logs := must("logs", "co-log")
		got = append(got, "bounded: "+strconv.FormatBool(len(logs) < 4096), "last line kept: "+strconv.FormatBool(strings.HasSuffix(logs, "line-399-0123456789abcdef0123456789abcdef\n")))

		got = append(got, must("run", "--rm", "--init", "busybox", "sh", "-c", "test $$ -ne 1 && echo not PID 1"))
		must("rm", "-f", "co-opts", "co-sig", "co-log")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// waitLog waits until name's log holds want: the container says it is
// ready, so nothing here depends on timing.
func waitLog(t *testing.T, e engine, name, want string) {
	t.Helper()
	for {
		out, err := e.run("logs", name)
		require.NoError(t, err)
		if strings.Contains(out, want) {
			return
		}
		out, err = e.run("inspect", "-f", "{{.State.Running}}", name)
		require.NoError(t, err)
		require.Equal(t, "true\n", out, "%s exited before saying %q", name, want)
	}
}
