package shim

import (
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/07-logs/logs"
)

// S17: with Tty the container's stdin, stdout and stderr are a terminal:
// its size is the one asked for, a resize reaches the shell as SIGWINCH
// (so the terminal is its controlling terminal), typed input arrives
// through the line discipline (which echoes it), and everything the
// container wrote, stderr included, is logged as stdout with the
// terminal's \r\n.
func TestS17_TerminalMode(t *testing.T) {
	labtest.Privileged(t)
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		script := `stty size; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo on-a-tty; echo to-stderr >&2
trap 'stty size; w=1' WINCH
echo ready
while [ -z "$w" ]; do sleep 0.02; done
read line; echo "got $line"`
		c, st := start(t, s, Config{Tty: true, Interactive: true, ConsoleSize: [2]uint16{24, 80}, Command: []string{"/bin/sh", "-c", script}})
		assert.Regexp(t, `^/dev/pts/\d+$`, st.Tty, "the slave's name is recorded for Resize")
		require.Eventually(t, func() bool { return strings.Contains(logText(t, c, logs.Stdout), "ready") }, 5*time.Second, 10*time.Millisecond,
			"log: %q %q", logText(t, c, logs.Stdout), logText(t, c, logs.Stderr))

		require.NoError(t, c.Resize(30, 100))
		require.Eventually(t, func() bool { return strings.Contains(logText(t, c, logs.Stdout), "30 100") }, 5*time.Second, 10*time.Millisecond,
			"SIGWINCH reached the shell: %q", logText(t, c, logs.Stdout))

		f, err := os.OpenFile(filepath.Join(c.Dir(), stdinFifo), os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("hello\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())
		final, err := c.Wait(5 * time.Second)
		require.NoError(t, err)
		assert.Equal(t, 0, final.ExitCode)

		out := logText(t, c, logs.Stdout)
		assert.Equal(t, "24 80\r\non-a-tty\r\nto-stderr\r\nready\r\n30 100\r\nhello\r\ngot hello\r\n", out,
			"size, tty, stderr, the resize, the echo of the input and the answer, all on the terminal")
		assert.Empty(t, logText(t, c, logs.Stderr), "a terminal has no separate stderr")
		assert.ErrorIs(t, c.Resize(10, 10), ErrNotRunning)
	})
}

func TestResizeNeedsATerminal(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	c, _ := start(t, s, Config{Command: []string{"/bin/sleep", "30"}})
	assert.ErrorContains(t, c.Resize(24, 80), "has no terminal")
}

// A command that cannot be executed is a failed start, with init's
// message, which names the reason in the words the docker client looks
// for, and its status; the shim cleans up and the container stays
// created.
func TestACommandThatCannotRunIsAFailedStart(t *testing.T) {
	labtest.Privileged(t)
	for _, tc := range []struct {
		name    string
		image   string
		command []string
		status  int
		words   string
	}{
		{"not found", "", []string{"no-such-command-xyz"}, 127, "executable file not found"},
		{"no such file", "", []string{"/no/such/file"}, 127, "no such file or directory"},
		{"not executable", "", []string{"/etc/passwd"}, 126, "permission denied"},
		{"not found under --init", "with-init", []string{"no-such-command-xyz"}, 127, "executable file not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			monitors(t, func(t *testing.T) {
				s := newStore(t)
				c := create(t, s, Config{Image: tc.image, Command: tc.command})
				_, err := testRuntime.StartContainer(c)
				require.ErrorContains(t, err, tc.words)
				st, err := c.State()
				require.NoError(t, err)
				assert.Equal(t, Created, st.Status)
				assert.Equal(t, tc.status, st.ExitCode)
				assert.Contains(t, st.Error, tc.words)
				assert.False(t, c.Supervised(), "the shim is gone")
				cleanups, err := os.ReadFile(filepath.Join(c.Dir(), "cleanups"))
				require.NoError(t, err)
				assert.Equal(t, strconv.Itoa(tc.status)+"\n", string(cleanups), "cleaned up once")
			})
		})
	}
}

// A command that runs and ends before the shim looks is a run, not a
// failure, whatever its status; and under --init, a command's own output
// read while judging is still logged.
func TestAQuickCommandIsARun(t *testing.T) {
	labtest.Privileged(t)
	for _, tc := range []struct {
		name, image string
		command     []string
		status      int
		stderr      string
	}{
		{"true", "", []string{"/bin/true"}, 0, ""},
		{"exit 127", "", []string{"/bin/sh", "-c", "echo oops >&2; exit 127"}, 127, "oops\n"},
		{"under --init", "with-init", []string{"/bin/sh", "-c", "echo oops >&2; exit 127"}, 127, "oops\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			c := create(t, s, Config{Image: tc.image, Command: tc.command})
			_, err := testRuntime.StartContainer(c)
			require.NoError(t, err)
			st, err := c.Wait(5 * time.Second)
			require.NoError(t, err)
			assert.Equal(t, Exited, st.Status)
			assert.Equal(t, tc.status, st.ExitCode)
			assert.Equal(t, tc.stderr, logText(t, c, logs.Stderr))
		})
	}
}

func TestS28_StopWithTheImagesSignal(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	c, _ := start(t, s, Config{Command: []string{"/bin/sh", "-c", "trap 'exit 7' USR1; echo ready; while :; do sleep 0.02; done"}})
	require.Eventually(t, func() bool { return strings.Contains(logText(t, c, logs.Stdout), "ready") }, 5*time.Second, 10*time.Millisecond)
	begin := time.Now()
	st, err := c.StopWith(unix.SIGUSR1, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 7, st.ExitCode, "the shell's trap for the signal asked for")
	assert.Less(t, time.Since(begin), 5*time.Second, "no escalation was needed")
}

// A container's command starts with every signal at its default action,
// even when the engine was started with some ignored (a daemon started in
// the background by a script ignores SIGINT and SIGQUIT): a shell's trap
// on INT works.
func TestIgnoredSignalsAreNotInherited(t *testing.T) {
	labtest.Privileged(t)
	for _, sig := range []os.Signal{unix.SIGINT, unix.SIGQUIT, unix.SIGHUP} {
		signal.Ignore(sig)
	}
	defer signal.Reset(unix.SIGINT, unix.SIGQUIT, unix.SIGHUP)
	s := newStore(t)
	c, _ := start(t, s, Config{Command: []string{"/bin/sh", "-c", "grep SigIgn /proc/self/status; trap 'echo got INT; exit 4' INT; echo ready; while :; do sleep 0.02; done"}})
	require.Eventually(t, func() bool { return strings.Contains(logText(t, c, logs.Stdout), "ready") }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, c.Signal(unix.SIGINT))
	st, err := c.Wait(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 4, st.ExitCode, "the trap ran")
	assert.Equal(t, "SigIgn:\t0000000000000000\nready\ngot INT\n", logText(t, c, logs.Stdout))
}
