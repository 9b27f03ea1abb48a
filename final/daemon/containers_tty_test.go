package daemon

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/07-logs/shim/ptytest"
)

// S17, S23: docker run -it joins the container's shell to the terminal:
// what is typed reaches the shell, its answers come back, a change of
// the window's size reaches the container, and ctrl-p ctrl-q detaches,
// leaving the container running.
func TestS17_S23_InteractiveShellInATerminal(t *testing.T) {
	l := newLab(t)
	term := ptytest.Open(t)
	term.Resize(24, 80)
	slave := term.Slave
	cmd := exec.Command(dockerBin, "run", "-it", "--name", "shell", "busybox", "sh")
	cmd.Env = append(l.dockerEnv(), "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	slave.Close()
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	pos := term.WaitFor(0, "# ") // the shell's prompt
	term.Type("echo $((6*7))\r")
	pos = term.WaitFor(pos, "42\r\n")
	term.Type("stty size; [ -t 0 ] && echo on-a-terminal\r")
	pos = term.WaitFor(pos, "24 80\r\n")
	pos = term.WaitFor(pos, "on-a-terminal")
	// The terminal is the container's own, from its devpts: found by
	// name inside, as the first one there.
	term.Type("tty; ls /dev/pts\r")
	pos = term.WaitFor(pos, "/dev/pts/0\r\n0")

	// The user's window grows: the client hears SIGWINCH, and resizes
	// the container's terminal.
	require.NoError(t, shim.SetWinsize(term.Master, 33, 101))
	eventually(t, func() bool {
		st := l.state("shell")
		f, err := os.OpenFile(fmt.Sprintf("/proc/%d/root%s", st.Pid, st.Tty), os.O_RDONLY|syscall.O_NOCTTY, 0)
		if err != nil {
			return false
		}
		defer f.Close()
		return ttySize(f) == [2]uint16{33, 101}
	}, "the container's terminal has the new size")
	term.Type("stty size\r")
	pos = term.WaitFor(pos, "33 101\r\n")

	// ^C reaches the shell's foreground job: the terminal is the
	// container's controlling terminal.
	term.Type("sleep 1000; echo after-$((1+1))\r")
	// The shell makes the job the terminal's foreground before it
	// executes sleep: once sleep shows, ^C is the job's.
	eventually(t, func() bool { return strings.Contains(l.ok("top", "shell"), "sleep 1000") }, "sleep runs")
	term.Type("\x03")
	pos = term.WaitFor(pos, "^C")
	pos = term.WaitFor(pos, "# ") // a new prompt: sleep was interrupted, and the rest of the line
	term.Type("echo prompt-$((2+2))\r")
	pos = term.WaitFor(pos, "prompt-4\r\n")
	assert.NotContains(t, term.Text(), "after-2", "^C interrupted the whole line")

	// Detach: ctrl-p ctrl-q. The client exits, the container runs on.
	term.Type("\x10\x11")
	select {
	case <-exited:
		assert.NoError(t, waitErr, "the client exits cleanly after detaching")
	case <-time.After(10 * time.Second):
		t.Fatalf("the client did not detach; the screen shows %q", term.Text())
	}
	assert.True(t, l.inspect("shell").State.Running, "the container runs on after the detach")
	_ = pos

	// And logs has the session, raw.
	out, _ := l.logs("shell")
	assert.Contains(t, out, "42\r\n")
}

func ttySize(f *os.File) [2]uint16 {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return [2]uint16{}
	}
	return [2]uint16{ws.Row, ws.Col}
}

// S23 without a terminal: docker run passes on the signals it gets
// (--sig-proxy), through the API's kill.
func TestS23_SignalsAreProxied(t *testing.T) {
	l := newLab(t)
	cmd := exec.Command(dockerBin, "run", "--name", "trapper", "busybox", "sh", "-c", "trap 'echo got INT; exit 3' INT; echo ready; while :; do sleep 0.05; done")
	cmd.Env = l.dockerEnv()
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	require.NoError(t, cmd.Start())
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(out.String(), "ready") }, "the container runs")
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	kill := time.AfterFunc(15*time.Second, func() { _ = cmd.Process.Kill() }) // not for ever
	err := cmd.Wait()
	kill.Stop()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 3, exitErr.ExitCode(), "the container's status, after its trap ran")
	mu.Lock()
	assert.Equal(t, "ready\ngot INT\n", out.String())
	mu.Unlock()
	assert.Equal(t, container.StateExited, l.inspect("trapper").State.Status)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
