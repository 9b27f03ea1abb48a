package namespace

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestLookPathSearchesTheContainersPath(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	require.NoError(t, os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755))
	plain := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(plain, []byte("data"), 0o644))

	got, err := LookPath("tool", "/nonexistent:"+dir)
	require.NoError(t, err)
	assert.Equal(t, tool, got)

	_, err = LookPath("missing", dir)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, ExitNotFound, exitStatusFor(err))

	_, err = LookPath("plain", dir)
	assert.ErrorIs(t, err, ErrNotExecutable)
	assert.Equal(t, ExitCannotInvoke, exitStatusFor(err))

	_, err = LookPath(filepath.Join(dir, "nope"), "")
	assert.Equal(t, ExitNotFound, exitStatusFor(err))

	_, err = LookPath(dir, "")
	assert.ErrorIs(t, err, ErrNotExecutable, "a directory cannot be executed")
}

func TestPathOfUsesTheLastPATHOrDockersDefault(t *testing.T) {
	assert.Equal(t, DefaultPath, pathOf(nil))
	assert.Equal(t, "/b", pathOf([]string{"PATH=/a", "HOME=/", "PATH=/b"}))
}

func TestExitCodeIs128PlusTheSignal(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "kill -TERM $$")
	_ = cmd.Run()
	assert.Equal(t, 143, ExitCode(cmd.ProcessState))
	cmd = exec.Command("/bin/sh", "-c", "exit 7")
	_ = cmd.Run()
	assert.Equal(t, 7, ExitCode(cmd.ProcessState))
	assert.Equal(t, -1, ExitCode(nil))
}

func TestIDsLookLikeDockers(t *testing.T) {
	id := NewID()
	assert.Regexp(t, `^[0-9a-f]{64}$`, id)
	assert.NotEqual(t, id, NewID())
	assert.Equal(t, id[:12], ShortID(id))
	assert.Equal(t, "abc", ShortID("abc"))
}

func TestConfigChoosesNamespaces(t *testing.T) {
	all := Config{UserNS: true}
	host := Config{HostNetwork: true}
	assert.NotZero(t, all.cloneFlags()&0x10000000, "CLONE_NEWUSER")
	assert.NotZero(t, all.cloneFlags()&0x40000000, "CLONE_NEWNET")
	assert.Zero(t, host.cloneFlags()&0x40000000, "host network keeps the host's namespace")
	join := Config{JoinNetns: "/proc/1/ns/net"}
	assert.Zero(t, join.cloneFlags()&0x40000000, "a joined network namespace is not a new one")
	assert.NotEqual(t, keyOf(join), keyOf(host), "a prestarted init in the host's network does not fit")
	join.HostNetwork = true
	assert.ErrorContains(t, join.Validate(), "cannot be joined with the host's network")
	pid := Config{JoinPidns: "/proc/1/ns/pid", JoinIpcns: "/proc/1/ns/ipc"}
	assert.Zero(t, pid.cloneFlags()&(unix.CLONE_NEWPID|unix.CLONE_NEWIPC), "joined PID and IPC namespaces are not new ones")
	assert.NotEqual(t, keyOf(pid), keyOf(Config{HostPID: true, HostIPC: true}), "a prestarted init elsewhere does not fit")
	assert.Len(t, pid.joins(), 2)
	assert.Equal(t, DefaultIDBase, idMappings(all.UIDRange())[0].HostID)
	sub := Config{UserNS: true, UIDs: IDRange{Base: 231072, Size: 65536}, GIDs: IDRange{Base: 300000, Size: 1000}}
	assert.Equal(t, IDRange{Base: 231072, Size: 65536}, sub.UIDRange(), "a subordinate range replaces IDBase")
	assert.Equal(t, IDRange{Base: 300000, Size: 1000}, sub.GIDRange(), "the gids have their own range")
	assert.NotEqual(t, keyOf(all), keyOf(sub), "a prestarted init with another mapping does not fit")
	assert.Error(t, (&Config{UIDs: IDRange{Base: -1, Size: 1}}).Validate())
	assert.Error(t, (&Config{Hostname: string(make([]byte, 65))}).Validate())
}
