package ociruntime

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/term"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/07-logs/shim"
)

// TestRunInTheForegroundKeepsTheTerminal: `berth-runtime run` of a
// bundle with process.terminal and no --console-socket, typed at a
// shell, as runc does it: the container gets a terminal of its own
// with the window size of ours, what we type reaches it, what it
// prints reaches us. The test's own pseudo-terminal plays the shell's.
func TestRunInTheForegroundKeepsTheTerminal(t *testing.T) {
	e := newEnv(t)
	userMaster, userSlave, err := shim.OpenPTY() // the user's terminal
	require.NoError(t, err)
	defer userMaster.Close()
	require.NoError(t, shim.SetWinsize(userSlave, 40, 100))
	// Raw already, so that what the test types is not echoed by the
	// user's terminal: the only echo is the container's.
	_, err = term.MakeRaw(int(userSlave.Fd()))
	require.NoError(t, err)

	spec := baseSpec(labtest.BusyboxRootfs(t), "sh", "-c", "tty; stty size; read x; echo got $x")
	spec.Process.Terminal = true
	id := labtest.Unique("runtty")
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		st, err := Run(e.root, RunOptions{CreateOptions: CreateOptions{ID: id, Bundle: e.bundle(spec, id),
			Stdio: &namespace.Stdio{In: userSlave, Out: userSlave, Err: userSlave}}})
		done <- result{st, err}
	}()

	// Type only once the shell waits in read: its terminal echoes the
	// line after what it printed, never inside it.
	// The deadlines only end a failed test with what came so far.
	require.NoError(t, userMaster.SetReadDeadline(time.Now().Add(time.Minute)))
	var out bytes.Buffer
	buf := make([]byte, 256)
	for !bytes.HasSuffix(out.Bytes(), []byte("40 100\r\n")) {
		n, err := userMaster.Read(buf)
		require.NoError(t, err, "output so far: %q", out.String())
		out.Write(buf[:n])
	}
	_, err = userMaster.Write([]byte("hello\n"))
	require.NoError(t, err)

	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, 0, r.status)
	// Run has copied all of the container's output before returning:
	// the rest waits in the user's terminal. (Not read to EIO: Run's
	// copy of our input still reads the user's slave, as it reads a
	// shell's stdin until the program exits.) The bytes are there
	// already.
	require.NoError(t, userMaster.SetReadDeadline(time.Now().Add(10*time.Second)))
	for !bytes.HasSuffix(out.Bytes(), []byte("got hello\r\n")) {
		n, err := userMaster.Read(buf)
		require.NoError(t, err, "output so far: %q", out.String())
		out.Write(buf[:n])
	}
	assert.Equal(t, "/dev/pts/0\r\n40 100\r\nhello\r\ngot hello\r\n", out.String())
}

// TestDetachedTerminalNeedsAConsoleSocket: detached, nobody is left to
// copy for, so the master needs --console-socket, as runc says too.
func TestDetachedTerminalNeedsAConsoleSocket(t *testing.T) {
	e := newEnv(t)
	spec := baseSpec(labtest.BusyboxRootfs(t), "true")
	spec.Process.Terminal = true
	id := labtest.Unique("detachtty")
	_, err := Run(e.root, RunOptions{CreateOptions: CreateOptions{ID: id, Bundle: e.bundle(spec, id)}, Detach: true})
	require.ErrorContains(t, err, "needs --console-socket", "run --detach")
	id = labtest.Unique("createtty")
	_, err = Create(e.root, CreateOptions{ID: id, Bundle: e.bundle(spec, id)})
	require.ErrorContains(t, err, "needs --console-socket", "create")
}
