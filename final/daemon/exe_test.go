package daemon

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileHash is the SHA-256 of the file at path.
func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(data)
}

// CVE-2019-5736: a container's root tries to overwrite the engine's
// binary through /proc/PID/exe of the berth process that lives in the
// container: the init of --init, PID 1 for the container's whole life.
// Here the test binary is berthd's binary: its shims and inits are it,
// re-executed. The container gets CAP_SYS_PTRACE, which gets past the
// init's non-dumpable flag: only the sealed copy stands in the way.
func TestRuntimeBinaryOutOfReach(t *testing.T) {
	l := newLab(t)
	host, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	before := fileHash(t, host)

	// From the container's own command, and from a docker exec.
	attack := `readlink /proc/1/exe || echo readlink refused
if echo evil >>/proc/1/exe; then echo WROTE through /proc/1/exe; else echo open refused; fi
( exec 4</proc/1/exe && echo opened for reading &&
  if echo evil 2>/dev/null >>/proc/self/fd/4; then echo WROTE through the fd; else echo reopen refused; fi ) 2>/dev/null
echo done`
	for _, capAdd := range []string{"SYS_PTRACE", ""} {
		args := []string{"run", "-d", "--init"}
		if capAdd != "" {
			args = append(args, "--cap-add", capAdd)
		}
		id := strings.TrimSpace(l.ok(append(args, "busybox", "sh", "-c", "{\n"+attack+"\n} 2>&1; sleep 1000")...))
		eventually(t, func() bool { out, _ := l.logs(id); return strings.Contains(out, "done\n") }, "the attack ran")
		fromRun, runErr := l.logs(id)
		fromExec, execErr, code := l.docker("", "exec", id, "sh", "-c", attack)
		require.Equal(t, 0, code, execErr)
		for _, out := range []string{fromRun + runErr, fromExec + execErr} {
			t.Logf("--cap-add %q:\n%s", capAdd, out)
			if capAdd != "" {
				// Past the non-dumpable flag, the link leads to the
				// copy, which is being executed (ETXTBSY), and
				// sealed.
				assert.Contains(t, out, "/memfd:berth (deleted)\n", "PID 1 runs from the sealed copy, not %s", host)
				assert.Contains(t, out, "Text file busy")
				assert.Contains(t, out, "opened for reading\nreopen refused\n")
			} else {
				// A non-dumpable process's exe is out of reach of
				// whoever lacks CAP_SYS_PTRACE: container root.
				assert.Contains(t, out, "readlink refused\n")
				assert.Contains(t, out, "Permission denied")
			}
			assert.NotContains(t, out, host)
			assert.Contains(t, out, "open refused\n")
			assert.NotContains(t, out, "WROTE")
		}
		// The host's view: the init and the shim run from the copy. (The
		// shim may be in the middle of its execve into the monitor,
		// when its /proc/PID/exe is briefly gone.)
		st := l.state(id)
		for _, pid := range []int{st.Pid, st.ShimPid} {
			eventually(t, func() bool {
				exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
				return err == nil && exe == "/memfd:berth (deleted)"
			}, "process %d runs from the sealed copy", pid)
		}
		l.ok("rm", "-f", id)
	}
	assert.Equal(t, before, fileHash(t, host), "the host's binary is unchanged")
}
