package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/final/ociruntime"
)

// TestOtherCommands drives exec, ps, pause, resume, update and events
// through the command line, as containerd's shim calls them, on a
// container made by create and start.
func TestOtherCommands(t *testing.T) {
	c := newCLI(t)
	id := labtest.Unique("cmds")
	out, status := c.runCmd(c.command("create", "--bundle", c.bundle(id, "sleep", "1000"), id))
	require.Equal(t, 0, status, out)
	out, status = c.run("start", id)
	require.Equal(t, 0, status, out)
	initPid := c.state(id).Pid

	// exec in the foreground: its output, its status.
	out, status = c.run("exec", id, "sh", "-c", "echo in the container; exit 5")
	assert.Equal(t, 5, status)
	assert.Equal(t, "in the container\n", out)
	out, status = c.run("exec", "-u", "1000:1001", "--cwd", "/tmp", "-e", "A=b", id, "sh", "-c", `echo "$A $(id -u):$(id -g) $(pwd)"`)
	assert.Equal(t, 0, status, out)
	assert.Equal(t, "b 1000:1001 /tmp\n", out)

	// exec as the shim does it: --process, --detach, --pid-file.
	dir := t.TempDir()
	proc, pidFile := filepath.Join(dir, "process.json"), filepath.Join(dir, "exec.pid")
	require.NoError(t, os.WriteFile(proc, []byte(`{"args":["sleep","999"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}`), 0o644))
	out, status = c.runCmd(c.command("exec", "--process", proc, "--detach", "--pid-file", pidFile, id))
	require.Equal(t, 0, status, out)
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	execPid, err := strconv.Atoi(string(b))
	require.NoError(t, err)

	// ps --format json: the cgroup's processes, the exec's included.
	out, status = c.run("ps", "--format", "json", id)
	require.Equal(t, 0, status, out)
	var pids []int
	require.NoError(t, json.Unmarshal([]byte(out), &pids), out)
	assert.True(t, slices.Contains(pids, initPid) && slices.Contains(pids, execPid), "%v has %d and %d", pids, initPid, execPid)
	out, status = c.run("ps", id)
	require.Equal(t, 0, status, out)
	assert.Contains(t, out, "sleep 999")

	// pause and resume.
	out, status = c.run("pause", id)
	require.Equal(t, 0, status, out)
	assert.Equal(t, ociruntime.Paused, c.state(id).Status)
	out, status = c.run("exec", id, "true")
	assert.Equal(t, 1, status)
	assert.Contains(t, out, "is paused")
	out, status = c.run("resume", id)
	require.Equal(t, 0, status, out)
	assert.Equal(t, ociruntime.Running, c.state(id).Status)
	out, status = c.run("resume", id)
	assert.Equal(t, 1, status)
	assert.Contains(t, out, "not paused")

	// update, and the stats that show it.
	out, status = c.run("update", "--memory", "64m", "--pids-limit", "40", id)
	require.Equal(t, 0, status, out)
	out, status = c.run("events", "--stats", id)
	require.Equal(t, 0, status, out)
	var ev struct {
		Type, ID string
		Data     ociruntime.Stats
	}
	require.NoError(t, json.Unmarshal([]byte(out), &ev), out)
	assert.Equal(t, "stats", ev.Type)
	assert.Equal(t, id, ev.ID)
	assert.Equal(t, uint64(64<<20), ev.Data.Memory.Usage.Limit)
	assert.Equal(t, uint64(40), ev.Data.Pids.Limit)
	assert.Equal(t, uint64(2), ev.Data.Pids.Current)

	// What berth does not apply is refused by name.
	for _, args := range [][]string{
		{"exec", "--apparmor", "x", id, "true"},
		{"exec", "--process-label", "x", id, "true"},
		{"exec", "--preserve-fds", "1", id, "true"},
		{"exec", "--cgroup", "sub", id, "true"},
		{"exec", "--process", proc, id, "true"},
		{"update", "--kernel-memory", "1m", id},
		{"ps", "--format", "json", id, "-ef"},
	} {
		out, status := c.run(args...)
		assert.Equal(t, 1, status, "%v: %s", args, out)
		assert.Contains(t, out, "berth-runtime: ", "%v", args)
	}

	out, status = c.run("kill", id, "KILL")
	require.Equal(t, 0, status, out)
	require.NoError(t, labtest.ProcessGone(initPid))
	out, status = c.run("exec", id, "true")
	assert.Equal(t, 1, status)
	assert.Contains(t, out, "not running")
	out, status = c.run("delete", id)
	require.Equal(t, 0, status, out)
}

// TestSpecAndFeatures: spec writes runc's default once; features is the
// runtime spec's JSON.
func TestSpecAndFeatures(t *testing.T) {
	c := &cli{t: t, root: t.TempDir()}
	dir := t.TempDir()
	out, status := c.run("spec", "--bundle", dir)
	require.Equal(t, 0, status, out)
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"sh"`)
	out, status = c.run("spec", "-b", dir)
	assert.Equal(t, 1, status)
	assert.Contains(t, out, "exists")

	out, status = c.run("features")
	require.Equal(t, 0, status, out)
	var f map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &f), out)
	assert.Equal(t, "1.0.0", f["ociVersionMin"])
	assert.True(t, strings.Contains(out, `"SCMP_ACT_ERRNO"`))
}
