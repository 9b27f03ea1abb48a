package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestPgrep(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	pids, err := pgrep([]string{"^sle+p$"})
	require.NoError(t, err)
	assert.Contains(t, pids, cmd.Process.Pid)
	pids, err = pgrep([]string{"^no-such-process-name$"})
	require.NoError(t, err)
	assert.Empty(t, pids)

	for _, args := range [][]string{nil, {"-f", "x"}, {"a", "b"}} {
		_, err := pgrep(args)
		assert.ErrorContains(t, err, "only `pgrep PATTERN`", "%q", args)
	}
}

// TestIpcs: a segment made here is listed by its id, in the IPC
// namespace the test runs in.
func TestIpcs(t *testing.T) {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })

	var out bytes.Buffer
	require.NoError(t, ipcs(&out, []string{"-m"}))
	assert.Contains(t, out.String(), "Shared Memory Segments")
	found := false
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[1] == itoa(id) {
			found = true
			assert.Equal(t, "600", f[3], line)
			assert.Equal(t, "4096", f[4], line)
			assert.Equal(t, itoa(os.Getuid()), f[2], line)
		}
	}
	assert.True(t, found, "segment %d not in:\n%s", id, out.String())
	assert.ErrorContains(t, ipcs(&out, []string{"-q"}), "only `ipcs -m`")
}

func itoa(n int) string { return strconv.Itoa(n) }
